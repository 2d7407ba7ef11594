//! The forms of a file's page (`/files/{file}/…`), each mapped to its API request and
//! answered with a redirect to the file (or to the transfers once one is sent): a field's
//! update, an action, a contact, an offer, the close, a transfer.

use axum::extract::Path;
use axum::response::Redirect;
use passerelle_console::{CsrfForm, PageError, Session};
use passerelle_social_file::field;
use passerelle_social_service::service::transfer_views::{SendTransfer, TransferView};
use passerelle_social_service::service::views::{
    ActionRequest, Changed, CloseRequest, ContactRequest, FieldUpdate, OfferRequest, SessionView, UpdateRequest,
};
use serde::Deserialize;

use super::edit::value_of;
use super::{enc, given};

fn back(file: &str) -> Redirect {
    Redirect::to(&format!("/files/{}", enc(file)))
}

/// The update a field's form asks: `field`, its `value` entries (several for a list of codes),
/// `clear`.
pub(super) fn update_request(pairs: &[(String, String)]) -> Result<UpdateRequest, PageError> {
    let named = |name: &'static str| pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str());
    let path = named("field").next().unwrap_or("");
    let info = field(path).ok_or_else(|| PageError::bad_request("Ce champ n'est pas une donnée de la norme 43."))?;
    let values: Vec<&str> = named("value").collect();
    let value = value_of(info, &values, named("clear").next().is_some())?;
    Ok(UpdateRequest { updates: vec![FieldUpdate { field: info.path.to_owned(), value }] })
}

pub(super) async fn update(
    session: Session,
    Path(file): Path<String>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Redirect, PageError> {
    let request = update_request(&pairs)?;
    let _: Changed = session.post(&format!("/v1/files/{}/update", enc(&file)), &request).await?;
    Ok(back(&file))
}

#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    purpose: Option<String>,
    start: Option<String>,
}

pub(super) async fn action(
    session: Session,
    Path(file): Path<String>,
    CsrfForm(form): CsrfForm<ActionForm>,
) -> Result<Redirect, PageError> {
    let request = ActionRequest { purpose: given(form.purpose), start: given(form.start) };
    let _: Changed = session.post(&format!("/v1/files/{}/actions", enc(&file)), &request).await?;
    Ok(back(&file))
}

#[derive(Debug, Deserialize)]
pub(super) struct ContactForm {
    channel: String,
    date: Option<String>,
}

pub(super) async fn contact(
    session: Session,
    Path(file): Path<String>,
    CsrfForm(form): CsrfForm<ContactForm>,
) -> Result<Redirect, PageError> {
    let request = ContactRequest { channel: form.channel, date: given(form.date) };
    let _: Changed = session.post(&format!("/v1/files/{}/contacts", enc(&file)), &request).await?;
    Ok(back(&file))
}

#[derive(Debug, Deserialize)]
pub(super) struct OfferForm {
    kind: String,
    theme: String,
    /// The other participants' files, one a line (a collective offer).
    others: Option<String>,
    /// A session's day (a collective offer).
    session: Option<String>,
    /// `yes`: the file's person attended that session.
    attended: Option<String>,
}

/// The offer of `form` for `file` (and the other files it names).
pub(super) fn offer_request(file: &str, form: OfferForm) -> OfferRequest {
    let mut participants = vec![file.to_owned()];
    for other in form.others.as_deref().unwrap_or("").lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !participants.iter().any(|p| p == other) {
            participants.push(other.to_owned());
        }
    }
    let sessions = match given(form.session) {
        Some(date) => {
            let attendees = if form.attended.is_some() { vec![file.to_owned()] } else { Vec::new() };
            vec![SessionView { date: Some(date), attendees }]
        }
        None => Vec::new(),
    };
    OfferRequest { kind: form.kind, theme: form.theme, participants, sessions }
}

pub(super) async fn offer(
    session: Session,
    Path(file): Path<String>,
    CsrfForm(form): CsrfForm<OfferForm>,
) -> Result<Redirect, PageError> {
    let _: Changed = session.post("/v1/offers", &offer_request(&file, form)).await?;
    Ok(back(&file))
}

#[derive(Debug, Deserialize)]
pub(super) struct CloseForm {
    date: Option<String>,
}

pub(super) async fn close(
    session: Session,
    Path(file): Path<String>,
    CsrfForm(form): CsrfForm<CloseForm>,
) -> Result<Redirect, PageError> {
    let request = CloseRequest { date: given(form.date) };
    let _: Changed = session.post(&format!("/v1/files/{}/close", enc(&file)), &request).await?;
    Ok(back(&file))
}

#[derive(Debug, Deserialize)]
pub(super) struct TransferForm {
    to: String,
    release_assessment: Option<String>,
}

pub(super) async fn transfer(
    session: Session,
    Path(file): Path<String>,
    CsrfForm(form): CsrfForm<TransferForm>,
) -> Result<Redirect, PageError> {
    let request =
        SendTransfer { file, to: form.to.trim().to_owned(), release_assessment: form.release_assessment.is_some() };
    let _: TransferView = session.post("/v1/transfers", &request).await?;
    Ok(Redirect::to("/transfers"))
}
