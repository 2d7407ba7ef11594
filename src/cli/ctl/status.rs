//! What `ctl status` reports: the observatory's part from its daemon's local API
//! (`passerelle_observatory::operator_status`: cases in flight and their age, bodies that are
//! late, the next purge due, dead-letters by reason, the outbox), the queues from the RabbitMQ
//! management API; and how it is said. Ids, codes, counts and times only — never a NIR.

pub use passerelle_observatory::operator_status::{rfc3339, ReadParts};
use passerelle_observatory_store::CaseState;
use serde::Serialize;

pub use passerelle_management::Queues;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub observatory: String,
    pub data_dir: String,
    pub at: String,
    /// The store's part, as the daemon read it (its keys at the top level of the JSON).
    #[serde(flatten)]
    pub parts: ReadParts,
    pub queues: Queues,
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
        .map(|state| format!("{} {}", state.as_str(), s.parts.cases_by_state.get(state.as_str()).copied().unwrap_or(0)))
        .collect();
    let _ = writeln!(out, "Cases: {}", states.join(", "));
    let _ = writeln!(out, "\nIn flight: {}", s.parts.in_flight.len());
    for c in &s.parts.in_flight {
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
    let _ = writeln!(out, "\nLate bodies: {}", if s.parts.late_bodies.is_empty() { "none" } else { "" });
    for b in &s.parts.late_bodies {
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
    match &s.parts.next_purge {
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
    let _ = writeln!(out, "\nDead-letters (audit trail): {}", s.parts.dead_letters_total);
    for r in &s.parts.dead_letters {
        let _ = writeln!(out, "  {:>6}  {}", r.count, r.reason);
        for sender in &r.senders {
            let _ = writeln!(out, "          {:>6} from {}", sender.count, sender.sender);
        }
    }
    let _ = writeln!(out, "Outbox: {} message(s) waiting to be published", s.parts.outbox_messages);
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
    fn durations_read_well() {
        assert_eq!(human(12), "12s");
        assert_eq!(human(250), "4m10s");
        assert_eq!(human(2 * 3600 + 13 * 60), "2h13m");
        assert_eq!(human(-(3 * 86_400 + 4 * 3600)), "3d4h");
        assert_eq!(relative(-30), "30s ago");
    }

    #[test]
    fn dead_letters_are_said_with_their_senders() {
        use passerelle_observatory::operator_status::{ReasonCount, SenderCount};
        let status = Status {
            observatory: "o".into(),
            data_dir: "/d".into(),
            at: "2026-12-07T21:00:00Z".into(),
            parts: ReadParts {
                cases_by_state: Default::default(),
                in_flight: Vec::new(),
                late_bodies: Vec::new(),
                next_purge: None,
                dead_letters: vec![ReasonCount {
                    reason: "bad chunk".into(),
                    count: 3,
                    senders: vec![SenderCount { sender: "body:cnaf user:cnaf".into(), count: 3 }],
                }],
                dead_letters_total: 3,
                outbox_messages: 0,
            },
            queues: Queues {
                available: false,
                management_url: String::new(),
                vhost: String::new(),
                prefix: String::new(),
                queues: Vec::new(),
                unexpected_consumers: Vec::new(),
                message: Some("off".into()),
            },
        };
        let said = render(&status);
        assert!(said.contains("       3  bad chunk\n"), "{said}");
        assert!(said.contains("3 from body:cnaf user:cnaf\n"), "{said}");
    }
}
