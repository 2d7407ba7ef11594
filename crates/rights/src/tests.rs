//! The desk's rules, each on a settable clock (every call takes `now`).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use passerelle_protocol::nir::Nir;
use passerelle_protocol::v1;
use passerelle_test_support::nir_with_key;

use super::*;

const ME: &str = "carsat-sud-est";
const PEER: &str = "carsat-rhone-alpes";
const OFFICER: &str = "dr-13-01";
const CHECKER: &str = "acc-13-02";
const DAY: Duration = Duration::from_secs(86_400);

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_796_000_000)
}

fn nir() -> Nir {
    Nir::parse(&nir_with_key("2520613055123")).unwrap()
}

fn former() -> Nir {
    Nir::parse(&nir_with_key("2520613055777")).unwrap()
}

fn desk_in(dir: &Path) -> RightsDesk {
    RightsDesk::open(dir, ME, &[ME.to_owned(), PEER.to_owned()], &RightsSettings::default()).unwrap()
}

fn access() -> Opening {
    Opening {
        kind: RightsKind::Access,
        nir: nir(),
        former_nirs: vec![former()],
        corrected: v1::CategoryValues::default(),
        opened_by: OFFICER.into(),
        identity_checked_by: CHECKER.into(),
    }
}

fn rectification() -> Opening {
    let corrected = v1::CategoryValues { housing_aid: Some(true), ..Default::default() };
    Opening { kind: RightsKind::Rectification, corrected, ..access() }
}

fn answer_from(sender: &str, id: &str, holdings: Vec<v1::Holding>, to_ask: &[&str]) -> v1::RightsAnswer {
    v1::RightsAnswer {
        schema_minor: passerelle_protocol::SCHEMA_MINOR,
        schema_version: v1::SchemaVersion::SchemaVersion1 as i32,
        sender: sender.into(),
        request_id: id.into(),
        recipient: ME.into(),
        kind: v1::RightsKind::Access as i32,
        holdings,
        parties_to_ask: to_ask.iter().map(|s| s.to_string()).collect(),
        rectified: vec![],
        answered_at: None,
    }
}

/// An answer to a rectification.
fn rectified_from(sender: &str, id: &str, holdings: Vec<v1::Holding>, to_ask: &[&str]) -> v1::RightsAnswer {
    v1::RightsAnswer { kind: v1::RightsKind::Rectification as i32, ..answer_from(sender, id, holdings, to_ask) }
}

fn statistics_row() -> v1::Holding {
    v1::Holding {
        kind: v1::HoldingKind::Statistics as i32,
        case_id: "0190a3b4-0000-7000-8000-000000000001".into(),
        requester: "cnaf.caf-13".into(),
        since: Some(t0().into()),
        until: Some((t0() + 5 * 365 * DAY).into()),
        values: vec![],
        outcome: 0,
        outcome_date: None,
    }
}

fn received(source: &str) -> v1::Holding {
    let values = v1::CategoryValues {
        housing_aid: Some(false),
        family_situation: Some(v1::FamilySituation::Widowed as i32),
        ..Default::default()
    };
    v1::Holding {
        kind: v1::HoldingKind::ReceivedValues as i32,
        case_id: "0190a3b4-0000-7000-8000-000000000002".into(),
        requester: "cnaf.caf-13".into(),
        since: Some(t0().into()),
        until: Some((t0() + 730 * DAY).into()),
        values: vec![v1::SourcedValues { source: source.into(), values: Some(values) }],
        outcome: 0,
        outcome_date: None,
    }
}

