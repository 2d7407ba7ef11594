//! The rights pages' rendering: every value escaped, the list without a NIR, the form read
//! line by line without repeating a NIR, and the letter's stylesheet the one its policy allows.

use passerelle_protocol::untrusted::has_nir_run;
use passerelle_rights::{
    ConsolidatedAnswer, HeldValue, Holding, HoldingKind, PartyAnswer, RequestState, RequestSummary, RightsKind,
};

use super::render::{answer_page, changes, list_page, open_form, opposition_page, OpenForm};
use crate::api::rights::AskedRight;

const HOSTILE: &str = r#"<script>alert("x")</script>"#;
const NIR: &str = "150051305500186";

fn summary(state: RequestState, late: u32) -> RequestSummary {
    RequestSummary {
        request_id: "0190b6a2-5c3e-7d41-9a8f-3b2c1d0e4f51".to_owned(),
        kind: RightsKind::Access,
        state,
        opened_by: HOSTILE.to_owned(),
        opened_at: "2026-12-07T18:00:00Z".to_owned(),
        answer_by: "2027-01-06T18:00:00Z".to_owned(),
        parties_asked: 3,
        parties_answered: 2,
        late_answers: late,
        delivered_at: None,
        purged_at: None,
    }
}

fn answer(state: RequestState) -> ConsolidatedAnswer {
    let value =
        HeldValue { category: "family_situation".to_owned(), source: HOSTILE.to_owned(), value: HOSTILE.to_owned() };
    ConsolidatedAnswer {
        request_id: "0190b6a2-5c3e-7d41-9a8f-3b2c1d0e4f51".to_owned(),
        kind: RightsKind::Rectification,
        state,
        observatory: "carsat-sud-est".to_owned(),
        opened_by: "officer-1".to_owned(),
        identity_checked_by: HOSTILE.to_owned(),
        opened_at: "2026-12-07T18:00:00Z".to_owned(),
        answer_by: "2027-01-06T18:00:00Z".to_owned(),
        nir: NIR.to_owned(),
        former_nirs: vec![HOSTILE.to_owned()],
        corrected: vec![value.clone()],
        parties: vec![
            PartyAnswer {
                party: HOSTILE.to_owned(),
                role: "requester".to_owned(),
                asked_at: "2026-12-07T18:00:01Z".to_owned(),
                answered_at: Some("2026-12-08T09:00:00Z".to_owned()),
                late: true,
                holdings: vec![Holding {
                    kind: HoldingKind::OfferOutcome,
                    case_id: HOSTILE.to_owned(),
                    requester: HOSTILE.to_owned(),
                    since: Some("2026-06-01".to_owned()),
                    until: Some(HOSTILE.to_owned()),
                    values: vec![value],
                    outcome: Some(HOSTILE.to_owned()),
                    outcome_date: Some(HOSTILE.to_owned()),
                }],
                rectified: vec![],
            },
            PartyAnswer {
                party: "cnav".to_owned(),
                role: "observatory".to_owned(),
                asked_at: "2026-12-07T18:00:01Z".to_owned(),
                answered_at: None,
                late: false,
                holdings: vec![],
                rectified: vec![],
            },
        ],
    }
}

