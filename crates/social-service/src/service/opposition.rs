//! The two kinds of opposition (norm 43; DESIGN §7.2), on a live or an archived file:
//!
//! - the plain **refusal of the archive** needs no decision: on a live file it is recorded and
//!   the retention pass erases the file at the end of its live period instead of archiving it
//!   ([`super::retention`]); on a file already archived the file is erased from the archive at
//!   once ([`SocialService::rights_refuse_archive`]);
//! - an **objection under art. 38** is decided by the director (`director-delegate`,
//!   [`SocialService::rights_decide`]): upheld, the open action closes today, the file is
//!   erased at once (live store or archive) and the person's keyed hash goes to
//!   `opposed_persons` — no NIR, the one trace left — so that no new offer is made to them;
//!   refused, the reason is recorded (bounded, no NIR).

use passerelle_access_log::AccessKind;
use serde::{Deserialize, Serialize};

use super::{shown_id, Result, SocialService, SocialServiceError};
use crate::store::{rfc3339, Decision};

/// `POST /v1/files/{file}/rights/decide`'s answer.
pub const DECISION_FORMAT: &str = "passerelle.social-service-decision/1";

/// The refusal a worker meets when the person's objection was upheld.
pub const OPPOSED: &str =
    "the person's objection under art. 38 was upheld: the social service makes them no new offer \
                           and opens no file for them";

/// The director's decision on a file's pending objection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    pub decision: Decision,
    /// Why the objection is refused (required then; bounded, no NIR). None when upheld.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Where the file was when the decision was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Held {
    Live,
    Archive,
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionView {
    pub format: String,
    pub file: String,
    pub decision: Decision,
    /// RFC 3339.
    pub at: String,
    pub held: Held,
    /// Whether the file was erased (an upheld objection).
    pub erased: bool,
}

impl SocialService {
    /// Where a file a right is exercised on is: live (and of this office), or archived; else
    /// [`SocialServiceError::NoFile`].
    pub(crate) fn held(&self, id: &str) -> Result<(Held, Option<crate::store::FileRow>)> {
        match self.store().file(id)? {
            Some(row) => Ok((Held::Live, Some(self.office_row(id, Some(row))?))),
            None if self.archive().contains(id).map_err(SocialServiceError::Archive)? => Ok((Held::Archive, None)),
            None => Err(SocialServiceError::NoFile(shown_id(id))),
        }
    }

    /// Erases an archived file at once (a refusal of the archive, an upheld objection) and the
    /// rights records kept for it here, `agent`'s `delete` entry written first; the person's
    /// hash, if the archive held the file.
    pub(crate) fn erase_archived(&self, agent: &str, id: &str) -> Result<Option<[u8; 32]>> {
        self.record(&[self.entry(agent, AccessKind::Delete, id, None)])?;
        let person = self.archive().erase(id).map_err(SocialServiceError::Archive)?;
        if self.store().erase_rights(id)? {
            self.store().scrub()?;
        }
        tracing::info!(file = %id, "archived file erased at once (opposition)");
        Ok(person)
    }

    /// The director's decision on the file's pending objection (see the module doc).
    pub fn rights_decide(&self, agent: &str, id: &str, request: &DecideRequest) -> Result<DecisionView> {
        let (held, row) = self.held(id)?;
        let id = row.as_ref().map(|r| r.id.clone()).unwrap_or_else(|| id.to_owned());
        if !self.store().pending_objection(&id)? {
            return Err(SocialServiceError::Refused(format!(
                "case file {id} has no objection pending: record the person's objection first (`social-service rights object`)"
            )));
        }
        let now = self.now();
        let view = |erased| DecisionView {
            format: DECISION_FORMAT.to_owned(),
            file: id.clone(),
            decision: request.decision,
            at: rfc3339(passerelle_sqlite::time::to_ms(now)),
            held,
            erased,
        };
        match request.decision {
            Decision::Refused => {
                let reason = request.reason.as_deref().unwrap_or_default();
                let reason = super::rights::checked_reasons(reason, "the refusal's reasons", "--reason")?;
                self.record(&[self.entry(agent, AccessKind::Update, &id, row.as_ref().map(|r| &r.file))])?;
                self.store().decide(&id, Decision::Refused, agent, now, Some(reason))?;
                Ok(view(false))
            }
            Decision::Upheld if request.reason.as_deref().is_some_and(|r| !r.trim().is_empty()) => {
                Err(SocialServiceError::Refused(
                    "an upheld objection takes no reason: the person's reasons are the objection's".into(),
                ))
            }
            Decision::Upheld => {
                match row {
                    Some(row) => {
                        // Art. 40: the receiving body of a transfer erases its copy too; sent on
                        // before the local erasure, which takes the file's transfer rows.
                        self.send_on_objection(&row.id)?;
                        // A copy a retention pass admitted before it stopped (a crash): out of the
                        // archive first, while the live file still holds the pending objection.
                        if self.archive().contains(&row.id).map_err(SocialServiceError::Archive)? {
                            self.record(&[self.entry(agent, AccessKind::Delete, &row.id, None)])?;
                            self.archive().erase(&row.id).map_err(SocialServiceError::Archive)?;
                        }
                        let today = Self::date_text(&self.today());
                        self.record(&[self.entry(agent, AccessKind::Update, &row.id, Some(&row.file))])?;
                        self.store().close_file(&row.id, &today, now)?;
                        let entry = self.entry(agent, AccessKind::Delete, &row.id, Some(&row.file));
                        self.store()
                            .erase_files(std::slice::from_ref(&row.id), Some(now), |_| self.record(&[entry]))?;
                        self.store().scrub()?;
                        tracing::info!(file = %row.id, "objection upheld: case file erased");
                    }
                    None => {
                        // The person is opposed before the file goes: a crash between the two
                        // leaves the objection pending on an archived file, decided again.
                        if let Some(person) = self.archive().person_of(&id).map_err(SocialServiceError::Archive)? {
                            self.store().oppose(&person, now)?;
                        }
                        self.erase_archived(agent, &id)?;
                    }
                }
                Ok(view(true))
            }
        }
    }
}
