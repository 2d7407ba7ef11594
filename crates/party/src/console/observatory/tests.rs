//! Tests of the observatory pages' HTML on synthetic answers: escaping, links offered by role,
//! NIR-shaped text never shown, and the verify report's verdict said in words.

use std::collections::BTreeMap;

use passerelle_observatory::operator_status::{
    InFlight, LateBody, NextPurge, PurgeDone, Purges, ReadParts, ReasonCount, SenderCount,
};
use passerelle_observatory_store::AuditRecord;
use passerelle_trails::{TrailReport, YearReport};

use super::render;

const CASE: &str = "0192ffee-0000-7000-8000-000000000001";
/// A valid-looking NIR, spaced and packed.
const NIR_SPACED: &str = "1 84 05 2A 123 456 25";
const NIR_PACKED: &str = "184052A12345625";

fn parts() -> ReadParts {
    ReadParts {
        cases_by_state: BTreeMap::from([("collecting".to_owned(), 1), ("purged".to_owned(), 4)]),
        in_flight: vec![InFlight {
            case_id: CASE.into(),
            state: "collecting".into(),
            requester: "carsat".into(),
            office: "<script>alert(1)</script>".into(),
            persons: 120,
            age_seconds: 3 * 86_400,
            deadline_in_seconds: -3_600,
            cap_in_seconds: 27 * 86_400,
            bodies_solicited: 3,
            bodies_answered: 1,
        }],
        late_bodies: vec![LateBody {
            body: "cnam".into(),
            case_id: CASE.into(),
            pending_chunks: 2,
            chunks: 4,
            reminded: true,
            overdue: true,
            late_seconds: 7_200,
        }],
        next_purge: Some(NextPurge {
            case_id: CASE.into(),
            reason: "retention cap".into(),
            due_at: "2027-01-03T10:00:00Z".into(),
            in_seconds: 27 * 86_400,
        }),
        dead_letters: vec![ReasonCount {
            reason: format!("person {NIR_SPACED} unknown"),
            count: 2,
            senders: vec![SenderCount { sender: format!("body:cnaf user:{NIR_PACKED}"), count: 2 }],
        }],
        dead_letters_total: 2,
        outbox_messages: 5,
    }
}

fn no_nir(html: &str) {
    for nir in [NIR_SPACED, NIR_PACKED, "12345625", "123 456 25"] {
        assert!(!html.contains(nir), "a NIR-shaped run reached the page: {html}");
    }
}

