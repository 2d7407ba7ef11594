//! The social service pages' render functions on synthetic data: values escaped, suppressed
//! cells said as such, the operator's page without a person, every input labelled and every
//! `POST` form carrying the session's token, the forms' values mapped to the API's requests.

use std::collections::BTreeMap;

use passerelle_social_file::field;
use passerelle_social_service::requester_client::Worklist;
use passerelle_social_service::service::archive_views::{ArchiveList, GrantList};
use passerelle_social_service::service::overview::Overview;
use passerelle_social_service::service::transfer_views::{IncomingTransferView, TransferList};
use passerelle_social_service::service::views::FileView;
use passerelle_social_stats::{Level, Month, Structure, Table, Value};
use serde_json::json;

use super::*;

const CSRF: &str = r#"<input type="hidden" name="csrf" value="tok">"#;
const HOSTILE: &str = r#"<script>alert("x")</script>"#;

fn worklist() -> Worklist {
    serde_json::from_value(json!({
        "format": "passerelle.social-service-worklist/1",
        "office": "ss-13",
        "entries": [
            {"case": "0190a3b4-0000-7000-8000-000000000001", "line": 1, "rank": 1, "persons": 2, "score": 0.9,
             "family_name": HOSTILE, "usage_name": null, "given_names": "Alix", "birth_year": 1950,
             "phone": "04 91 00 00 00", "email": null, "postal_address": "3 rue des Essais\n13001 Marseille",
             "outcome": null},
            {"case": "0190a3b4-0000-7000-8000-000000000001", "line": 2, "rank": 2, "persons": 2, "score": 0.5,
             "family_name": "Declinova", "usage_name": null, "given_names": "Bea", "birth_year": null,
             "phone": null, "email": null, "postal_address": null,
             "outcome": {"outcome": "no_reply", "date": "2026-12-01", "agent": "sw-1"}},
        ],
        "next": null
    }))
    .unwrap()
}

fn file_view() -> FileView {
    serde_json::from_value(json!({
        "format": "passerelle.social-service-file/1",
        "file": "0190a3b4-0000-7000-8000-0000000000f1",
        "office": "ss-13",
        "state": "open",
        "opened_at": "2026-12-01T10:00:00Z",
        "opened_by": "sw-1",
        "last_activity_at": "2026-12-02T10:00:00Z",
        "source": {"case": "0190a3b4-0000-7000-8000-000000000001", "line": 1},
        "fields": {
            "identity.family_name": HOSTILE,
            "family.situation": "widowed",
            "social_situation.assessment": HOSTILE,
            "risk.risks": ["illness"],
            "care.gir_level": 4,
        },
        "actions": [{"action": "a1", "purpose": "relationship_and_offers", "start": "2026-12-02", "end": null,
                     "contacts": [{"channel": "visit", "date": "2026-12-02", "agent": "sw-1"}], "offers": []}],
        "offers": [],
    }))
    .unwrap()
}

