//! What an operator sees of the observatory's case store (DESIGN §7.1, role `operator`): cases
//! per state, the cases still holding payloads with their ages and deadlines, bodies that are
//! late, the next purge due, dead-letters by reason, the outbox. Ids, codes, counts and times
//! only — never a NIR or another personal datum. Read by the daemon in one read transaction and
//! sent through its local API to `ctl status`, which adds the queues.

use std::collections::BTreeMap;
use std::time::SystemTime;

use passerelle_observatory_store::audit::Action;
use passerelle_observatory_store::{AuditRecord, CaseRecord, CaseState, StoreError, Tx};
use passerelle_protocol::untrusted::{Shown, REASON_CHARS};
use serde::{Deserialize, Serialize};

/// A case still holding payloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub case_id: String,
    pub state: String,
    pub requester: String,
    pub office: String,
    pub persons: u64,
    pub age_seconds: i64,
    /// Until the deadline (negative: past it).
    pub deadline_in_seconds: i64,
    /// Until the 30-day cap, when everything of the case is purged whatever its state.
    pub cap_in_seconds: i64,
    /// The bodies solicited for the case, and those of them that answered every chunk.
    #[serde(default)]
    pub bodies_solicited: u64,
    #[serde(default)]
    pub bodies_answered: u64,
}

/// A body with unanswered solicitation chunks past the reminder time (halfway to the deadline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateBody {
    pub body: String,
    pub case_id: String,
    pub pending_chunks: u64,
    pub chunks: u64,
    /// The reminder went out.
    pub reminded: bool,
    /// The deadline has passed too: the result goes back partial, this body `no_answer`.
    pub overdue: bool,
    pub late_seconds: i64,
}

/// The purge that comes next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextPurge {
    pub case_id: String,
    /// `receipt` (due now: the requester acknowledged the result) or `retention cap`.
    pub reason: String,
    pub due_at: String,
    pub in_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCount {
    pub reason: String,
    pub count: u64,
    /// Who sent the messages refused for this reason, most frequent first: what a partner's
    /// developer needs to fix their side.
    #[serde(default)]
    pub senders: Vec<SenderCount>,
}

/// A sender of dead-lettered messages: the audit entry's actor (`body:cnaf user:cnaf-prod`; a
/// delivery the bus refused names its broker user only, `user:…`; a message of the
/// observatory's own outbox, `observatory:…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderCount {
    pub sender: String,
    pub count: u64,
}

/// A purge done, as its audit entry states it (ids, counts and times only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeDone {
    pub case_id: Option<String>,
    /// RFC 3339, UTC.
    pub at: String,
    /// Why: `receipt`, `retention cap`, `case refused`…
    pub reason: String,
    /// The case's state before the purge, when the entry says it.
    pub state_before: Option<String>,
    pub persons: u64,
    pub answers: u64,
    pub unsent_messages: u64,
    pub statistics_rows: Option<u64>,
}

/// `GET /v1/purges`: the newest purges done and the next due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purges {
    /// Newest first, at most the limit asked.
    pub done: Vec<PurgeDone>,
    pub next: Option<NextPurge>,
}

