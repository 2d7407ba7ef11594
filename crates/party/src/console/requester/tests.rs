//! The requester pages' render functions on synthetic API answers: every value escaped, the
//! contact list in rank order with no NIR, the operator's page counts only, and the
//! submission form's query as the API takes it.

use passerelle_requester::api::{CaseStatus, ContactsAnswer, OverviewAnswer, PurgeAnswer, SubmitAnswer};
use serde_json::json;

use super::render::*;
use super::{submit_path, SubmitFields, ROUTES};

const HOSTILE: &str = r#"<script>alert("x")</script>"#;
const CASE: &str = "00000000-0000-7000-8000-000000000001";
const CSRF_FIELD: &str = r#"<input type="hidden" name="csrf" value="t0k3n">"#;

fn status(state: &str, observatory: &str, reason: &str) -> CaseStatus {
    serde_json::from_value(json!({
        "case": {
            "case_id": CASE, "observatory": observatory, "state": state, "persons": 3,
            "completeness": "partial",
            "bodies": [{"body": "cnav", "asked": ["family_situation"], "answered": true,
                        "declined": [{"category": "css", "reason": "not_held", "detail": reason}]}],
            "case_refused": [],
            "refused_persons": [{"line": 7, "problems": [{"field": "birth_year", "reason": reason}]}]
        },
        "submission": "00000000-0000-7000-8000-0000000000aa",
        "submitted_at": "2026-12-07T08:00:00Z",
        "purge_after": "2028-12-07T08:00:00Z",
        "result_chunks": 2, "result_chunks_received": 1, "receipt_sent": false,
        "text": "case answered"
    }))
    .unwrap()
}

fn contacts(family_name: &str) -> ContactsAnswer {
    serde_json::from_value(json!({
        "case": CASE, "state": "answered", "persons": 2,
        "entries": [
            {"rank": 1, "line": 4, "score": 5.5, "family_name": family_name, "usage_name": "Martin",
             "given_names": "Jeanne", "birth_year": 1948, "phone": "+33 6 00 00 00 00", "email": null,
             "postal_address": null,
             "outcome": {"outcome": "accepted", "date": "2026-12-01", "agent": "ts-1"}},
            {"rank": 2, "line": 2, "score": 1.0, "family_name": "Durand", "usage_name": null,
             "given_names": "Paul", "birth_year": 1950, "phone": null, "email": "p@example.org",
             "postal_address": "1 rue X", "outcome": null}
        ],
        "next": 2
    }))
    .unwrap()
}

fn overview() -> OverviewAnswer {
    serde_json::from_value(json!({
        "office": "caf-13",
        "cases": [{"state": "prepared", "cases": 1}, {"state": "sent", "cases": 2},
                  {"state": "answered", "cases": 7}, {"state": "refused", "cases": 1},
                  {"state": "purged", "cases": 0}],
        "submissions": 4, "oldest_waiting_seconds": 90000, "unsent": 1, "results_to_write": 0,
        "receipts_pending": 3, "next_purge_due": "2028-12-07T08:00:00Z", "retention_days": 730
    }))
    .unwrap()
}

#[test]
fn every_value_of_every_page_is_escaped() {
    let s = status("answered", HOSTILE, HOSTILE);
    let pages = [
        cases_page(std::slice::from_ref(&s)),
        case_page(&s, &contacts(HOSTILE), Some(format!("/cases/{CASE}?after=2")), CSRF_FIELD),
        submit_answer(
            &serde_json::from_value::<SubmitAnswer>(json!({
                "outcome": "nothing_sent",
                "report": [{"line": 3, "field": HOSTILE, "reason": HOSTILE}],
                "reason": HOSTILE
            }))
            .unwrap(),
        ),
    ];
    for page in pages {
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;"), "{page}");
    }
}

#[test]
fn the_cases_page_links_each_case_and_lists_its_refusals_with_their_reasons() {
    let page = cases_page(&[status("sent", "obs-sud-est", "trop jeune")]);
    assert!(
        page.contains(&format!("<a href=\"/cases/{CASE}\">…\u{2060}00000001</a>")),
        "the tail of a UUIDv7, its random part: {page}"
    );
    assert!(page.contains("envoyé, réponse attendue") && page.contains("1/2 lots reçus"), "{page}");
    assert!(page.contains("ligne 7 de la sélection") && page.contains("trop jeune"), "{page}");
    assert!(cases_page(&[]).contains("Aucun envoi"));
}

