//! What the demo reports: the flow's counts from every side (the requester's selection and
//! result, the observatory's solicitations and purge, each responder's answers), whether they add
//! up, and the time each stage took — as sentences, or as one JSON object (`--json`).
//!
//! Nothing in it identifies a person: lines of the selection file, counts and codes only.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::progress::StageTime;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// `in-process`, or `amqp` with the name prefix used (and deleted) for this run.
    pub bus: BusSummary,
    pub observatory: String,
    pub requester: RequesterSummary,
    /// The categories asked (codes).
    pub wanted: Vec<&'static str>,
    pub persons: PersonsSummary,
    pub cases: Vec<CaseSummary>,
    /// Per solicited body.
    pub bodies: BTreeMap<String, BodySummary>,
    /// Every case answered by every body it solicited.
    pub complete: bool,
    pub purge: PurgeSummary,
    /// The social service's walk of the contact list (`--requester cpam`); none for a CAF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub social_service: Option<SocialServiceSummary>,
    pub stages: Vec<StageTime>,
    pub total_seconds: f64,
    /// The folder of the run, and whether it was deleted at the end.
    pub data_dir: String,
    pub data_dir_deleted: bool,
    /// The requester's result files (deleted with a temporary folder).
    pub result_files: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BusSummary {
    pub kind: &'static str,
    /// The exchange and queue name prefix (AMQP: fresh for this run, deleted at the end).
    pub prefix: String,
    /// AMQP: whether every exchange and queue of the prefix was deleted at the end.
    pub topology_deleted: Option<bool>,
    /// Messages the bus dead-lettered during the run (0 in a healthy run).
    pub dead_letters: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequesterSummary {
    pub body: String,
    pub office: String,
}

/// The persons, from the selection to the result.
#[derive(Debug, Clone, Serialize)]
pub struct PersonsSummary {
    /// Data records of the selection file.
    pub selected: u64,
    /// Records the requester accepted (sent to the observatory).
    pub valid: u64,
    /// Records the requester rejected (not sent), with the selection's rules.
    pub rejected: u64,
    /// Persons the observatory refused (reported with reasons, not in the contact list).
    pub refused_by_observatory: u64,
    /// Persons in the requester's ranked contact list.
    pub in_result: u64,
    /// Valid persons missing from the result (neither listed nor refused): 0 when it adds up.
    pub missing: u64,
    /// Persons listed more than once: 0 when it adds up.
    pub duplicates: u64,
    /// Listed persons that were not valid in the selection, or were also refused: 0.
    pub unexpected: u64,
    /// Every valid selected person is in the result exactly once (or refused, with reasons).
    pub adds_up: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseSummary {
    pub case_id: String,
    pub observatory: String,
    pub persons: u64,
    /// The requester's view: `answered`, `refused`…
    pub state: String,
    /// `complete` or `partial`.
    pub completeness: Option<String>,
    /// The observatory's view at the end: `purged` once the receipt was processed.
    pub observatory_state: String,
}

/// One solicited body.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BodySummary {
    /// The categories the observatory asked it (codes).
    pub asked: Vec<String>,
    /// Solicitation chunks the observatory sent it, and the persons in them.
    pub solicitation_chunks: u64,
    pub persons_solicited: u64,
    /// Reminders the observatory sent it (0 when it answered before halfway to the deadline).
    pub reminders: u64,
    /// Persons as the result reports them.
    pub found: u64,
    pub not_found: u64,
    pub no_answer: u64,
    /// Whether it answered every chunk before the deadline.
    pub answered: bool,
    /// Categories asked but declined, with the reason.
    pub declined: Vec<String>,
    /// Persons indexed from its extract before the run.
    pub extract_persons: u64,
    /// Chunks and persons the responder answered (a reminder or a redelivery is answered again).
    pub responder_chunks: u64,
    pub responder_persons: u64,
}

/// The observatory's forgetting (art. 5).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PurgeSummary {
    /// Every case of the run was purged on the requester's receipt.
    pub purged: bool,
    /// Why, as the audit trail says (`receipt`).
    pub reason: Option<String>,
    /// Persons and answers deleted, unsent messages dropped.
    pub persons: u64,
    pub answers: u64,
    pub unsent_messages: u64,
    /// Pseudonymised statistics rows kept instead (art. 4).
    pub statistics_rows: u64,
    /// From the receipt's arrival to the purge.
    pub seconds_after_receipt: Option<f64>,
    /// Cases per state in the observatory's store at the end.
    pub observatory_cases: BTreeMap<String, u64>,
}

/// The social service's walk of the contact list (norm 43): the offers by outcome, the case
/// files opened, the decree values that stayed behind. Counts and codes only.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SocialServiceSummary {
    /// The hosting body (the territory's CARSAT) and the social service's office.
    pub body: String,
    pub office: String,
    /// The requester office whose contact list it walked.
    pub requester_office: String,
    /// The social worker who made the offers (an agent id).
    pub worker: String,
    /// Offers made, one per person of the contact list, in rank order; and by outcome.
    pub offers: u64,
    pub accepted: u64,
    pub declined: u64,
    pub no_reply: u64,
    /// Case files opened on an acceptance.
    pub files_opened: u64,
    /// Case files in the social service's store at the end.
    pub files_in_store: u64,
    /// Decree values with no home in the norm, which stayed at the requester: by decree code,
    /// the most frequent first.
    pub left_behind: Vec<LeftBehind>,
    /// One offer per listed person, the outcomes add up to the offers, and the store holds one
    /// file per acceptance — none for a person who declined or did not reply.
    pub adds_up: bool,
}

