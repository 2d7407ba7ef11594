//! The audit trail (art. 2, 8°): append-only, one entry per action, each chained to the one
//! before by SHA-256.
//!
//! - **Who and what**: every entry names the action, the case (if any), who did it (the body as
//!   the broker validated it, the observatory itself for timed actions, the operator for a CLI
//!   command) and a JSON detail of ids and counts. Never a NIR: [`Tx::audit_append`] refuses a
//!   text in which a valid NIR appears, so the trail stays verifiable and keepable after every
//!   payload is purged.
//! - **One chain per calendar year**: entry `(year, seq)` with `seq` from 1; the first entry of a
//!   year carries the last hash of the previous year present, so a whole old year can go
//!   ([`Tx::audit_delete_year`], from year + 5) and what remains still verifies.
//! - **Tamper evidence**: [`Tx::audit_verify`] recomputes every hash and link and names the
//!   first entry altered, deleted or moved. A head row (the last entry's year, seq and hash),
//!   written in the same transaction as each entry, also catches the deletion of the newest
//!   entries. Updates are refused by a trigger; someone who bypasses it is caught by the hashes.

use std::time::SystemTime;

use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::{contains_nir, from_ms, to_ms, year_of, Result, StoreError, Tx};

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS audit (
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    action TEXT NOT NULL,
    case_id TEXT,
    actor TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (year, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_by_case ON audit(case_id);
CREATE TRIGGER IF NOT EXISTS audit_is_append_only BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
"#;

/// The link of the very first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// A request chunk was received (accepted and refused person counts).
    RequestReceived,
    /// A refusal (whole case or persons) was sent back.
    Refusal,
    /// Solicitations were sent to a body.
    SolicitationSent,
    /// Outstanding solicitation chunks were sent again, halfway to the deadline.
    Reminder,
    /// A response chunk was merged.
    ResponseReceived,
    /// A response arrived after the deadline: acknowledged and dropped.
    LateResponse,
    /// A body sent something it was not asked (dropped on receipt), left persons of a chunk out
    /// of its response (`MISSING`), or sent fields unknown at its own schema minor.
    Violation,
    /// The result was built and queued for the requester.
    ResultReturned,
    /// The requester acknowledged the result.
    Receipt,
    /// A case's payloads were purged.
    Purge,
    /// A message was refused for good (dead-lettered with a reason).
    DeadLetter,
    /// A message could not be published before its case's cap and was dropped.
    Expired,
    /// A command-line tool read case or statistics data. Written by releases before the access
    /// log: an agent's reads are now entries of the daemon's access log (kind `read`), and
    /// `verify` writes nothing to the trail it checks. Kept so that older trails still read.
    CliRead,
    /// Retention: statistics rows older than the cap were deleted.
    StatisticsPurge,
    /// Retention: audit years older than the policy were deleted.
    AuditRetention,
    /// The daemon started (settings summary, no personal data).
    Started,
    /// A body told the observatory it refused one of its messages (a notice: ids and a reason).
    NoticeReceived,
    /// The agent registry was reloaded and changed: one entry per account, its line before and
    /// after.
    RegistryChanged,
    /// The local API refused a call: an account that is no agent, or an agent without the role.
    /// Written by releases before the access log, where refusals now go (kind `refused`).
    AccessRefused,
    /// The observatory answered a rights request (decree art. 6) as a party asked: the request
    /// id, its kind, the asking observatory and counts — never a NIR or a value.
    RightsAnswered,
    /// The rights desk recorded a party's answer after the request's deadline (request id, party).
    RightsLateAnswer,
    /// A second valid response to a chunk already answered: dropped (ids and counts only).
    DuplicateResponse,
}

impl Action {
    pub const ALL: [Action; 22] = [
        Action::RequestReceived,
        Action::Refusal,
        Action::SolicitationSent,
        Action::Reminder,
        Action::ResponseReceived,
        Action::LateResponse,
        Action::Violation,
        Action::ResultReturned,
        Action::Receipt,
        Action::Purge,
        Action::DeadLetter,
        Action::Expired,
        Action::CliRead,
        Action::StatisticsPurge,
        Action::AuditRetention,
        Action::Started,
        Action::NoticeReceived,
        Action::RegistryChanged,
        Action::AccessRefused,
        Action::RightsAnswered,
        Action::RightsLateAnswer,
        Action::DuplicateResponse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::RequestReceived => "request_received",
            Action::Refusal => "refusal",
            Action::SolicitationSent => "solicitation_sent",
            Action::Reminder => "reminder",
            Action::ResponseReceived => "response_received",
            Action::LateResponse => "late_response",
            Action::Violation => "violation",
            Action::ResultReturned => "result_returned",
            Action::Receipt => "receipt",
            Action::Purge => "purge",
            Action::DeadLetter => "dead_letter",
            Action::Expired => "expired",
            Action::CliRead => "cli_read",
            Action::StatisticsPurge => "statistics_purge",
            Action::AuditRetention => "audit_retention",
            Action::Started => "started",
            Action::NoticeReceived => "notice_received",
            Action::RegistryChanged => "registry_changed",
            Action::AccessRefused => "access_refused",
            Action::RightsAnswered => "rights_answered",
            Action::RightsLateAnswer => "rights_late_answer",
            Action::DuplicateResponse => "duplicate_response",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// An entry to append.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: SystemTime,
    pub action: Action,
    pub case_id: Option<String>,
    /// Who: `body:cnaf user:cnaf-prod`, `observatory:carsat-sud-est`, `agent:jdupont`…
    pub actor: String,
    /// Ids and counts, as a JSON object. Never personal data.
    pub detail: serde_json::Value,
}

impl AuditEntry {
    pub fn new(at: SystemTime, action: Action, case_id: Option<&str>, actor: &str, detail: serde_json::Value) -> Self {
        AuditEntry { at, action, case_id: case_id.map(str::to_owned), actor: actor.to_owned(), detail }
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    pub year: i32,
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub action: String,
    pub case_id: Option<String>,
    pub actor: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    /// `2026#17`: how reports name an entry.
    pub fn name(&self) -> String {
        format!("{}#{}", self.year, self.seq)
    }

    pub fn at(&self) -> SystemTime {
        from_ms(self.at_ms)
    }

    /// The hash this entry's content gives (with its stored link and position).
    pub fn computed_hash(&self) -> String {
        entry_hash(
            self.year,
            self.seq,
            self.at_ms,
            &self.action,
            self.case_id.as_deref(),
            &self.actor,
            &self.detail,
            &self.prev_hash,
        )
    }
}

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verification {
    /// Entries checked.
    pub entries: u64,
    /// The years present, oldest first.
    pub years: Vec<i32>,
    /// The first problem, if any.
    pub broken: Option<Broken>,
}

/// The first entry at which the chain breaks, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Broken {
    /// The entry named, `2026#17`.
    pub entry: String,
    pub reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "entry {}: {}", self.entry, self.reason)
    }
}

