//! What `ctl status` reports, read from the observatory's case store (and, for the queues, the
//! RabbitMQ management API): cases in flight and their age, bodies that are late, the next purge
//! due, dead-letters by reason, the outbox. Ids, codes, counts and times only — never a NIR.

use std::collections::BTreeMap;
use std::time::SystemTime;

use passerelle_observatory_store::{CaseState, StoreError, Tx};
use passerelle_protocol::untrusted::{Shown, REASON_CHARS};
use serde::Serialize;

use super::consumers::UnexpectedConsumer;
use super::management::QueueInfo;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub observatory: String,
    pub data_dir: String,
    pub at: String,
    pub cases_by_state: BTreeMap<String, u64>,
    pub in_flight: Vec<InFlight>,
    pub late_bodies: Vec<LateBody>,
    pub next_purge: Option<NextPurge>,
    /// Dead-letters the observatory decided, by reason (ids in the reasons replaced by `<id>`),
    /// most frequent first.
    pub dead_letters: Vec<ReasonCount>,
    pub dead_letters_total: u64,
    pub outbox_messages: u64,
    pub queues: Queues,
}

/// A case still holding payloads.
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
pub struct NextPurge {
    pub case_id: String,
    /// `receipt` (due now: the requester acknowledged the result) or `retention cap`.
    pub reason: &'static str,
    pub due_at: String,
    pub in_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    pub reason: String,
    pub count: u64,
}

/// The queues as the management API reports them, or why they are not available.
#[derive(Debug, Clone, Serialize)]
pub struct Queues {
    pub available: bool,
    pub management_url: String,
    pub vhost: String,
    pub prefix: String,
    pub queues: Vec<QueueInfo>,
    /// Consumers where none should be (`consumers.rs` has the rule).
    pub unexpected_consumers: Vec<UnexpectedConsumer>,
    /// When not available: why, and how to enable it.
    pub message: Option<String>,
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
                reason,
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
#[derive(Debug, Clone)]
pub struct ReadParts {
    pub cases_by_state: BTreeMap<String, u64>,
    pub in_flight: Vec<InFlight>,
    pub late_bodies: Vec<LateBody>,
    pub next_purge: Option<NextPurge>,
    pub dead_letters: Vec<ReasonCount>,
    pub dead_letters_total: u64,
    pub outbox_messages: u64,
}

/// A duration for people: `3d4h`, `2h13m`, `4m10s`, `12s`.
pub fn human(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{sec:02}s")
    } else {
        format!("{sec}s")
    }
}

/// "in 3d4h" or "3d4h ago".
fn relative(seconds: i64) -> String {
    if seconds >= 0 {
        format!("in {}", human(seconds))
    } else {
        format!("{} ago", human(seconds))
    }
}

/// The report as sentences.
pub fn render(s: &Status) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "Observatory {} ({}), at {}", s.observatory, s.data_dir, s.at);
    let states: Vec<String> = CaseState::ALL
        .iter()
        .map(|state| format!("{} {}", state.as_str(), s.cases_by_state.get(state.as_str()).copied().unwrap_or(0)))
        .collect();
    let _ = writeln!(out, "Cases: {}", states.join(", "));
    let _ = writeln!(out, "\nIn flight: {}", s.in_flight.len());
    for c in &s.in_flight {
        let _ = writeln!(
            out,
            "  {}  {:<10} {}/{}  {} persons  age {}  deadline {}  cap {}",
            c.case_id,
            c.state,
            c.requester,
            c.office,
            c.persons,
            human(c.age_seconds),
            relative(c.deadline_in_seconds),
            relative(c.cap_in_seconds)
        );
    }
    let _ = writeln!(out, "\nLate bodies: {}", if s.late_bodies.is_empty() { "none" } else { "" });
    for b in &s.late_bodies {
        let _ = writeln!(
            out,
            "  {} on case {}: {} of {} chunks unanswered, late by {}{}{}",
            b.body,
            b.case_id,
            b.pending_chunks,
            b.chunks,
            human(b.late_seconds),
            if b.reminded { ", reminded" } else { ", reminder due" },
            if b.overdue { ", PAST THE DEADLINE (result goes partial)" } else { "" }
        );
    }
    match &s.next_purge {
        Some(p) => {
            let _ = writeln!(
                out,
                "\nNext purge due: case {} at {} ({}; {})",
                p.case_id,
                p.due_at,
                relative(p.in_seconds),
                p.reason
            );
        }
        None => {
            let _ = writeln!(out, "\nNext purge due: none (no case holds payloads)");
        }
    }
    let _ = writeln!(out, "\nDead-letters (audit trail): {}", s.dead_letters_total);
    for r in &s.dead_letters {
        let _ = writeln!(out, "  {:>6}  {}", r.count, r.reason);
    }
    let _ = writeln!(out, "Outbox: {} message(s) waiting to be published", s.outbox_messages);
    let q = &s.queues;
    if q.available {
        let _ = writeln!(out, "\nQueues (RabbitMQ management API at {}, vhost {}):", q.management_url, q.vhost);
        let _ = writeln!(out, "  {:<56} {:>8} {:>8} {:>9}", "queue", "ready", "unacked", "consumers");
        for queue in &q.queues {
            let _ = writeln!(
                out,
                "  {:<56} {:>8} {:>8} {:>9}",
                queue.name, queue.ready, queue.unacknowledged, queue.consumers
            );
        }
        if q.queues.is_empty() {
            let _ = writeln!(out, "  no queue named {}.* in this vhost (has the observatory declared them?)", q.prefix);
        }
        let none = if q.unexpected_consumers.is_empty() { " none" } else { "" };
        let _ = writeln!(out, "\nUnexpected consumers:{none}");
        for u in &q.unexpected_consumers {
            let _ = writeln!(out, "  ! {}: {} consumer(s): {}", u.queue, u.consumers, u.reason);
            if !u.connections.is_empty() {
                let _ = writeln!(out, "      on {}", u.connections.join(", "));
            }
        }
        if let Some(message) = &q.message {
            let _ = writeln!(out, "  ({message})");
        }
    } else {
        let _ = writeln!(out, "\nQueues: not available: {}", q.message.as_deref().unwrap_or(""));
    }
    out
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

    #[test]
    fn durations_read_well() {
        assert_eq!(human(12), "12s");
        assert_eq!(human(250), "4m10s");
        assert_eq!(human(2 * 3600 + 13 * 60), "2h13m");
        assert_eq!(human(-(3 * 86_400 + 4 * 3600)), "3d4h");
        assert_eq!(relative(-30), "30s ago");
    }
}
