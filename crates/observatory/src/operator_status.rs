//! What an operator sees of the observatory's case store (DESIGN §7.1, role `operator`): cases
//! per state, the cases still holding payloads with their ages and deadlines, bodies that are
//! late, the next purge due, dead-letters by reason, the outbox. Ids, codes, counts and times
//! only — never a NIR or another personal datum. Read by the daemon in one read transaction and
//! sent through its local API to `ctl status`, which adds the queues.

use std::collections::BTreeMap;
use std::time::SystemTime;

use passerelle_observatory_store::{CaseState, StoreError, Tx};
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
        in_flight.push(InFlight {
            case_id: case.case_id.clone(),
            state: case.state.as_str().to_owned(),
            requester: case.requester.clone(),
            office: case.requester_office.clone(),
            persons: case.persons_accepted,
            age_seconds: seconds(case.arrived_at, now),
            deadline_in_seconds: seconds(now, case.respond_by),
            cap_in_seconds: seconds(now, case.expires_at),
        });
        let (due_at, reason) = match case.receipt_at {
            Some(receipt) => (receipt, "receipt"),
            None => (case.expires_at, "retention cap"),
        };
        if next_purge.as_ref().is_none_or(|p| seconds(now, due_at) < p.in_seconds) {
            next_purge = Some(NextPurge {
                case_id: case.case_id.clone(),
                reason: reason.to_owned(),
                due_at: rfc3339(due_at),
                in_seconds: seconds(now, due_at),
            });
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
    let mut grouped: BTreeMap<String, u64> = BTreeMap::new();
    for (reason, n) in tx.audit_dead_letter_reasons()? {
        // A reason quotes sender-written text (entries older than this build quote it as sent).
        let shown = Shown::text(&normalise_reason(&reason)).at_most(REASON_CHARS).to_string();
        *grouped.entry(shown).or_default() += n;
    }
    let mut dead_letters: Vec<ReasonCount> =
        grouped.into_iter().map(|(reason, count)| ReasonCount { reason, count }).collect();
    dead_letters.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
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