/// SHA-256 over every field, each length-prefixed so no two entries serialise alike.
#[allow(clippy::too_many_arguments)]
fn entry_hash(
    year: i32,
    seq: i64,
    at_ms: i64,
    action: &str,
    case_id: Option<&str>,
    actor: &str,
    detail: &str,
    prev_hash: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(b"passerelle-audit-v1");
    for field in [
        year.to_string().as_str(),
        seq.to_string().as_str(),
        at_ms.to_string().as_str(),
        action,
        case_id.unwrap_or("\u{0}none"),
        actor,
        detail,
        prev_hash,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

fn record_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        year: r.get(0)?,
        seq: r.get(1)?,
        at_ms: r.get(2)?,
        action: r.get(3)?,
        case_id: r.get(4)?,
        actor: r.get(5)?,
        detail: r.get(6)?,
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
    })
}

const COLUMNS: &str = "year, seq, at, action, case_id, actor, detail, prev_hash, hash";

impl Tx<'_> {
    /// Appends an entry at the end of its year's chain and returns it.
    pub fn audit_append(&self, e: &AuditEntry) -> Result<AuditRecord> {
        let detail = e.detail.to_string();
        if contains_nir(&detail) || contains_nir(&e.actor) || e.case_id.as_deref().is_some_and(contains_nir) {
            return Err(StoreError::PersonalData("the audit trail"));
        }
        let latest: Option<(i32, i64, String)> = self
            .tx
            .prepare_cached("SELECT year, seq, hash FROM audit ORDER BY year DESC, seq DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        // A clock stepping back over New Year never reopens a closed year.
        let year = latest.as_ref().map_or(year_of(e.at), |(y, _, _)| year_of(e.at).max(*y));
        let (seq, prev_hash) = match latest {
            Some((y, s, h)) if y == year => (s + 1, h),
            Some((_, _, h)) => (1, h),
            None => (1, GENESIS.to_owned()),
        };
        let at_ms = to_ms(e.at);
        let action = e.action.as_str();
        let hash = entry_hash(year, seq, at_ms, action, e.case_id.as_deref(), &e.actor, &detail, &prev_hash);
        self.tx
            .prepare_cached(&format!("INSERT INTO audit ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"))?
            .execute(params![year, seq, at_ms, action, e.case_id, e.actor, detail, prev_hash, hash])?;
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO audit_head (id, year, seq, hash) VALUES (1, ?1, ?2, ?3)")?
            .execute(params![year, seq, hash])?;
        Ok(AuditRecord {
            year,
            seq,
            at_ms,
            action: action.to_owned(),
            case_id: e.case_id.clone(),
            actor: e.actor.clone(),
            detail,
            prev_hash,
            hash,
        })
    }

    /// The entries, oldest first; only a case's with `case_id`.
    pub fn audit_entries(&self, case_id: Option<&str>) -> Result<Vec<AuditRecord>> {
        let (sql, key) = match case_id {
            Some(id) => (format!("SELECT {COLUMNS} FROM audit WHERE case_id = ?1 ORDER BY year, seq"), id),
            None => (format!("SELECT {COLUMNS} FROM audit WHERE ?1 = ?1 ORDER BY year, seq"), ""),
        };
        self.query_all(&sql, [key], record_from_row)
    }

    /// Checks every hash and link; names the first entry altered, deleted or moved.
    pub fn audit_verify(&self) -> Result<Verification> {
        let entries = self.audit_entries(None)?;
        let head: Option<(i32, i64, String)> =
            self.tx.query_optional("SELECT year, seq, hash FROM audit_head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        let mut years: Vec<i32> = entries.iter().map(|e| e.year).collect();
        years.dedup();
        let broken = find_break(&entries, head.as_ref());
        Ok(Verification { entries: entries.len() as u64, years, broken })
    }

    /// How many entries each action has, in the years kept (metrics, `ctl status`).
    pub fn audit_action_counts(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.tx.prepare_cached("SELECT action, COUNT(*) FROM audit GROUP BY action ORDER BY action")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The reasons of the dead-letter entries and how many carry each, most frequent first
    /// (`ctl status`). Reasons hold ids and codes, never personal data.
    pub fn audit_dead_letter_reasons(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT COALESCE(json_extract(detail, '$.reason'), ''), COUNT(*) FROM audit \
             WHERE action = 'dead_letter' GROUP BY 1 ORDER BY 2 DESC, 1",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The dead-letters by sender (the entry's actor: `body:cnaf user:cnaf-prod`, `user:…` for
    /// a delivery the bus refused, `observatory:…` for a message of its own outbox) and reason:
    /// `(sender, reason, count)`, most frequent first.
    pub fn audit_dead_letter_senders(&self) -> Result<Vec<(String, String, u64)>> {
        self.query_all(
            "SELECT actor, COALESCE(json_extract(detail, '$.reason'), ''), COUNT(*) FROM audit \
             WHERE action = 'dead_letter' GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)),
        )
    }

    /// The newest `limit` entries of `action`, newest first (read backwards along the chain, so
    /// the scan stops at `limit`).
    pub fn audit_latest(&self, action: Action, limit: usize) -> Result<Vec<AuditRecord>> {
        self.query_all(
            &format!("SELECT {COLUMNS} FROM audit WHERE action = ?1 ORDER BY year DESC, seq DESC LIMIT ?2"),
            params![action.as_str(), limit as i64],
            record_from_row,
        )
    }

    /// Each year's head, oldest year first: `(year, entries, hash of its last entry)` — what a
    /// signed checkpoint of the trail states.
    pub fn audit_heads(&self) -> Result<Vec<(i32, i64, String)>> {
        self.query_all(
            "SELECT a.year, a.seq, a.hash FROM audit a \
             WHERE a.seq = (SELECT MAX(b.seq) FROM audit b WHERE b.year = a.year) ORDER BY a.year",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    }

    /// The hash of entry `seq` of `year`, if the trail holds it.
    pub fn audit_hash_at(&self, year: i32, seq: i64) -> Result<Option<String>> {
        let mut statement = self.tx.prepare_cached("SELECT hash FROM audit WHERE year = ?1 AND seq = ?2")?;
        Ok(statement.query_row(params![year, seq], |r| r.get(0)).optional()?)
    }

    /// Deletes the chain of `year` whole (its witness took its year-closed checkpoint), and with
    /// it the purged case rows it speaks of ([`Tx::delete_purged_cases_through`]); returns how
    /// many entries went.
    pub fn audit_delete_year(&self, year: i32) -> Result<usize> {
        self.delete_purged_cases_through(year)?;
        self.execute("DELETE FROM audit WHERE year = ?1", [year])
    }
}

/// The first break in the chain, if any.
fn find_break(entries: &[AuditRecord], head: Option<&(i32, i64, String)>) -> Option<Broken> {
    let broken = |e: &str, reason: String| Some(Broken { entry: e.to_owned(), reason });
    let mut previous: Option<&AuditRecord> = None;
    for (index, e) in entries.iter().enumerate() {
        let same_year = previous.filter(|p| p.year == e.year);
        let expected_seq = same_year.map_or(1, |p| p.seq + 1);
        if e.seq > expected_seq {
            return broken(
                &format!("{}#{}", e.year, expected_seq),
                format!("deleted (the chain of {} jumps from #{} to #{})", e.year, expected_seq - 1, e.seq),
            );
        }
        if e.seq < expected_seq {
            return broken(&e.name(), "duplicated or renumbered entry".to_owned());
        }
        if e.computed_hash() != e.hash {
            // Moved rather than edited? Its content then hashes right at another position.
            let last_seq = entries.iter().filter(|o| o.year == e.year).map(|o| o.seq).max().unwrap_or(e.seq);
            let origin = (1..=last_seq + 1)
                .find(|&s| s != e.seq && AuditRecord { seq: s, ..e.clone() }.computed_hash() == e.hash);
            if let Some(original_seq) = origin {
                return broken(
                    &e.name(),
                    format!("reordered: this entry ({}) was written as #{original_seq}", e.action),
                );
            }
            return broken(&e.name(), format!("altered: its content ({}) does not match its hash", e.action));
        }
        if let Some(p) = previous {
            if e.prev_hash != p.hash {
                // `e` is intact, so what changed is before it: `p` re-hashed, or rows moved.
                return broken(
                    &p.name(),
                    format!("altered and re-hashed, or moved: entry {} no longer links to it", e.name()),
                );
            }
        } else if index == 0 && e.seq != 1 {
            return broken(&e.name(), "the oldest year does not start at #1".to_owned());
        }
        previous = Some(e);
    }
    match (entries.last(), head) {
        (Some(last), Some((y, s, h))) if (last.year, last.seq, &last.hash) != (*y, *s, h) => broken(
            &format!("{y}#{s}"),
            format!("deleted: the newest entry recorded is {y}#{s}, the trail ends at {}", last.name()),
        ),
        (None, Some((y, s, _))) => broken(&format!("{y}#{s}"), "deleted: the trail is empty".to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
