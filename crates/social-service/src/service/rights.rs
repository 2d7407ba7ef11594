//! The persons' rights at the social service (norm 43), exercised by a `rights-officer` with the
//! director of the attached body: access (everything held, as JSON and a printable page),
//! rectification (recorded in the history as such), objection under art. 38 (with the person's
//! reasons, pending the director's decision) and the plain refusal of the archive. What an
//! objection and a refusal do to the file is the next issue's: here they are recorded.

use passerelle_access_log::AccessKind;
use passerelle_protocol::untrusted::has_nir_run;
use passerelle_social_file::file_json;

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

    /// An objection under art. 38 with the person's reasons, pending the director's decision.
    pub fn rights_object(&self, agent: &str, id: &str, reasons: &str) -> Result<RightView> {
        let reasons = reasons.trim();
        if reasons.is_empty() {
            return Err(SocialServiceError::Refused(
                "an objection under art. 38 states the person's legitimate reasons: give them with --reason".into(),
            ));
        }
        if reasons.chars().count() > MAX_REASONS_CHARS {
            return Err(SocialServiceError::Refused(format!(
                "the reasons are longer than {MAX_REASONS_CHARS} characters: summarise them (the letter stays in the paper file)"
            )));
        }
        if has_nir_run(reasons) || reasons.chars().any(|c| c.is_control() && c != '\n') {
            return Err(SocialServiceError::Refused(
                "the reasons hold what looks like a NIR or control characters: write them without".into(),
            ));
        }
        self.right(agent, id, RightKind::Object, Some(reasons))
    }

    /// The plain refusal of the archive (no decision needed).
    pub fn rights_refuse_archive(&self, agent: &str, id: &str) -> Result<RightView> {
        self.right(agent, id, RightKind::RefuseArchive, None)
    }

    fn right(&self, agent: &str, id: &str, kind: RightKind, reasons: Option<&str>) -> Result<RightView> {
        let row = self.file_row(id)?;
        self.record(&[self.entry(agent, AccessKind::Update, &row.id, Some(&row.file))])?;
        let at = self.now();
        self.store().record_right(&row.id, kind, at, agent, reasons)?;
        Ok(RightView {
            format: RIGHT_FORMAT.to_owned(),
            file: row.id,
            kind,
            at: rfc3339(passerelle_sqlite::time::to_ms(at)),
            decision: (kind == RightKind::Object).then(|| "pending".to_owned()),
        })
    }
}