/// Signed seconds from `from` to `to`.
fn seconds(from: SystemTime, to: SystemTime) -> i64 {
    match to.duration_since(from) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Replaces the ids in a reason (UUIDs, long hex or digit runs) by `<id>`, so reasons that differ
/// only by case or message group together.
pub fn normalise_reason(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    for token in reason.split_inclusive(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == ':') {
        let (word, sep) = match token.char_indices().last() {
            Some((i, c)) if c.is_whitespace() || c == ',' || c == ';' || c == ':' => token.split_at(i),
            _ => (token, ""),
        };
        let core = word.trim_matches(|c: char| c == '`' || c == '"' || c == '\'' || c == '(' || c == ')');
        let hexish = core.chars().filter(|c| c.is_ascii_hexdigit()).count();
        let id_like = core.len() >= 8
            && core.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
            && hexish * 10 >= core.len() * 8
            && core.chars().any(|c| c.is_ascii_digit());
        if id_like {
            out.push_str(&word.replace(core, "<id>"));
        } else {
            out.push_str(word);
        }
        out.push_str(sep);
    }
    out
}

/// Reads everything but the queues in one read transaction.
pub fn read(tx: &Tx<'_>, now: SystemTime) -> Result<ReadParts, StoreError> {
    let mut cases_by_state: BTreeMap<String, u64> = CaseState::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    for (state, n) in tx.state_counts()? {
        cases_by_state.insert(state.as_str().to_owned(), n);
    }
    let mut in_flight = Vec::new();
    let mut late_bodies = Vec::new();
    let mut next_purge: Option<NextPurge> = None;
    for case in tx.cases_in(&CaseState::HOLDING_PAYLOADS)? {
        let (bodies_solicited, bodies_answered) = tx.solicitation_progress(&case.case_id)?;
        in_flight.push(InFlight {
            case_id: case.case_id.clone(),
            state: case.state.as_str().to_owned(),
            requester: case.requester.clone(),
            office: case.requester_office.clone(),
            persons: case.persons_accepted,
            age_seconds: seconds(case.arrived_at, now),
            deadline_in_seconds: seconds(now, case.respond_by),
            cap_in_seconds: seconds(now, case.expires_at),
            bodies_solicited,
            bodies_answered,
        });
        let due = purge_due(&case, now);
        if next_purge.as_ref().is_none_or(|p| due.in_seconds < p.in_seconds) {
            next_purge = Some(due);
        }
        if case.state.is_collecting() && now >= case.remind_at {
            for s in tx.solicitations(&case.case_id)? {
                let chunks = tx.solicitation_chunks(&s.solicitation_id)?;
                let pending: Vec<_> = chunks.iter().filter(|c| c.answered_at.is_none()).collect();
                if pending.is_empty() {
                    continue;
                }
                late_bodies.push(LateBody {
                    body: s.body.to_string(),
                    case_id: case.case_id.clone(),
                    pending_chunks: pending.len() as u64,
                    chunks: chunks.len() as u64,
                    reminded: pending.iter().any(|c| c.reminded_at.is_some()),
                    overdue: now >= case.respond_by,
                    late_seconds: seconds(case.remind_at, now),
                });
            }
        }
    }
    in_flight.sort_by_key(|c| std::cmp::Reverse(c.age_seconds));
    let dead_letters = dead_letters(tx.audit_dead_letter_senders()?);
    Ok(ReadParts {
        cases_by_state,
        in_flight,
        late_bodies,
        next_purge,
        dead_letters_total: dead_letters.iter().map(|r| r.count).sum(),
        dead_letters,
        outbox_messages: tx.outbox_depth()?,
    })
}

/// Dead-letters by reason, each with its senders, from `(sender, reason, count)` rows.
fn dead_letters(rows: Vec<(String, String, u64)>) -> Vec<ReasonCount> {
    let mut grouped: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (sender, reason, n) in rows {
        // A reason quotes sender-written text (entries older than this build quote it as sent).
        let shown = Shown::text(&normalise_reason(&reason)).at_most(REASON_CHARS).to_string();
        let sender = Shown::text(&sender).at_most(REASON_CHARS).to_string();
        *grouped.entry(shown).or_default().entry(sender).or_default() += n;
    }
    let mut dead_letters: Vec<ReasonCount> = grouped
        .into_iter()
        .map(|(reason, senders)| {
            let mut senders: Vec<SenderCount> =
                senders.into_iter().map(|(sender, count)| SenderCount { sender, count }).collect();
            senders.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.sender.cmp(&b.sender)));
            ReasonCount { reason, count: senders.iter().map(|s| s.count).sum(), senders }
        })
        .collect();
    dead_letters.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
    dead_letters
}

/// The newest `limit` purges done (from their audit entries) and the next due.
pub fn purges(tx: &Tx<'_>, now: SystemTime, limit: usize) -> Result<Purges, StoreError> {
    let done = tx.audit_latest(Action::Purge, limit)?.into_iter().map(|e| purge_done(&e)).collect();
    Ok(Purges { done, next: next_purge(tx, now)? })
}

/// A purge entry as [`PurgeDone`]: what its detail holds, missing counts as 0.
fn purge_done(e: &AuditRecord) -> PurgeDone {
    let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
    let count = |key: &str| detail.get(key).and_then(serde_json::Value::as_u64);
    let text = |key: &str| detail.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
    PurgeDone {
        case_id: e.case_id.clone(),
        at: rfc3339(e.at()),
        reason: text("reason").unwrap_or_default(),
        state_before: text("state_before"),
        persons: count("persons").unwrap_or(0),
        answers: count("answers").unwrap_or(0),
        unsent_messages: count("unsent_messages").unwrap_or(0),
        statistics_rows: count("statistics_rows"),
    }
}