#[test]
fn settings_refuse_a_deadline_beyond_the_legal_month_and_a_long_margin() {
    assert!(RightsSettings::default().check().is_ok());
    for (days, margin) in [(0, 7), (31, 7), (30, 31)] {
        let s = RightsSettings { answer_within_days: days, purge_margin_days: margin };
        assert!(s.check().is_err(), "{days}, {margin}");
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = RightsSettings { answer_within_days: 45, purge_margin_days: 7 };
    assert!(matches!(RightsDesk::open(dir.path(), ME, &[], &bad), Err(RightsError::Refused(_))));
    assert_eq!(kept_at_most(&RightsSettings::default()), 37 * DAY);
}

#[test]
fn an_opening_needs_who_checked_the_identity_and_the_right_values() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let no_check = Opening { identity_checked_by: " ".into(), ..access() };
    let e = desk.open_request(no_check, t0()).unwrap_err();
    assert!(matches!(&e, RightsError::Refused(m) if m.contains("identity_checked_by")), "{e}");
    let not_an_id = Opening { identity_checked_by: "Jean Dupont".into(), ..access() };
    assert!(matches!(desk.open_request(not_an_id, t0()), Err(RightsError::Refused(_))));
    let empty_rectification = Opening { kind: RightsKind::Rectification, ..access() };
    let e = desk.open_request(empty_rectification, t0()).unwrap_err();
    assert!(e.to_string().contains("at least one corrected value"), "{e}");
    let access_with_values = Opening { kind: RightsKind::Access, ..rectification() };
    assert!(matches!(desk.open_request(access_with_values, t0()), Err(RightsError::Refused(_))));
    assert!(desk.list().unwrap().is_empty(), "nothing stored for a refused opening");
    assert!(desk.outbox(t0()).unwrap().is_empty());
}

#[test]
fn an_opening_asks_every_observatory_itself_included_until_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let id = desk.open_request(rectification(), t0()).unwrap();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    let out = desk.outbox(t0()).unwrap();
    let recipients: Vec<&str> = out.iter().map(|o| o.request.recipient.as_str()).collect();
    assert_eq!(recipients, [ME, PEER]);
    let deadline = t0() + 30 * DAY;
    assert_eq!(desk.answer_by(t0()), deadline);
    for o in &out {
        let r = &o.request;
        assert_eq!((r.sender.as_str(), r.request_id.as_str(), r.nir.as_str()), (ME, id.as_str(), nir().as_str()));
        assert_eq!(r.former_nirs, [former().as_str()]);
        assert_eq!(r.kind, v1::RightsKind::Rectification as i32);
        assert_eq!(r.basis, v1::LegalBasis::Decree2017334Art3 as i32);
        assert_eq!(r.corrected.as_ref().unwrap().housing_aid, Some(true));
        assert_eq!(r.answer_by, Some(deadline.into()));
        assert_eq!(r.asked_at, Some(t0().into()));
        assert_eq!(o.expires_at, deadline, "clamped to the deadline, within the bus's 30-day cap");
    }
    assert_ne!(out[0].message_id, out[1].message_id);
    let again = desk.outbox(t0()).unwrap();
    assert_eq!(again[0].message_id, out[0].message_id, "a message keeps its id until sent");
    desk.sent(out[0].seq).unwrap();
    let left = desk.outbox(t0()).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].request.recipient, PEER);
    assert!(desk.outbox(deadline).unwrap().is_empty(), "an expired message is not published");
    let summary = &desk.list().unwrap()[0];
    assert_eq!((summary.state, summary.parties_asked, summary.parties_answered), (RequestState::Asking, 2, 0));
    assert_eq!(summary.opened_at, rfc3339(t0()));
}

