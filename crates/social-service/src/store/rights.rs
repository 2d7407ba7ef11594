//! The persons' rights exercised at the social service (norm 43, with the director of the
//! attached body): each request recorded with its kind, date and agent; an art. 38 objection
//! with the person's reasons, pending the director's decision (`store::retention` records it).
//! What each does to the file is `service::opposition`'s and `service::retention`'s.

use std::time::SystemTime;

use passerelle_sqlite::params;

use super::{ms, rfc3339, Store, StoreError};

/// The kinds of request a rights officer records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RightKind {
    /// Everything held about the person, given to them.
    Access,
    /// A value corrected (the history records the field, kind `rectification`).
    Rectify,
    /// An objection under art. 38 of the 1978 law, with reasons: the director decides.
    Object,
    /// The plain refusal of the archive: no decision needed.
    RefuseArchive,
}

impl RightKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RightKind::Access => "access",
            RightKind::Rectify => "rectify",
            RightKind::Object => "object",
            RightKind::RefuseArchive => "refuse_archive",
        }
    }

    fn parse(text: &str) -> RightKind {
        match text {
            "rectify" => RightKind::Rectify,
            "object" => RightKind::Object,
            "refuse_archive" => RightKind::RefuseArchive,
            _ => RightKind::Access,
        }
    }
}

/// One rights request as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RightRecord {
    pub kind: RightKind,
    /// RFC 3339.
    pub at: String,
    pub agent: String,
    /// The person's reasons (an objection only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasons: Option<String>,
    /// `pending` for an objection until the director decides, then `upheld` or `refused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// The director-delegate who decided, and when (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// Why an objection was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
}

impl Store {
    /// Records a rights request on a file.
    pub fn record_right(
        &self,
        file: &str,
        kind: RightKind,
        at: SystemTime,
        agent: &str,
        reasons: Option<&str>,
    ) -> Result<(), StoreError> {
        let decision = (kind == RightKind::Object).then_some("pending");
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO rights_records (file, kind, at, agent, reasons, decision) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![file, kind.as_str(), ms(at), agent, reasons, decision],
            )?;
            Ok(())
        })
    }

    /// A file's rights requests, oldest first.
    pub fn rights(&self, file: &str) -> Result<Vec<RightRecord>, StoreError> {
        self.db.read(|tx| {
            Ok(tx.query_all(
                "SELECT kind, at, agent, reasons, decision, decided_by, decided_at, decision_reason FROM rights_records \
                 WHERE file = ?1 ORDER BY at, rowid",
                params![file],
                |r| {
                    Ok(RightRecord {
                        kind: RightKind::parse(&r.get::<_, String>(0)?),
                        at: rfc3339(r.get(1)?),
                        agent: r.get(2)?,
                        reasons: r.get(3)?,
                        decision: r.get(4)?,
                        decided_by: r.get(5)?,
                        decided_at: r.get::<_, Option<i64>>(6)?.map(rfc3339),
                        decision_reason: r.get(7)?,
                    })
                },
            )?)
        })
    }
}
