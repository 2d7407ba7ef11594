//! `/grants` (a `director-delegate` or a `medical-officer`): the archive's grants
//! (`GET /v1/archive/grants`), those awaiting the agent's co-signature first, with a sign form
//! (`POST /v1/archive/grants/{grant}/sign`), a revoke form, and the form proposing a grant to
//! an `archive-reader` (`POST /v1/archive/grants`: the first signature). An agent holding
//! both roles says which it signs as: a grant needs both, by two distinct agents.

use axum::extract::Path;
use axum::response::Redirect;
use passerelle_agents::Role;
use passerelle_console::html::{link, table, text, when};
use passerelle_console::{CsrfForm, Page, PageError, Session};
use passerelle_social_service::service::archive_views::{
    GrantList, GrantRequest, GrantView, SignRequest, SignatureView, SignerRole,
};
use serde::Deserialize;

use super::forms::{input, post, select, submit};
use super::{enc, given};

/// The two signing roles.
const SIGNERS: [SignerRole; 2] = [SignerRole::DirectorDelegate, SignerRole::MedicalOfficer];

fn signer_fr(role: SignerRole) -> &'static str {
    match role {
        SignerRole::DirectorDelegate => "directeur ou délégué du directeur",
        SignerRole::MedicalOfficer => "médecin-conseil",
    }
}

fn state_fr(state: &str) -> &'static str {
    match state {
        "awaiting-director-delegate" => "attend la signature du directeur (ou de son délégué)",
        "awaiting-medical-officer" => "attend la signature du médecin-conseil",
        "valid" => "valide",
        "expired" => "expirée",
        "revoked" => "révoquée",
        _ => "autre",
    }
}

/// What the agent may sign as: the roles it holds of the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Signing {
    pub director: bool,
    pub medical: bool,
}

impl Signing {
    fn holds(self, role: SignerRole) -> bool {
        match role {
            SignerRole::DirectorDelegate => self.director,
            SignerRole::MedicalOfficer => self.medical,
        }
    }

    /// The `as` select when the agent holds both roles; nothing otherwise.
    fn as_field(self, id: &str) -> String {
        if !(self.director && self.medical) {
            return String::new();
        }
        let options: Vec<(String, String)> =
            SIGNERS.iter().map(|r| (r.as_str().to_owned(), signer_fr(*r).to_owned())).collect();
        select(id, "as", "Signer en tant que", &options, None, None)
    }
}

pub(super) async fn page(session: Session) -> Result<Page, PageError> {
    let list: GrantList = session.get("/v1/archive/grants").await?;
    let signing = Signing {
        director: session.has_any(&[Role::DirectorDelegate]),
        medical: session.has_any(&[Role::MedicalOfficer]),
    };
    Ok(session.page("Habilitations", &render(&list, signing, &session.csrf_field())))
}

fn signature(s: &Option<SignatureView>) -> String {
    match s {
        Some(s) => format!("{} le {}", text(&s.agent), when(&s.signed_at)),
        None => "—".to_owned(),
    }
}