#[test]
fn answers_count_once_from_parties_asked_and_observatories_name_the_parties_to_ask() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let id = desk.open_request(access(), t0()).unwrap();
    let now = t0() + DAY;

    // A party never asked: ignored, nothing it says is kept.
    let stranger = answer_from("cnam.cpam-13", &id, vec![received("cnam")], &["msa.msa-13"]);
    assert_eq!(desk.record_answer(&stranger, now).unwrap(), Recorded::default());
    // Unknown request: dropped.
    let lost = answer_from(ME, "0190a3b4-0000-4000-8000-0000000000ff", vec![], &[]);
    assert_eq!(desk.record_answer(&lost, now).unwrap(), Recorded::default());

    let mine = answer_from(ME, &id, vec![statistics_row()], &["cnaf.caf-13", "cnaf.caf-13", "Not A Party!"]);
    let r = desk.record_answer(&mine, now).unwrap();
    assert_eq!(r, Recorded { first: true, late: false, new_parties: 1, completed: false });
    let again = desk.record_answer(&mine, now).unwrap();
    assert_eq!(again, Recorded::default(), "a redelivery changes nothing");
    let peer = answer_from(PEER, &id, vec![], &["cnaf.caf-13", "msa"]);
    assert_eq!(desk.record_answer(&peer, now).unwrap().new_parties, 1, "caf-13 already asked; msa is new");

    let asked: Vec<String> = desk.outbox(now).unwrap().iter().map(|o| o.request.recipient.clone()).collect();
    assert_eq!(asked, [ME, PEER, "cnaf.caf-13", "msa"]);
    // A requester naming parties does not get them asked.
    let caf = answer_from("cnaf.caf-13", &id, vec![received("cnaf")], &["cnam.cpam-06"]);
    assert_eq!(desk.record_answer(&caf, now).unwrap(), Recorded { first: true, ..Recorded::default() });
    let msa = answer_from("msa", &id, vec![], &[]);
    assert!(desk.record_answer(&msa, now).unwrap().completed, "every party asked answered");

    let answer = desk.answer(&id, now).unwrap();
    assert_eq!(answer.state, RequestState::Answered);
    let parties: Vec<(&str, &str)> = answer.parties.iter().map(|p| (p.party.as_str(), p.role.as_str())).collect();
    assert_eq!(
        parties,
        [(ME, "observatory"), (PEER, "observatory"), ("cnaf.caf-13", "requester"), ("msa", "requester")]
    );
    assert!(answer.parties.iter().all(|p| p.answered_at.is_some() && !p.late));
    assert!(!answer.nothing_held());
    let caf = &answer.parties[2].holdings[0];
    assert_eq!(caf.kind, HoldingKind::ReceivedValues);
    assert_eq!(caf.until.as_deref(), Some(rfc3339(t0() + 730 * DAY).as_str()));
    let values: Vec<(&str, &str, &str)> =
        caf.values.iter().map(|v| (v.category.as_str(), v.source.as_str(), v.value.as_str())).collect();
    assert_eq!(values, [("family_situation", "cnaf", "widowed"), ("housing_aid", "cnaf", "false")]);
    assert_eq!(answer.parties[0].holdings[0].kind, HoldingKind::Statistics);
    assert_eq!(answer.nir, nir().as_str());
    assert!(!answer.parties.iter().any(|p| p.party == "cnam.cpam-13"), "the stranger left no trace");
    let s = &desk.list().unwrap()[0];
    assert_eq!((s.state, s.parties_asked, s.parties_answered, s.late_answers), (RequestState::Answered, 4, 4, 0));
}

#[test]
fn the_deadline_answers_the_request_and_a_late_answer_is_kept_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let id = desk.open_request(access(), t0()).unwrap();
    desk.record_answer(&answer_from(ME, &id, vec![], &[]), t0() + DAY).unwrap();
    let before = desk.answer(&id, t0() + 29 * DAY).unwrap();
    assert_eq!(before.state, RequestState::Asking);
    assert!(desk.delivered(&id, OFFICER, false, t0() + 29 * DAY).is_err(), "still asking");

    let deadline = t0() + 30 * DAY;
    assert_eq!(desk.tick(deadline - Duration::from_secs(1)).unwrap(), Tick::default());
    assert_eq!(desk.tick(deadline).unwrap(), Tick { answered_at_deadline: 1, purged: 0 });
    let answer = desk.answer(&id, deadline).unwrap();
    assert_eq!(answer.state, RequestState::Answered);
    let silent: Vec<&str> = answer.unanswered().map(|p| p.party.as_str()).collect();
    assert_eq!(silent, [PEER]);
    assert!(answer.nothing_held());

    // A late observatory answer is recorded, flagged, and asks nobody new (its message could
    // not outlive the deadline).
    let late = answer_from(PEER, &id, vec![statistics_row()], &["cnaf.caf-13"]);
    let r = desk.record_answer(&late, deadline + DAY).unwrap();
    assert_eq!(r, Recorded { first: true, late: true, new_parties: 0, completed: true });
    let answer = desk.answer(&id, deadline + DAY).unwrap();
    assert!(answer.parties[1].late && answer.parties[1].answered_at.is_some());
    assert_eq!(desk.list().unwrap()[0].late_answers, 1);
}

