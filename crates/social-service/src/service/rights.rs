//! The persons' rights at the social service (norm 43), exercised by a `rights-officer` with the
//! director of the attached body: access (everything held, as JSON and a printable page),
//! rectification (recorded in the history as such), objection under art. 38 (with the person's
//! reasons, pending the director's decision) and the plain refusal of the archive. An
//! objection and a refusal are recorded on a live or an archived file; what they do to the
//! file is [`super::opposition`]'s and [`super::retention`]'s.

use passerelle_access_log::AccessKind;
use passerelle_protocol::untrusted::has_nir_run;
use passerelle_social_file::file_json;

use super::opposition::Held;
use super::views::*;
use super::{Result, SocialService, SocialServiceError, MAX_REASONS_CHARS};
use crate::store::{rfc3339, RightKind};

fn now_text(service: &SocialService) -> String {
    rfc3339(passerelle_sqlite::time::to_ms(service.now()))
}

impl SocialService {
    /// Everything held about the file's person: the file by catalogue path, its actions and
    /// contacts, its offers, its history (field, agent, date — no value) and its rights
    /// requests. Recorded as an export (access log) and an `access` request (store).
    pub fn rights_access(&self, agent: &str, id: &str) -> Result<AccessAnswer> {
        let row = self.file_row(id)?;
        self.record(&[self.entry(agent, AccessKind::Export, &row.id, Some(&row.file))])?;
        self.store().record_right(&row.id, RightKind::Access, self.now(), agent, None)?;
        let history = self.store().history(&row.id)?;
        let rights = self.store().rights(&row.id)?;
        let fields = file_json(&row.file);
        let view = self.view(row)?;
        let offers = view.offers.into_iter().map(|o| o.for_person(&view.file)).collect();
        Ok(AccessAnswer {
            format: RIGHTS_ACCESS_FORMAT.to_owned(),
            produced_at: now_text(self),
            body: self.settings().body.clone(),
            office: view.office,
            file: view.file,
            state: view.state,
            opened_at: view.opened_at,
            last_activity_at: view.last_activity_at,
            source: view.source,
            fields,
            actions: view.actions,
            offers,
            history,
            rights,
            time_zone: self.settings().trails.time_zone,
        })
    }

    /// A rectification: the new values replace the old (the history records the field with
    /// kind `rectification`, never a value), and the request is recorded.
    pub fn rights_rectify(&self, agent: &str, id: &str, updates: &[FieldUpdate]) -> Result<Changed> {
        let changed = self.change(agent, id, updates, "rectification")?;
        self.store().record_right(&changed.file, RightKind::Rectify, self.now(), agent, None)?;
        Ok(changed)
    }

    /// An objection under art. 38 with the person's reasons, pending the director's decision
    /// (on a live file of the office, or an archived file).
    pub fn rights_object(&self, agent: &str, id: &str, reasons: &str) -> Result<RightView> {
        if reasons.trim().is_empty() {
            return Err(SocialServiceError::Refused(
                "an objection under art. 38 states the person's legitimate reasons: give them with --reason".into(),
            ));
        }
        let reasons = checked_reasons(reasons, "the reasons", "--reason")?;
        self.right(agent, id, RightKind::Object, Some(reasons))
    }

    /// The plain refusal of the archive (no decision needed): recorded on a live file (the
    /// retention pass erases it instead of archiving it); a file already archived is erased
    /// from the archive at once.
    pub fn rights_refuse_archive(&self, agent: &str, id: &str) -> Result<RightView> {
        let (held, row) = self.held(id)?;
        if row.is_none() && held == Held::Archive {
            let at = self.now();
            self.erase_archived(agent, id)?;
            return Ok(RightView {
                format: RIGHT_FORMAT.to_owned(),
                file: id.to_owned(),
                kind: RightKind::RefuseArchive,
                at: rfc3339(passerelle_sqlite::time::to_ms(at)),
                decision: None,
            });
        }
        self.right(agent, id, RightKind::RefuseArchive, None)
    }

    fn right(&self, agent: &str, id: &str, kind: RightKind, reasons: Option<&str>) -> Result<RightView> {
        let (_, row) = self.held(id)?;
        // An archived file is recorded by its id (no content read: the archive is not opened for it).
        let id = row.as_ref().map(|r| r.id.clone()).unwrap_or_else(|| id.to_owned());
        self.record(&[self.entry(agent, AccessKind::Update, &id, row.as_ref().map(|r| &r.file))])?;
        let at = self.now();
        self.store().record_right(&id, kind, at, agent, reasons)?;
        Ok(RightView {
            format: RIGHT_FORMAT.to_owned(),
            file: id,
            kind,
            at: rfc3339(passerelle_sqlite::time::to_ms(at)),
            decision: (kind == RightKind::Object).then(|| "pending".to_owned()),
        })
    }
}

/// Reasons a person or the director wrote, trimmed: refused (naming `what` and the `flag`) when
/// empty, longer than [`MAX_REASONS_CHARS`], or holding what looks like a NIR or control
/// characters.
pub(crate) fn checked_reasons<'a>(text: &'a str, what: &str, flag: &str) -> Result<&'a str> {
    let text = text.trim();
    if text.is_empty() {
        return Err(SocialServiceError::Refused(format!("{what} must be given: write them with {flag}")));
    }
    if text.chars().count() > MAX_REASONS_CHARS {
        return Err(SocialServiceError::Refused(format!(
            "{what} are longer than {MAX_REASONS_CHARS} characters: summarise them (the letter stays in the paper file)"
        )));
    }
    if has_nir_run(text) || text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(SocialServiceError::Refused(format!(
            "{what} hold what looks like a NIR or control characters: write them without"
        )));
    }
    Ok(text)
}
