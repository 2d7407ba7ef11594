//! The requester's checks on a well-formed Request and Receipt (all pass), then broken one way at
//! a time: each breakage fails exactly the rules named.

use std::time::{Duration, SystemTime};

use passerelle_protocol::nir::{self, Nir};
use passerelle_protocol::v1::{self, Category, CategoryValues, LegalBasis, OfferedService, Sex};
use prost::Message as _;

use crate::checks::*;
use crate::requester_checks::{aged_55, check_requester, Expected};

fn day(year: i32, month: u32, day: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(year, month, day).expect("a date")
}

const CASE: &str = "0190a0b0-0000-7000-8000-0000000000c1";

fn nir(sex: u8, year: u32, month: u32, order: u32) -> String {
    nir::with_key(&format!("{sex}{:02}{month:02}75956{order:03}", year % 100)).unwrap().as_str().to_owned()
}

fn expected() -> Expected {
    Expected {
        body: "cnaf".into(),
        office: Some("caf-13".into()),
        observatory: "obs".into(),
        partner_user: Some("u".into()),
        today: day(2026, 6, 15),
        now: SystemTime::now(),
    }
}

fn request(index: u32, count: u32, persons: Vec<v1::RequestedPerson>) -> v1::Request {
    v1::Request {
        schema_version: 1,
        schema_minor: 1,
        sender: "cnaf".into(),
        requester_office: "caf-13".into(),
        case_id: CASE.into(),
        observatory: "obs".into(),
        purpose: "atelier".into(),
        wanted: vec![Category::LongTermCondition as i32],
        respond_by: Some((SystemTime::now() + Duration::from_secs(86_400)).into()),
        chunk_index: index,
        chunk_count: count,
        persons,
        basis: LegalBasis::Decree2017334Art3 as i32,
        service: OfferedService::PreventionWorkshop as i32,
    }
}

fn person(order: u32, year: u32, month: u32) -> v1::RequestedPerson {
    v1::RequestedPerson {
        nir: nir(1, year, month, order),
        former_nirs: vec![],
        sex: Sex::Male as i32,
        birth_year: year,
        commune_code: "75056".into(),
        known_risk_factors: None,
    }
}

fn raw(type_name: &str, body: Vec<u8>, headers: &[(&str, i64)]) -> Received {
    Received {
        type_name: Some(type_name.into()),
        content_type: Some(CONTENT_TYPE.into()),
        message_id: Some(uuid::Uuid::now_v7().to_string()),
        user_id: Some("u".into()),
        correlation_id: Some(CASE.into()),
        expiration: Some("60000".into()),
        headers: headers.iter().map(|(k, v)| ((*k).to_owned(), Some(*v))).collect(),
        body,
        arrived: SystemTime::now(),
    }
}

fn of(req: &v1::Request) -> Received {
    let headers = [
        (SCHEMA_VERSION_HEADER, 1),
        (SCHEMA_MINOR_HEADER, 1),
        (CHUNK_INDEX_HEADER, i64::from(req.chunk_index)),
        (CHUNK_COUNT_HEADER, i64::from(req.chunk_count)),
    ];
    raw("passerelle.v1.Request", req.encode_to_vec(), &headers)
}

fn receipt(chunks: u32) -> Received {
    let r = v1::Receipt {
        schema_version: 1,
        schema_minor: 1,
        sender: "cnaf".into(),
        case_id: CASE.into(),
        chunks_received: chunks,
    };
    raw("passerelle.v1.Receipt", r.encode_to_vec(), &[(SCHEMA_VERSION_HEADER, 1), (SCHEMA_MINOR_HEADER, 1)])
}

/// The failed rules when the two chunks are changed by `edit` (the Receipt by `edit_receipt`).
fn failed(edit: impl Fn(&mut Vec<v1::Request>), edit_receipt: impl Fn(&mut Option<Received>)) -> Vec<&'static str> {
    let mut requests = vec![
        request(0, 2, vec![person(1, 1950, 3), person(2, 1960, 11)]),
        request(1, 2, vec![person(3, 1971, 5), person(4, 1955, 32)]),
    ];
    edit(&mut requests);
    let raws: Vec<Received> = requests.iter().map(of).collect();
    let mut r = Some(receipt(2));
    edit_receipt(&mut r);
    check_requester(&expected(), &raws, r.as_ref(), 2).failed()
}