#[test]
fn the_request_is_purged_at_its_latest_date_and_a_late_answer_then_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let id = desk.open_request(access(), t0()).unwrap();
    let latest = t0() + kept_at_most(&RightsSettings::default());
    assert_eq!(desk.tick(latest - Duration::from_secs(1)).unwrap().purged, 0);
    assert_eq!(desk.tick(latest).unwrap(), Tick { answered_at_deadline: 0, purged: 1 });
    assert!(matches!(desk.answer(&id, latest), Err(RightsError::NotFound(_))));
    assert_eq!(
        desk.record_answer(&answer_from(ME, &id, vec![statistics_row()], &[]), latest).unwrap(),
        Recorded::default()
    );
    let s = &desk.list().unwrap()[0];
    assert_eq!((s.state, s.delivered_at.as_deref()), (RequestState::Purged, None));
    assert_eq!(s.purged_at.as_deref(), Some(rfc3339(latest).as_str()));
    assert!(desk.outbox(t0()).unwrap().is_empty(), "its messages are gone");
    assert_eq!(store::outbox_rows(&desk).unwrap(), 0);
}

#[test]
fn a_rectification_lists_the_corrected_values_and_what_each_party_changed() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let id = desk.open_request(rectification(), t0()).unwrap();
    let mut changed = answer_from(ME, &id, vec![], &[]);
    changed.kind = v1::RightsKind::Rectification as i32;
    changed.rectified = vec![v1::Rectified {
        kind: v1::HoldingKind::Statistics as i32,
        case_id: "0190a3b4-0000-7000-8000-000000000001".into(),
        category: v1::Category::HousingAid as i32,
    }];
    desk.record_answer(&changed, t0() + DAY).unwrap();
    let answer = desk.answer(&id, t0() + DAY).unwrap();
    assert_eq!(answer.kind, RightsKind::Rectification);
    assert_eq!(
        answer.corrected,
        [HeldValue { category: "housing_aid".into(), source: ME.into(), value: "true".into() }]
    );
    assert_eq!(answer.parties[0].rectified[0].category, "housing_aid");
    assert_eq!(answer.parties[0].rectified[0].kind, HoldingKind::Statistics);
}

/// Whether any file of `dir` (the database, its WAL and its shared memory alike) holds `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn after_delivery_no_nir_of_the_request_is_left_in_any_file_of_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let id = desk.open_request(rectification(), t0()).unwrap();
    let kept = desk
        .open_request(
            Opening { nir: Nir::parse(&nir_with_key("1480299123456")).unwrap(), former_nirs: vec![], ..access() },
            t0(),
        )
        .unwrap();
    let now = t0() + DAY;
    for party in [ME, PEER] {
        desk.record_answer(
            &rectified_from(party, &id, vec![received("cnaf"), statistics_row()], &["cnaf.caf-13"]),
            now,
        )
        .unwrap();
    }
    let out = desk.outbox(now).unwrap();
    desk.sent(out[0].seq).unwrap();
    let (n, f) = (nir(), former());
    assert!(!files_holding(dir.path(), n.as_str()).is_empty(), "the scan sees the NIR while it is held");

    let e = desk.delivered(&id, OFFICER, false, now).unwrap_err();
    assert!(matches!(e, RightsError::Refused(_)), "cnaf.caf-13 has not answered: {e}");
    let s = desk.delivered(&id, OFFICER, true, now).unwrap();
    assert_eq!(s.state, RequestState::Purged);
    assert_eq!(s.delivered_at.as_deref(), Some(rfc3339(now).as_str()));
    assert_eq!((s.parties_asked, s.parties_answered), (3, 2), "the counts stay in the tombstone");

    for needle in [n.as_str(), f.as_str()] {
        let left = files_holding(dir.path(), needle);
        assert!(left.is_empty(), "a NIR of the delivered request is still in {left:?}");
    }
    assert!(matches!(desk.answer(&id, now), Err(RightsError::NotFound(_))));
    assert!(matches!(desk.delivered(&id, OFFICER, true, now), Err(RightsError::Refused(_))));
    assert!(matches!(
        desk.delivered("0190a3b4-0000-4000-8000-0000000000ff", OFFICER, true, now),
        Err(RightsError::NotFound(_))
    ));
    // The other request is untouched.
    assert_eq!(desk.answer(&kept, now).unwrap().state, RequestState::Asking);
    let tombstone = desk.list().unwrap().into_iter().find(|s| s.request_id == id).unwrap();
    assert_eq!((tombstone.kind, tombstone.opened_by.as_str()), (RightsKind::Rectification, OFFICER));
}