#[test]
fn the_list_shows_no_nir_and_escapes_every_value() {
    let requests =
        [summary(RequestState::Asking, 0), summary(RequestState::Answered, 2), summary(RequestState::Purged, 0)];
    let html = list_page(&requests, Some("0190b6a2-5c3e-7d41-9a8f-3b2c1d0e4f51"));
    assert!(!html.contains("<script>"), "{html}");
    assert!(!has_nir_run(&html), "{html}");
    assert!(html.contains(r#"href="/rights/0190b6a2-5c3e-7d41-9a8f-3b2c1d0e4f51""#));
    assert!(html.contains("2 en retard"), "late answers said in words, not by colour alone");
    assert!(html.contains("enregistrée remise"));
    assert!(list_page(&[], None).contains("Aucune demande."));
}

#[test]
fn the_answer_escapes_every_value_and_says_who_did_not_answer() {
    for state in [RequestState::Asking, RequestState::Answered] {
        let html = answer_page(&answer(state), "<input type=\"hidden\" name=\"csrf\" value=\"t\">");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains(NIR), "the officer sees the person's NIR");
        assert!(html.contains("reçue en retard"));
        assert!(html.contains(r#"action="/rights/0190b6a2-5c3e-7d41-9a8f-3b2c1d0e4f51/delivered""#));
        assert!(html.contains(r#"name="csrf""#));
        assert_eq!(html.contains(r#"id="anyway""#), state == RequestState::Asking);
        assert_eq!(html.contains("pas de réponse dans le délai"), state == RequestState::Answered);
        assert!(!html.contains("style="), "the console's policy refuses inline styles");
    }
}

#[test]
fn the_form_is_read_line_by_line_without_repeating_a_nir() {
    let lines = "category,value\n\nfamily_situation, married\ncss,true\n";
    let read = changes(lines).unwrap();
    assert_eq!(read.len(), 2);
    assert_eq!((read[0].category.as_str(), read[0].value.as_str()), ("family_situation", "married"));
    let e = changes("css,true\nshoe_size,42\nfamily_situation\ncss,peut-être").unwrap_err();
    assert!(e.contains("ligne 2") && e.contains("ligne 3") && e.contains("ligne 4 (css)"), "{e}");
    let e = changes(&format!("family_situation,{NIR}")).unwrap_err();
    assert!(!e.contains(NIR), "{e}");

    let form = |kind: &str, changes: &str, by: &str| OpenForm {
        kind: kind.to_owned(),
        nir: format!(" {NIR} "),
        former_nirs: "\n150051305500186, 2500513055001 99\n".to_owned(),
        changes: changes.to_owned(),
        identity_checked_by: by.to_owned(),
    };
    let body = form("rectification", "css,true", " agent-7 ").body().unwrap();
    assert_eq!(
        (body.kind, body.nir.as_str(), body.identity_checked_by.as_str()),
        (AskedRight::Rectification, NIR, "agent-7")
    );
    assert_eq!(body.former_nirs, vec![NIR.to_owned(), "250051305500199".to_owned()]);
    for (kind, changes, by) in
        [("rectification", "", "a"), ("access", "css,true", "a"), ("access", "", " "), ("", "", "a")]
    {
        let e = form(kind, changes, by).body().unwrap_err();
        assert!(!e.contains(NIR), "{e}");
    }
    let opposition = form("opposition", "css,true", "").body().unwrap();
    assert!(opposition.corrected.is_empty(), "an opposition stores nothing, sends no change");
}

#[test]
fn the_form_comes_back_filled_and_escaped() {
    let filled = OpenForm { kind: "access".to_owned(), nir: HOSTILE.to_owned(), ..OpenForm::default() };
    let html = open_form("<input type=\"hidden\" name=\"csrf\" value=\"t\">", &filled, Some(HOSTILE));
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains(r#"<option value="access" selected>"#));
    for field in ["kind", "nir", "former_nirs", "changes", "identity_checked_by"] {
        assert!(html.contains(&format!(r#"<label for="{field}">"#)), "{field}");
        assert!(html.contains(&format!(r#"id="{field}" name="{field}""#)), "{field}");
    }
    assert!(!opposition_page(HOSTILE, HOSTILE).contains("<script>"));
}

#[test]
fn the_letter_has_one_stylesheet_the_one_its_policy_allows() {
    let page = passerelle_rights::printable::page(&answer(RequestState::Answered));
    let style = format!("<style>{}</style>", passerelle_rights::printable::STYLE);
    assert_eq!(page.matches("<style").count(), 1);
    assert!(page.contains(&style));
    assert!(!page.contains("style=") && !page.contains("<script") && !page.contains("<link"));
}