/// The purge due next among the cases holding payloads.
fn next_purge(tx: &Tx<'_>, now: SystemTime) -> Result<Option<NextPurge>, StoreError> {
    let mut next: Option<NextPurge> = None;
    for case in tx.cases_in(&CaseState::HOLDING_PAYLOADS)? {
        let due = purge_due(&case, now);
        if next.as_ref().is_none_or(|p| due.in_seconds < p.in_seconds) {
            next = Some(due);
        }
    }
    Ok(next)
}

/// When a case holding payloads is purged, and why: at once once its requester acknowledged
/// the result, else at its retention cap.
fn purge_due(case: &CaseRecord, now: SystemTime) -> NextPurge {
    let (due_at, reason) = match case.receipt_at {
        Some(receipt) => (receipt, "receipt"),
        None => (case.expires_at, "retention cap"),
    };
    NextPurge {
        case_id: case.case_id.clone(),
        reason: reason.to_owned(),
        due_at: rfc3339(due_at),
        in_seconds: seconds(now, due_at),
    }
}

/// The store's part of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadParts {
    pub cases_by_state: BTreeMap<String, u64>,
    pub in_flight: Vec<InFlight>,
    pub late_bodies: Vec<LateBody>,
    pub next_purge: Option<NextPurge>,
    /// Dead-letters the observatory decided, by reason (ids in the reasons replaced by `<id>`),
    /// most frequent first.
    pub dead_letters: Vec<ReasonCount>,
    pub dead_letters_total: u64,
    pub outbox_messages: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letters_group_by_reason_with_their_senders() {
        let row = |sender: &str, reason: &str, n| (sender.to_owned(), reason.to_owned(), n);
        let grouped = dead_letters(vec![
            row("body:cnaf user:cnaf", "case 01932c4e-7d2a-7b3c-9c1d-0123456789ab unknown", 2),
            row("body:cnam user:cnam", "case 01932c4e-7d2a-7b3c-9c1d-0123456789ac unknown", 3),
            row("body:cnaf user:cnaf", "case 01932c4e-7d2a-7b3c-9c1d-0123456789ad unknown", 1),
            row("user:stranger", "bad chunk", 1),
        ]);
        assert_eq!(grouped.len(), 2);
        assert_eq!((grouped[0].reason.as_str(), grouped[0].count), ("case <id> unknown", 6));
        assert_eq!(
            grouped[0].senders,
            [
                SenderCount { sender: "body:cnaf user:cnaf".into(), count: 3 },
                SenderCount { sender: "body:cnam user:cnam".into(), count: 3 }
            ]
        );
        assert_eq!(grouped[1].senders, [SenderCount { sender: "user:stranger".into(), count: 1 }]);
    }

    #[test]
    fn a_purge_entry_reads_back_as_its_counts() {
        let record = AuditRecord {
            year: 2026,
            seq: 4,
            at_ms: 1_796_688_000_000,
            action: "purge".into(),
            case_id: Some("case-1".into()),
            actor: "observatory:o".into(),
            detail: r#"{"reason":"receipt","state_before":"result_sent","persons":12,"answers":30,"unsent_messages":0,"statistics_rows":12}"#.into(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        let done = purge_done(&record);
        assert_eq!(
            (done.reason.as_str(), done.persons, done.answers, done.statistics_rows),
            ("receipt", 12, 30, Some(12))
        );
        assert_eq!(done.state_before.as_deref(), Some("result_sent"));
        let refused = AuditRecord { detail: r#"{"reason":"case refused","persons":2}"#.into(), ..record };
        assert_eq!(purge_done(&refused).statistics_rows, None);
    }

    #[test]
    fn ids_in_reasons_are_grouped() {
        assert_eq!(
            normalise_reason("case 01932c4e-7d2a-7b3c-9c1d-0123456789ab was sent to observatory cnav-idf, not x"),
            "case <id> was sent to observatory cnav-idf, not x"
        );
        assert_eq!(
            normalise_reason("result for case `0192ffee-0000-7000-8000-000000000001`, unknown"),
            "result for case `<id>`, unknown"
        );
        assert_eq!(normalise_reason("chunk index 3 not below chunk count 2"), "chunk index 3 not below chunk count 2");
        assert_eq!(
            normalise_reason("a passerelle.v1.Response does not belong"),
            "a passerelle.v1.Response does not belong"
        );
        assert_eq!(normalise_reason("addressed to body `cnam`"), "addressed to body `cnam`");
    }
}