#[test]
fn the_desk_reopens_its_requests_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let id = desk_in(dir.path()).open_request(access(), t0()).unwrap();
    let desk = desk_in(dir.path());
    assert_eq!(desk.outbox(t0()).unwrap().len(), 2);
    assert_eq!(desk.answer(&id, t0()).unwrap().request_id, id);
}

#[test]
fn the_page_is_french_escaped_printable_and_scriptless() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let id = desk.open_request(access(), t0()).unwrap();
    let mut odd = received("cnaf");
    odd.requester = "cnaf.<b>".into();
    desk.record_answer(&answer_from(ME, &id, vec![odd, statistics_row()], &[]), t0()).unwrap();
    let page = printable::page(&desk.answer(&id, t0()).unwrap());
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("lang=\"fr\""));
    assert!(page.contains("<h1>Réponse à votre demande de droit d'accès</h1>"), "{page}");
    assert!(page.contains("@media print") && page.contains("size:A4"));
    let lower = page.to_lowercase();
    assert!(
        !lower.contains("<script")
            && !lower.contains("http://")
            && !lower.contains("https://")
            && !lower.contains("src=")
    );
    assert!(page.contains("cnaf.&lt;b&gt;") || page.contains("bureau &lt;b&gt;"), "escaped: {page}");
    assert!(!page.contains("<b>"));
    assert!(page.contains("Observatoire régional des situations de fragilité (CARSAT Sud-Est)"));
    assert!(page.contains("Situation familiale") && page.contains("veuf·ve") && page.contains("<td>Non</td>"));
    assert!(page.contains("pseudonymisée"));
    assert!(page.contains("pas encore répondu") && !page.contains("pas répondu à temps"), "still asking");
    let late = printable::page(&desk.answer(&id, t0() + 30 * DAY).unwrap());
    assert!(late.contains("pas répondu à temps") && late.contains("(CARSAT Rhône-Alpes), interrogé le"));
    for code in ["family_situation", "housing_aid", "widowed", "received-values", "statistics"] {
        assert!(!page.contains(code), "`{code}` is not printed");
    }
    let nothing = ConsolidatedAnswer { parties: vec![], ..desk.answer(&id, t0()).unwrap() };
    assert!(printable::page(&nothing).contains("Aucun organisme ne détient d'information vous concernant"));
}