#[test]
fn the_cases_page_says_counts_and_deadlines_escaped() {
    let html = render::cases(&parts(), false);
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("carsat / &lt;script&gt;"), "{html}");
    assert!(html.contains(r#"<td class="num">120</td>"#));
    assert!(html.contains("<td>1 / 3</td>"), "bodies answered / solicited: {html}");
    assert!(html.contains(r#"<span class="late">1 (cnam)</span>"#), "{html}");
    assert!(html.contains(r#"<span class="late">dépassée de 1 h</span>"#), "{html}");
    assert!(html.contains("échéance dépassée : résultat partiel"), "said in words, not by colour only");
    assert!(html.contains("plafond de conservation (30 jours)"));
    assert!(html.contains(r#"<div class="figure">4</div><div>purgé</div>"#), "{html}");
    // An operator gets no link to a timeline it could not open.
    assert!(!html.contains("href=\"/cases/"), "{html}");
    assert!(render::cases(&parts(), true).contains(&format!(r#"<a href="/cases/{CASE}">"#)));
    no_nir(&html);
}

#[test]
fn dead_letters_show_reasons_and_senders_without_a_nir() {
    let p = parts();
    let html = render::dead_letters(p.dead_letters_total, &p.dead_letters);
    assert!(html.contains("body:cnaf user:"), "{html}");
    assert!(html.contains(r#"<td class="num">2</td>"#));
    no_nir(&html);
    let hostile = [ReasonCount { reason: "<img src=x>".into(), count: 1, senders: Vec::new() }];
    let html = render::dead_letters(1, &hostile);
    assert!(!html.contains("<img") && html.contains("non enregistré"), "{html}");
}

#[test]
fn a_timeline_names_actions_in_french_and_masks_nirs_in_details() {
    let entry = |seq, action: &str, detail: &str| AuditRecord {
        year: 2026,
        seq,
        at_ms: 1_796_688_000_000,
        action: action.into(),
        case_id: Some(CASE.into()),
        actor: "body:cnaf user:cnaf".into(),
        detail: detail.into(),
        prev_hash: "0".repeat(64),
        hash: "f".repeat(64),
    };
    let entries = [
        entry(1, "request_received", r#"{"accepted":12,"refused":0}"#),
        entry(2, "dead_letter", &format!(r#"{{"reason":"bad <b> {NIR_PACKED}"}}"#)),
    ];
    let html = render::timeline(CASE, &entries);
    assert!(html.contains("Demande reçue") && html.contains("Lettre morte"), "{html}");
    assert!(html.contains("accepted : 12"), "{html}");
    assert!(html.contains("2026#2"));
    assert!(!html.contains("<b>"), "{html}");
    assert!(!html.contains(&"f".repeat(64)), "hashes are not the timeline's business");
    no_nir(&html);
    assert!(render::timeline(CASE, &[]).contains("aucune entrée"));
}

#[test]
fn purges_say_why_in_french_and_link_by_role() {
    let purges = Purges {
        done: vec![
            PurgeDone {
                case_id: Some(CASE.into()),
                at: "2026-12-07T21:15:00Z".into(),
                reason: "receipt".into(),
                state_before: Some("returned".into()),
                persons: 120,
                answers: 300,
                unsent_messages: 0,
                statistics_rows: Some(120),
            },
            PurgeDone {
                case_id: None,
                at: "2026-12-06T08:00:00Z".into(),
                reason: "case refused".into(),
                state_before: None,
                persons: 2,
                answers: 0,
                unsent_messages: 1,
                statistics_rows: None,
            },
        ],
        next: None,
    };
    let html = render::purges(&purges, false);
    assert!(html.contains("accusé de réception du demandeur") && html.contains("dossier refusé"), "{html}");
    assert!(html.contains("07/12/2026 22:15"), "{html}");
    assert!(html.contains("Aucune purge à venir"));
    assert!(!html.contains("href=\"/cases/"));
    assert!(render::purges(&purges, true).contains(&format!(r#"<a href="/cases/{CASE}">"#)));
    let form = render::timeline_form(r#"<input type="hidden" name="csrf" value="t">"#);
    assert!(form.contains(r#"method="post""#) && form.contains(r#"name="csrf""#));
    assert!(form.contains(r#"<label for="timeline-case">"#) && form.contains(r#"id="timeline-case""#));
}

#[test]
fn the_queues_page_lists_the_queues_and_the_consumers_where_none_should_be_or_says_why_not() {
    let mut q = passerelle_management::Queues {
        available: false,
        management_url: "http://127.0.0.1:15672".into(),
        vhost: "/".into(),
        prefix: "passerelle".into(),
        queues: Vec::new(),
        unexpected_consumers: Vec::new(),
        message: Some("the observatory's settings name no `management_url`".into()),
    };
    let html = render::queues(&q, 5);
    assert!(html.contains("<dd>5</dd>") && html.contains("management_url"), "{html}");
    assert!(!html.contains("<table"), "nothing listed: {html}");
    q.available = true;
    q.message = None;
    q.queues = vec![passerelle_management::QueueInfo {
        name: "passerelle.observatory.sud.requests".into(),
        ready: 3,
        unacknowledged: 1,
        consumers: 2,
    }];
    q.unexpected_consumers = vec![passerelle_management::UnexpectedConsumer {
        queue: "passerelle.observatory.sud.requests".into(),
        consumers: 2,
        connections: vec!["<b>10.0.0.1</b> -> 10.0.0.2".into()],
        reason: "a second observatory".into(),
    }];
    let html = render::queues(&q, 0);
    assert!(html.contains("passerelle.observatory.sud.requests</td><td class=\"num\">3</td>"), "{html}");
    assert!(html.contains("a second observatory") && html.contains("&lt;b&gt;10.0.0.1"), "escaped: {html}");
}

#[test]
fn the_verify_report_is_said_in_words() {
    let year = |findings: Vec<String>| YearReport {
        year: 2026,
        entries: 40,
        witnessed_checkpoints: 3,
        matched_checkpoints: 3,
        covered: 38,
        not_yet_covered: 2,
        closed: false,
        findings,
    };
    let mut report = TrailReport {
        party: "observatory:o".into(),
        trail: "observatory:o:audit".into(),
        witness: Some("requester:r".into()),
        witness_answered: true,
        witness_problem: None,
        unreadable: None,
        years: vec![year(Vec::new())],
        intact: true,
    };
    let html = render::verification(&report);
    assert!(html.contains("Intègre") && html.contains("(a répondu)"), "{html}");
    assert!(html.contains("<td>3 / 3</td>"), "{html}");
    report.intact = false;
    report.years = vec![year(vec!["entry 2026#7 <altered>".into()])];
    let html = render::verification(&report);
    assert!(html.contains("Anomalie") && html.contains("entry 2026#7 &lt;altered&gt;"), "{html}");
}