/// A decree value that stayed behind, and for how many of the persons who accepted.
#[derive(Debug, Clone, Serialize)]
pub struct LeftBehind {
    pub code: String,
    pub persons: u64,
}

/// How many of the values left behind the sentences name.
const LEFT_BEHIND_SHOWN: usize = 5;

/// The summary as sentences.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let bus = match s.bus.kind {
        "amqp" => format!("RabbitMQ, prefix {}", s.bus.prefix),
        _ => "the in-process bus".to_owned(),
    };
    let _ = writeln!(out, "Passerelle demo: the decree flow on synthetic persons, over {bus}");
    let _ = writeln!(
        out,
        "  requester {} ({}) → observatory {} → {}; {} categories asked",
        s.requester.body,
        s.requester.office,
        s.observatory,
        s.bodies.keys().cloned().collect::<Vec<_>>().join(", "),
        s.wanted.len()
    );
    let p = &s.persons;
    let _ = writeln!(out, "\nPersons");
    let _ =
        writeln!(out, "  selected {:>8}   valid {:>8}   rejected by the requester {}", p.selected, p.valid, p.rejected);
    let _ = writeln!(
        out,
        "  refused by the observatory {}   in the ranked contact list {}",
        p.refused_by_observatory, p.in_result
    );
    if p.adds_up {
        let _ = writeln!(out, "  ✓ every valid person is in the result exactly once");
    } else {
        let _ = writeln!(
            out,
            "  ✗ the result does not add up: {} missing, {} listed twice or more, {} unexpected",
            p.missing, p.duplicates, p.unexpected
        );
    }
    let _ = writeln!(out, "\nCases");
    for c in &s.cases {
        let _ = writeln!(
            out,
            "  {} → {}: {} persons, {}{}; at the observatory: {}",
            c.case_id,
            c.observatory,
            c.persons,
            c.state,
            c.completeness.as_deref().map(|x| format!(" ({x})")).unwrap_or_default(),
            c.observatory_state
        );
    }
    let _ = writeln!(out, "\nSolicited bodies");
    let _ = writeln!(
        out,
        "  {:<6} {:>7} {:>9} {:>9} {:>10} {:>10} {:>7}",
        "body", "chunks", "persons", "found", "not found", "no answer", "asked"
    );
    for (body, b) in &s.bodies {
        let _ = writeln!(
            out,
            "  {:<6} {:>7} {:>9} {:>9} {:>10} {:>10} {:>7}",
            body,
            b.solicitation_chunks,
            b.persons_solicited,
            b.found,
            b.not_found,
            b.no_answer,
            b.asked.len()
        );
        for d in &b.declined {
            let _ = writeln!(out, "         declined {d}");
        }
    }
    let _ = writeln!(
        out,
        "  {} (asked: the number of categories; --json lists them)",
        if s.complete { "complete: every body answered" } else { "PARTIAL: some body did not answer in time" }
    );
    let _ = writeln!(out, "\nPurge (decree art. 5)");
    let u = &s.purge;
    if u.purged {
        let after = u.seconds_after_receipt.map(|x| format!(" {x:.3} s after the receipt")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  the observatory forgot the case{after}: {} persons and {} answers deleted, {} pseudonymised statistics rows kept",
            u.persons, u.answers, u.statistics_rows
        );
    } else {
        let _ = writeln!(out, "  NOT purged: the observatory still holds the case's payloads");
    }
    if let Some(w) = &s.social_service {
        render_social_service(&mut out, w);
    }
    let _ = writeln!(out, "\nStages");
    for t in &s.stages {
        let _ = writeln!(out, "  {:<14} {:>8.2} s", t.stage, t.seconds);
    }
    let _ = writeln!(out, "  {:<14} {:>8.2} s", "total", s.total_seconds);
    if let Some(deleted) = s.bus.topology_deleted {
        let _ = writeln!(
            out,
            "\nBroker: exchanges and queues of {} {}",
            s.bus.prefix,
            if deleted { "deleted" } else { "NOT all deleted" }
        );
    }
    if s.data_dir_deleted {
        let _ = writeln!(out, "Files: a temporary folder, deleted (keep them with --data-dir DIR)");
    } else {
        let _ = writeln!(out, "Files: {}", s.data_dir);
        for f in &s.result_files {
            let _ = writeln!(out, "  result: {f}");
        }
    }
    out
}

/// The social service's part of the sentences.
fn render_social_service(out: &mut String, w: &SocialServiceSummary) {
    let _ = writeln!(out, "\nSocial service (norm 43)");
    let _ = writeln!(
        out,
        "  {} ({}) offered its service to the {} persons of {}'s contact list, in rank order",
        w.office, w.body, w.offers, w.requester_office
    );
    let _ = writeln!(out, "  accepted {:>6}   declined {:>6}   no reply {:>6}", w.accepted, w.declined, w.no_reply);
    if w.adds_up {
        let _ = writeln!(
            out,
            "  ✓ {} case files opened, one per acceptance; nobody who declined or did not reply is in its store",
            w.files_opened
        );
    } else {
        let _ = writeln!(
            out,
            "  ✗ it does not add up: {} files opened, {} in the store, for {} acceptances",
            w.files_opened, w.files_in_store, w.accepted
        );
    }
    if w.left_behind.is_empty() {
        let _ = writeln!(out, "  every decree value found a home in the norm's categories");
    } else {
        let shown: Vec<String> =
            w.left_behind.iter().take(LEFT_BEHIND_SHOWN).map(|l| format!("{} ({})", l.code, l.persons)).collect();
        let _ = writeln!(
            out,
            "  values that stayed behind most often (no home in the norm, or a `false` flag the norm does not carry): {}",
            shown.join(", ")
        );
    }
}