#[test]
fn the_rectification_page_says_what_was_asked_and_what_each_body_changed() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let id = desk.open_request(rectification(), t0()).unwrap();
    let mut changed = rectified_from(ME, &id, vec![statistics_row()], &[]);
    changed.rectified = vec![v1::Rectified {
        kind: v1::HoldingKind::Statistics as i32,
        case_id: "0190a3b4-0000-7000-8000-000000000001".into(),
        category: v1::Category::HousingAid as i32,
    }];
    desk.record_answer(&changed, t0()).unwrap();
    desk.record_answer(&rectified_from(PEER, &id, vec![], &[]), t0()).unwrap();
    let page = printable::page(&desk.answer(&id, t0()).unwrap());
    assert!(page.contains("<h1>Réponse à votre demande de droit de rectification</h1>"), "{page}");
    assert!(page.contains("<li>Aide au logement : Oui</li>"), "the corrected value in words: {page}");
    assert!(
        page.contains(
            "<li>Observatoire régional des situations de fragilité (CARSAT Sud-Est) a corrigé : Aide au logement.</li>"
        ),
        "{page}"
    );
    assert!(!page.contains("pas répondu"), "every party answered: {page}");
}

#[test]
fn an_observatory_code_that_cannot_name_a_queue_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = RightsDesk::open(dir.path(), "CARSAT Sud", &[], &RightsSettings::default()).unwrap_err();
    assert!(matches!(&e, RightsError::Refused(m) if m.contains("observatory code")), "{e}");
    let desk =
        RightsDesk::open(dir.path(), ME, &[PEER.into(), ME.into(), PEER.into()], &RightsSettings::default()).unwrap();
    desk.open_request(access(), t0()).unwrap();
    let asked: Vec<String> = desk.outbox(t0()).unwrap().into_iter().map(|o| o.request.recipient).collect();
    assert_eq!(asked, [PEER, ME], "each observatory once, in the deployment's order");
}

#[test]
fn an_answer_whose_times_no_calendar_can_say_is_read_and_printed_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let id = desk.open_request(access(), t0()).unwrap();
    let edge = chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp();
    let odd = |seconds: i64, nanos: i32| Some(prost_types::Timestamp { seconds, nanos });
    let holdings = vec![
        v1::Holding { since: odd(i64::MAX, 999_999_999), until: odd(i64::MIN, -999_999_999), ..statistics_row() },
        v1::Holding { since: odd(edge, 0), until: odd(-edge, 0), ..statistics_row() },
        v1::Holding {
            since: odd(edge + 1, 0),
            until: odd(0, i32::MAX),
            outcome_date: Some(v1::Date { year: u32::MAX, month: u32::MAX, day: 0 }),
            ..statistics_row()
        },
    ];
    let peer = answer_from(PEER, &id, holdings, &[]);
    assert!(desk.record_answer(&peer, t0() + DAY).unwrap().first);
    let answer = desk.answer(&id, t0() + DAY).unwrap();
    let held = &answer.parties[1].holdings;
    assert_eq!(held.len(), 3, "every holding stays in the answer");
    assert_eq!((held[0].since.as_deref(), held[0].until.as_deref()), (None, None), "out of range: not said");
    assert!(held[1].since.is_some() && held[2].since.is_none());
    let page = printable::page(&answer);
    assert!(page.contains("</html>"));
    assert!(rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 4)).starts_with('+'));
}

#[test]
fn a_rectification_to_a_value_outside_its_category_is_refused_at_opening() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let unspecified =
        v1::CategoryValues { family_situation: Some(v1::FamilySituation::Unspecified as i32), ..Default::default() };
    let thirteenth = v1::CategoryValues {
        housing_aid: Some(true),
        pension_start_date: Some(v1::Date { year: 2024, month: 13, day: 1 }),
        ..Default::default()
    };
    let unknown = v1::CategoryValues { housing_aid: Some(true), family_situation: Some(99), ..Default::default() };
    for (corrected, says) in
        [(unspecified, "family_situation"), (thirteenth, "pension_start_date"), (unknown, "no category")]
    {
        let e = desk.open_request(Opening { corrected, ..rectification() }, t0()).unwrap_err();
        assert!(matches!(&e, RightsError::Refused(m) if m.starts_with("corrected:") && m.contains(says)), "{e}");
    }
    assert!(desk.list().unwrap().is_empty(), "nothing stored, nobody asked");
}