/// The grants awaiting the agent, then every grant, then the proposal form.
pub(super) fn render(list: &GrantList, signing: Signing, csrf: &str) -> String {
    let awaiting =
        |g: &GrantView| SIGNERS.iter().any(|r| signing.holds(*r) && g.state == format!("awaiting-{}", r.as_str()));
    let to_sign: Vec<Vec<String>> = list
        .grants
        .iter()
        .filter(|g| awaiting(g))
        .map(|g| {
            let form = post(
                &format!("/grants/{}/sign", enc(&g.grant)),
                "inline",
                csrf,
                &format!("{}{}", signing.as_field(&format!("sign-as-{}", g.grant)), submit("Cosigner", false)),
            );
            vec![text(&g.reader), when(&g.until), signature(&g.director_delegate), signature(&g.medical_officer), form]
        })
        .collect();
    let mut out = String::from("<h2>À cosigner</h2>");
    out.push_str(&table(
        "Habilitations qui attendent votre signature",
        &["Lecteur", "Valable jusqu'au", "Directeur (délégué)", "Médecin-conseil", "Signer"],
        &to_sign,
        "Aucune habilitation n'attend votre signature.",
    ));
    let all: Vec<Vec<String>> = list
        .grants
        .iter()
        .map(|g| {
            let revoke =
                if matches!(g.state.as_str(), "valid" | "awaiting-director-delegate" | "awaiting-medical-officer") {
                    post(
                        &format!("/grants/{}/revoke", enc(&g.grant)),
                        "inline",
                        csrf,
                        &format!("{}{}", signing.as_field(&format!("revoke-as-{}", g.grant)), submit("Révoquer", true)),
                    )
                } else {
                    g.revoked_by.as_deref().map(|by| format!("par {}", text(by))).unwrap_or_default()
                };
            vec![
                text(&g.grant),
                text(&g.reader),
                text(state_fr(&g.state)),
                when(&g.created_at),
                when(&g.until),
                signature(&g.director_delegate),
                signature(&g.medical_officer),
                revoke,
            ]
        })
        .collect();
    out.push_str("<h2>Toutes les habilitations</h2>");
    out.push_str(&table(
        "Habilitations à lire les archives",
        &[
            "Habilitation",
            "Lecteur",
            "État",
            "Proposée le",
            "Valable jusqu'au",
            "Directeur (délégué)",
            "Médecin-conseil",
            "Révocation",
        ],
        &all,
        "Aucune habilitation.",
    ));
    let inner = format!(
        "{}{}{}{}",
        input("text", "grant-reader", "reader", "Lecteur des archives (identifiant d'agent)", "", true),
        input(
            "date",
            "grant-until",
            "until",
            "Dernier jour de validité (12 mois au plus ; 12 mois si vide)",
            "",
            false
        ),
        signing.as_field("grant-as"),
        submit("Proposer et signer", false)
    );
    out.push_str(&format!(
        "<h2>Proposer une habilitation</h2><p class=\"lead\">Votre signature est la première ; l'habilitation vaut une fois cosignée par l'autre signataire ({} ou {}).</p>{}",
        text(signer_fr(SignerRole::DirectorDelegate)),
        text(signer_fr(SignerRole::MedicalOfficer)),
        post("/grants", "stack", csrf, &inner)
    ));
    out.push_str(&format!(
        "<p class=\"muted\">Les lectures se font depuis la page {}.</p>",
        link("/archive", "Archives")
    ));
    out
}

/// `as`, when given.
fn as_role(text: Option<String>) -> Result<Option<SignerRole>, PageError> {
    match given(text) {
        None => Ok(None),
        Some(name) => SIGNERS
            .into_iter()
            .find(|r| r.as_str() == name)
            .map(Some)
            .ok_or_else(|| PageError::bad_request("Signer en tant que : directeur (délégué) ou médecin-conseil.")),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ProposeForm {
    reader: String,
    until: Option<String>,
    #[serde(rename = "as")]
    as_role: Option<String>,
}

pub(super) async fn propose(session: Session, CsrfForm(form): CsrfForm<ProposeForm>) -> Result<Redirect, PageError> {
    let request = GrantRequest {
        reader: form.reader.trim().to_owned(),
        until: given(form.until),
        as_role: as_role(form.as_role)?,
    };
    let _: GrantView = session.post("/v1/archive/grants", &request).await?;
    Ok(Redirect::to("/grants"))
}

#[derive(Debug, Deserialize)]
pub(super) struct SignForm {
    #[serde(rename = "as")]
    as_role: Option<String>,
}

pub(super) async fn sign(
    session: Session,
    Path(grant): Path<String>,
    CsrfForm(form): CsrfForm<SignForm>,
) -> Result<Redirect, PageError> {
    let request = SignRequest { as_role: as_role(form.as_role)? };
    let _: GrantView = session.post(&format!("/v1/archive/grants/{}/sign", enc(&grant)), &request).await?;
    Ok(Redirect::to("/grants"))
}

pub(super) async fn revoke(
    session: Session,
    Path(grant): Path<String>,
    CsrfForm(form): CsrfForm<SignForm>,
) -> Result<Redirect, PageError> {
    let request = SignRequest { as_role: as_role(form.as_role)? };
    let _: GrantView = session.post(&format!("/v1/archive/grants/{}/revoke", enc(&grant)), &request).await?;
    Ok(Redirect::to("/grants"))
}