#[test]
fn a_case_page_lists_its_contacts_in_rank_order_and_its_files_once_settled() {
    let answered = case_page(&status("answered", "obs", "r"), &contacts("Dupont"), Some("/next".into()), CSRF_FIELD);
    let (first, second) = (answered.find("Dupont").unwrap(), answered.find("Durand").unwrap());
    assert!(first < second, "rank order");
    assert!(answered.contains("Dupont (nom d&#39;usage : Martin)"), "{answered}");
    assert!(answered.contains("offre acceptée le 2026-12-01"), "{answered}");
    // A result file is an export the API writes: a form's POST with the session's token, never
    // a link a prefetch or another page could follow.
    assert!(
        answered.contains(&format!(
            r#"<form class="inline" method="post" action="/cases/{CASE}/files/csv">{CSRF_FIELD}<button"#
        )),
        "{answered}"
    );
    assert!(!answered.contains(&format!(r#"href="/cases/{CASE}/files/"#)), "{answered}");
    assert!(answered.contains(r#"href="/next""#));
    let waiting = status("sent", "obs", "r");
    let empty = ContactsAnswer {
        state: passerelle_requester::CaseState::Sent,
        persons: 0,
        entries: vec![],
        next: None,
        ..contacts("x")
    };
    let sent = case_page(&waiting, &empty, None, CSRF_FIELD);
    assert!(!sent.contains("/files/") && sent.contains("pas répondu"), "{sent}");
}

#[test]
fn a_body_that_left_persons_out_is_shown_as_an_incomplete_answer() {
    let mut gap = status("answered", "obs", "r");
    gap.case.bodies[0].missing = 2;
    let page = case_page(&gap, &contacts("Dupont"), None, CSRF_FIELD);
    assert!(page.contains("réponse incomplète de l&#39;organisme (2 personne(s) omise(s))"), "{page}");
    let whole = case_page(&status("answered", "obs", "r"), &contacts("Dupont"), None, CSRF_FIELD);
    assert!(!whole.contains("réponse incomplète"), "{whole}");
}

#[test]
fn the_status_page_shows_counts_and_nothing_else() {
    let page = status_page(&overview(), false);
    for figure in ["7", "4", "1 j 1 h", "730"] {
        assert!(page.contains(figure), "{figure}: {page}");
    }
    assert!(!page.contains("/purge"), "the operator has no purge link");
    assert!(status_page(&overview(), true).contains(r#"href="/purge""#));
    // The answer the page is made of has no field for a person: its JSON holds only counts,
    // states, the office and times.
    let json = serde_json::to_value(overview()).unwrap();
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "cases",
            "next_purge_due",
            "office",
            "oldest_waiting_seconds",
            "receipts_pending",
            "results_to_write",
            "retention_days",
            "submissions",
            "unsent"
        ]
    );
}

#[test]
fn the_purge_pages_say_what_went() {
    let form = purge_form(r#"<input type="hidden" name="csrf" value="t">"#, &overview());
    assert!(form.contains(r#"name="csrf""#) && form.contains("730 jours"), "{form}");
    let answer: PurgeAnswer = serde_json::from_value(json!({
        "cut_off": "2026-12-07T08:00:00Z", "retention_days": 730,
        "submissions": [{"submission": "00000000-0000-7000-8000-0000000000aa", "cases": 2, "persons": 9, "result_files": 3}]
    }))
    .unwrap();
    let page = purge_answer(&answer);
    assert!(page.contains("1 envoi(s)") && page.contains(">9<"), "{page}");
}

#[test]
fn the_submission_form_labels_every_input_and_its_query_is_the_apis() {
    let form = submit_form("CSRF");
    assert!(
        form.starts_with(r#"<form class="stack" method="post" action="/submit" enctype="multipart/form-data">CSRF"#)
    );
    for id in
        ["selection", "encoding", "service", "purpose", "respond_by", "strict", "want-family_situation", "want-css"]
    {
        assert!(form.contains(&format!(r#"<label for="{id}">"#)), "{id}");
    }
    let mut fields = SubmitFields {
        want: vec!["family_situation".into(), "css".into()],
        service: "other".into(),
        purpose: "Atelier équilibre & chutes".into(),
        file_name: Some("sélection.csv".into()),
        strict: true,
        ..SubmitFields::default()
    };
    let path = submit_path(&fields).unwrap();
    assert_eq!(
        path,
        "/v1/cases?want=family_situation%2Ccss&service=other&purpose=Atelier+%C3%A9quilibre+%26+chutes&strict=true&name=s%C3%A9lection.csv"
    );
    fields.want.clear();
    assert!(submit_path(&fields).is_err());
}

#[test]
fn every_route_has_a_sample() {
    assert!(ROUTES.iter().any(|(m, p)| *m == "POST" && *p == "/submit"));
    assert!(ROUTES.iter().all(|(m, p)| (*m == "GET" || *m == "POST") && p.starts_with('/')));
}