#[test]
fn an_answer_of_another_kind_than_its_request_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let id = desk.open_request(access(), t0()).unwrap();
    let mut changed = answer_from(PEER, &id, vec![], &[]);
    changed.kind = v1::RightsKind::Rectification as i32;
    changed.rectified = vec![v1::Rectified {
        kind: v1::HoldingKind::Statistics as i32,
        case_id: "0190a3b4-0000-7000-8000-000000000001".into(),
        category: v1::Category::HousingAid as i32,
    }];
    let e = desk.record_answer(&changed, t0() + DAY).unwrap_err();
    assert!(matches!(&e, RightsError::Refused(m) if m.contains("another kind")), "{e}");
    let unspecified = v1::RightsAnswer { kind: 0, ..answer_from(PEER, &id, vec![], &[]) };
    assert!(matches!(desk.record_answer(&unspecified, t0() + DAY), Err(RightsError::Refused(_))));
    let answer = desk.answer(&id, t0() + DAY).unwrap();
    assert!(answer.parties.iter().all(|p| p.answered_at.is_none() && p.rectified.is_empty()));
}

#[test]
fn an_opening_names_at_most_sixteen_former_nirs() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let formers: Vec<Nir> = (0..=MAX_FORMER_NIRS)
        .map(|i| Nir::parse(&nir_with_key(&format!("2520613055{:03}", 200 + i))).unwrap())
        .collect();
    let many = Opening { former_nirs: formers.clone(), ..access() };
    let e = desk.open_request(many, t0()).unwrap_err();
    assert!(matches!(&e, RightsError::Refused(m) if m.contains("former NIRs")), "{e}");
    assert!(desk.list().unwrap().is_empty(), "nothing stored");
    let enough = Opening { former_nirs: formers[..MAX_FORMER_NIRS].to_vec(), ..access() };
    assert!(desk.open_request(enough, t0()).is_ok());
}

#[test]
fn an_observatory_naming_more_parties_than_a_deployment_has_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let id = desk.open_request(access(), t0()).unwrap();
    let many: Vec<String> = (0..=MAX_PARTIES_TO_ASK).map(|i| format!("cnaf.caf-{i}")).collect();
    let names: Vec<&str> = many.iter().map(String::as_str).collect();
    let flood = answer_from(PEER, &id, vec![], &names);
    let e = desk.record_answer(&flood, t0() + DAY).unwrap_err();
    assert!(matches!(&e, RightsError::Refused(m) if m.contains("parties to ask")), "{e}");
    assert_eq!(desk.outbox(t0() + DAY).unwrap().len(), 2, "nobody new asked");
    assert_eq!(desk.list().unwrap()[0].parties_answered, 0, "the refused answer is not recorded");
    let fair = answer_from(PEER, &id, vec![], &names[..MAX_PARTIES_TO_ASK]);
    assert_eq!(desk.record_answer(&fair, t0() + DAY).unwrap().new_parties, MAX_PARTIES_TO_ASK as u32);
}

#[test]
fn a_purge_whose_scrub_a_reader_held_back_is_scrubbed_at_the_next_tick() {
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_in(dir.path());
    let id = desk.open_request(access(), t0()).unwrap();
    let now = t0() + DAY;
    // Another process reading rights.db (the local API, a backup) holds a snapshot open.
    let reader = passerelle_sqlite::rusqlite::Connection::open(desk.path()).unwrap();
    reader.execute_batch("BEGIN; SELECT COUNT(*) FROM requests;").unwrap();
    let _ = reader.query_row("SELECT COUNT(*) FROM requests", [], |r| r.get::<_, i64>(0)).unwrap();
    let s = desk.delivered(&id, OFFICER, true, now).unwrap();
    assert_eq!(s.state, RequestState::Purged, "delivered, whatever the scrub");
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    assert_eq!(desk.tick(now).unwrap(), Tick::default(), "nothing else to do");
    for needle in [nir(), former()] {
        let left = files_holding(dir.path(), needle.as_str());
        assert!(left.is_empty(), "a NIR of the delivered request is still in {left:?}");
    }
}