fn same(_: &mut Option<Received>) {}

#[test]
fn a_requester_that_follows_every_rule_passes_them_all() {
    assert_eq!(failed(|_| {}, same), Vec::<&str>::new());
}

#[test]
fn each_broken_rule_fails_by_its_name() {
    assert_eq!(failed(|r| r[1].persons.push(person(5, 1971, 6)), same), ["persons-aged-55"], "55 only from 30 June");
    assert_eq!(failed(|r| r[1].persons.push(person(5, 1971, 99)), same), ["persons-aged-55"], "no month: December");
    assert_eq!(failed(|r| r[0].service = 0, same), ["request-service"]);
    assert_eq!(failed(|r| r[0].basis = 2, same), ["request-basis"]);
    assert_eq!(failed(|r| r[0].observatory = "other".into(), same), ["request-fields"]);
    assert_eq!(failed(|r| r[0].wanted.push(99), same), ["request-fields"]);
    assert_eq!(failed(|r| r[0].respond_by = None, same), ["request-fields"]);
    assert_eq!(failed(|r| r[1].chunk_index = 0, same), ["request-received", "request-chunks"]);
    assert_eq!(failed(|r| r[1].persons[0].commune_code = "750".into(), same), ["persons-valid"]);
    let known = |r: &mut Vec<v1::Request>| {
        r[0].persons[0].known_risk_factors =
            Some(CategoryValues { long_term_condition: Some(true), ..Default::default() })
    };
    assert_eq!(failed(known, same), ["known-risk-factors-in-branch"], "a CNAM category sent as known by the CAF");
    let own = |r: &mut Vec<v1::Request>| {
        r[0].persons[0].known_risk_factors = Some(CategoryValues { rsa: Some(true), ..Default::default() })
    };
    assert_eq!(failed(own, same), Vec::<&str>::new(), "its own branch's");
    assert_eq!(failed(|_| {}, |r| *r = None), ["receipt-sent"]);
    assert_eq!(failed(|_| {}, |r| *r = Some(receipt(1))), ["receipt-sent"]);
    assert_eq!(failed(|_| {}, |r| r.as_mut().unwrap().correlation_id = None), ["receipt-sent"]);
}

#[test]
fn the_age_is_counted_to_the_month_the_nir_gives() {
    let n = |month: u32| Nir::parse(&nir(1, 1971, month, 1)).unwrap();
    // Taken as born on the last day of the NIR's month: 55 from that day, never before.
    assert!(aged_55(&n(5), 1971, day(2026, 6, 15)) && !aged_55(&n(6), 1971, day(2026, 6, 15)));
    assert!(aged_55(&n(6), 1971, day(2026, 6, 30)) && !aged_55(&n(6), 1971, day(2026, 6, 29)));
    assert!(
        aged_55(&n(35), 1971, day(2026, 6, 15)) && !aged_55(&n(36), 1971, day(2026, 6, 15)),
        "31–42: the month plus 30"
    );
    assert!(
        !aged_55(&n(99), 1971, day(2026, 12, 30)) && aged_55(&n(99), 1971, day(2026, 12, 31)),
        "no month: December"
    );
}

#[test]
fn a_header_that_disagrees_with_its_field_fails_request_headers() {
    let requests = [request(0, 1, vec![person(1, 1950, 3)])];
    let mut raws: Vec<Received> = requests.iter().map(of).collect();
    raws[0].headers.remove(CHUNK_INDEX_HEADER);
    let report = check_requester(&expected(), &raws, Some(&receipt(2)), 2);
    assert_eq!(report.failed(), ["request-headers"]);
    raws[0].headers.insert(CHUNK_INDEX_HEADER.into(), Some(0));
    raws[0].headers.insert(SCHEMA_MINOR_HEADER.into(), Some(7));
    assert_eq!(check_requester(&expected(), &raws, Some(&receipt(2)), 2).failed(), ["request-headers"]);
}