/// Every `id` of an input, select or textarea has its `<label for>`; every `POST` form its token.
fn accessible_and_guarded(html: &str) {
    for tag in ["<input", "<select", "<textarea"] {
        for part in html.split(tag).skip(1) {
            let part = &part[..part.find('>').unwrap()];
            if part.contains(r#"type="hidden""#) {
                continue;
            }
            let at = part.find(" id=\"").unwrap_or_else(|| panic!("{tag}{part}> has an id")) + 5;
            let id = &part[at..at + part[at..].find('"').unwrap()];
            assert!(html.contains(&format!("for=\"{id}\"")), "`{id}` has a label");
        }
    }
    let posts = html.matches(r#"method="post""#).count();
    assert!(posts > 0);
    assert_eq!(html.matches(CSRF).count(), posts, "every POST form carries the token");
}

#[test]
fn the_worklist_escapes_the_persons_and_offers_the_outcomes_once_per_person() {
    let html = worklist::render(&worklist(), false, CSRF);
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("3 rue des Essais<br>13001 Marseille"));
    assert!(html.contains("sans réponse le 01/12/2026"), "the recorded outcome: {html}");
    assert_eq!(html.matches(r#"action="/worklist/outcome""#).count(), 1, "a form for the person not yet answered");
    for code in ["accepted", "declined", "no_reply"] {
        assert!(html.contains(&format!(r#"value="{code}""#)), "{code} is offered");
    }
    accessible_and_guarded(&html);
}

#[test]
fn a_file_s_page_shows_french_labels_escaped_values_and_a_form_per_field() {
    let html = file::render(&file_view(), CSRF);
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("Situation familiale") && html.contains("veuf·ve"), "French label and value");
    assert!(html.contains("Niveau GIR"));
    assert!(html.contains("visite") || html.contains("Visite"), "the contact channel in French: {html}");
    assert_eq!(html.matches(r#"name="field""#).count(), passerelle_social_file::FIELDS.len(), "one form per field");
    assert!(html.contains(r#"value="illness" checked"#), "the risks checked as held");
    accessible_and_guarded(&html);
}

#[test]
fn a_field_s_form_values_are_read_as_its_type_wants() {
    let info = |p| field(p).unwrap();
    assert_eq!(edit::value_of(info("care.gir_level"), &["4"], false).unwrap(), json!(4));
    assert!(edit::value_of(info("care.gir_level"), &["four"], false).is_err());
    assert_eq!(edit::value_of(info("care.gir_level"), &["4"], true).unwrap(), json!(null), "cleared");
    assert_eq!(edit::value_of(info("care.care_pathway"), &["false"], false).unwrap(), json!(false));
    assert_eq!(edit::value_of(info("care.care_pathway"), &[""], false).unwrap(), json!(null));
    assert_eq!(
        edit::value_of(info("risk.risks"), &["illness", "maternity"], false).unwrap(),
        json!(["illness", "maternity"])
    );
    assert_eq!(edit::value_of(info("risk.risks"), &[], false).unwrap(), json!(null));
    assert_eq!(
        edit::value_of(info("contacts.phones"), &["01 02\r\n\r\n03 04"], false).unwrap(),
        json!(["01 02", "03 04"])
    );
    assert_eq!(edit::value_of(info("family.situation"), &["widowed"], false).unwrap(), json!("widowed"));
    assert_eq!(
        edit::value_of(info("medical.opinions"), &[r#"[{"kind": "x"}]"#], false).unwrap(),
        json!([{"kind": "x"}])
    );
    assert!(edit::value_of(info("medical.opinions"), &[r#"{"kind": "x"}"#], false).is_err(), "a list");
}

#[test]
fn an_offer_s_form_names_the_file_first_and_its_session_s_attendance() {
    let form: file_forms::OfferForm = serde_json::from_value(json!({
        "kind": "collective", "theme": "falls_prevention", "others": "f2\n\nf1\n f3 ", "session": "2026-12-03", "attended": "yes"
    }))
    .unwrap();
    let request = file_forms::offer_request("f1", form);
    assert_eq!(request.participants, ["f1", "f2", "f3"]);
    assert_eq!(request.sessions.len(), 1);
    assert_eq!(request.sessions[0].attendees, ["f1"]);
}

#[test]
fn suppressed_cells_are_said_as_such() {
    assert_eq!(statistics::cell(Some(Value::Exact(12))), "12");
    assert!(statistics::cell(Some(Value::AtLeast(40))).contains("≥"));
    assert_eq!(statistics::cell(Some(Value::Hidden)), r#"<span class="suppressed">masquée</span>"#);
    let month = Month::parse("2026-11").unwrap();
    let structure = Structure {
        from: month,
        to: month,
        offices: BTreeMap::from([("ss-13".to_owned(), "carsat".to_owned())]),
        bodies: ["carsat".to_owned()].into(),
        national: false,
    };
    let cells = structure.keys().into_iter().map(|k| {
        let v = if k.level == Level::Office && k.category == "female" { Value::Hidden } else { Value::Exact(0) };
        (k, v)
    });
    let table = Table::new(structure.clone(), cells.collect()).unwrap();
    let html = statistics::render(&table);
    assert_eq!(html.matches(r#"class="suppressed""#).count(), 1, "{html}");
    assert!(html.contains("bureau ss-13 2026-11") && html.contains("organisme carsat 2026-11"));
    assert!(html.contains(r#"<th scope="row">"#));
}

#[test]
fn the_operator_s_page_shows_counts_and_no_person_even_if_the_answer_held_one() {
    let overview: Overview = serde_json::from_value(json!({
        "format": "passerelle.social-service-overview/1",
        "body": "carsat-sud-est", "office": "ss-13",
        "files_open": 7, "files_closed": 3,
        "last_pass_at": "2026-12-07T20:00:00Z", "flagged_idle": 2, "waiting_objection": 1,
        "next_pass_by": "2026-12-07T21:00:00Z", "pass_every_seconds": 3600,
        "transfers": {"format": "passerelle.social-service-transfers/1", "out_in_flight": 1, "in_awaiting": 0,
                      "oldest_in_flight": null, "refused_by_reason": {"person-not-attached": 2},
                      "accepted_out": 4, "accepted_in": 5},
        "family_name": "Dupontel", "nir": "184057512345678", "file": "0190a3b4-0000-7000-8000-0000000000f1"
    }))
    .unwrap();
    let html = status::render(&overview);
    for personal in ["Dupontel", "184057512345678", "0190a3b4"] {
        assert!(!html.contains(personal), "{personal} on the operator's page: {html}");
    }
    assert!(html.contains(">7<") && html.contains("personne non rattachée"), "{html}");
    assert!(html.contains("1 h"), "the period: {html}");
}

#[test]
fn transfers_archive_and_grants_escape_their_values() {
    let transfers: TransferList = serde_json::from_value(json!({
        "format": "passerelle.social-service-transfers/1", "office": "ss-13", "next": null,
        "transfers": [{"id": "t1", "direction": "in", "file": null, "from": HOSTILE, "to": "cpam/ss-13",
                       "state": "awaiting-attachment", "sent_at": "2026-12-01T10:00:00Z", "decided_at": null,
                       "refusal": null, "refusal_text": null, "withheld": ["medical-opinions"], "amendments": 0}]
    }))
    .unwrap();
    let html = transfers::render(&transfers);
    assert!(!html.contains("<script>") && html.contains(r#"href="/transfers/t1""#), "{html}");
    let incoming: IncomingTransferView = serde_json::from_value(json!({
        "format": "passerelle.social-service-transfers/1", "transfer": transfers.transfers[0],
        "person": {"nir": null, "family_name": HOSTILE, "usage_name": null, "given_names": "Alix", "birth_date": "1950-02-03"}
    }))
    .unwrap();
    let html = transfers::render_incoming(&incoming, CSRF);
    assert!(!html.contains("<script>") && html.contains("03/02/1950"), "{html}");
    assert!(html.contains(r#"value="person-not-attached""#) && html.contains(r#"value="already-followed""#));
    accessible_and_guarded(&html);

    let archive: ArchiveList = serde_json::from_value(json!({
        "format": "passerelle.social-service-archive-files/1", "purpose": "litigation", "next": null,
        "files": [{"file": HOSTILE, "office": "ss-13", "entered_at": "2026-01-01T00:00:00Z", "delete_at": "2031-01-01T00:00:00Z"}]
    }))
    .unwrap();
    let html = archive::render_list(&archive);
    assert!(!html.contains("<script>") && html.contains("contentieux"), "{html}");
    let form = archive::purpose_form("/archive", None);
    assert_eq!(form.matches("<option").count(), 7, "the norm's purposes, no other");
    assert!(!form.contains("csrf"), "a GET form puts no token in a URL");

    let grants: GrantList = serde_json::from_value(json!({
        "format": "passerelle.social-service-archive-grants/1",
        "grants": [{"format": "passerelle.social-service-archive-grant/1", "grant": "g1", "reader": HOSTILE,
                    "state": "awaiting-medical-officer", "created_at": "2026-12-01T10:00:00Z", "until": "2027-12-01T00:00:00Z",
                    "director_delegate": {"agent": "dd-1", "signed_at": "2026-12-01T10:00:00Z"},
                    "medical_officer": null, "revoked_at": null, "revoked_by": null}]
    }))
    .unwrap();
    let medical = grants::Signing { director: false, medical: true };
    let html = grants::render(&grants, medical, CSRF);
    assert!(!html.contains("<script>"), "{html}");
    assert_eq!(html.matches("/grants/g1/sign").count(), 1, "awaiting this medical officer");
    accessible_and_guarded(&html);
    let director = grants::Signing { director: true, medical: false };
    assert_eq!(grants::render(&grants, director, CSRF).matches("/grants/g1/sign").count(), 0, "signed already");
    let both = grants::Signing { director: true, medical: true };
    assert!(grants::render(&grants, both, CSRF).contains(r#"name="as""#), "both roles: say which");
}

#[test]
fn every_route_is_listed_once_and_the_nav_points_at_served_pages() {
    let mut seen = std::collections::HashSet::new();
    for route in ROUTES {
        assert!(seen.insert(route), "{route:?} twice");
    }
    for link in nav() {
        assert!(ROUTES.contains(&("GET", link.href)), "{} is served", link.href);
    }
}

#[test]
fn a_rights_access_shows_the_history_by_field_label_and_escapes_the_values() {
    let access: passerelle_social_service::service::views::AccessAnswer = serde_json::from_value(json!({
        "format": "passerelle.social-service-rights-access/1", "produced_at": "2026-12-07T10:00:00Z",
        "body": "carsat-sud-est", "office": "ss-13", "file": "f1", "state": "open",
        "opened_at": "2026-12-01T10:00:00Z", "last_activity_at": "2026-12-02T10:00:00Z", "source": null,
        "fields": {"identity.family_name": HOSTILE}, "actions": [], "offers": [],
        "history": [{"field": "care.gir_level", "kind": "rectification", "agent": "ro-1", "at": "2026-12-02T10:00:00Z"}],
        "rights": [{"kind": "object", "at": "2026-12-02T10:00:00Z", "agent": "ro-1", "reasons": HOSTILE, "decision": "pending"}]
    }))
    .unwrap();
    let html = rights::render_access(&access, CSRF);
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("Niveau GIR") && html.contains("en attente de la décision"), "{html}");
    assert!(html.contains(r#"action="/rights/f1/rectify""#) && html.contains(r#"action="/rights/f1/object""#));
    accessible_and_guarded(&html);
}
