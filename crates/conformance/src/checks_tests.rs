//! The checks against a simulated responder that follows every rule (all pass), then broken one
//! way at a time: each breakage fails exactly the rules named.

use std::time::{Duration, SystemTime};

use passerelle_protocol::catalogue;
use passerelle_protocol::v1::{self, Category, Decline, DeclineReason, PersonStatus};
use prost::Message as _;

use crate::checks::*;
use crate::population::Population;
use crate::responder::{solicitation, ResponderRun};

/// How the simulated responder misbehaves.
#[derive(Debug, Clone, Copy, Default)]
struct Flaws {
    ignore_former_nirs: bool,
    formers_first: bool,
    ignore_identity: bool,
}

fn run(held: &[Category]) -> (ResponderRun, Population) {
    let run = ResponderRun {
        broker: ResponderRun::broker("amqp://x", "p", "obs", "cnaf"),
        observatory: "obs".into(),
        body: "cnaf".into(),
        held: held.to_vec(),
        deadline: Duration::from_secs(30),
        wait_for_partner: Duration::from_secs(1),
        partner_user: Some("partner".into()),
    };
    (run, Population::new(held))
}

/// The product's matching rule, as a partner would write it (or break it).
fn answer(chunk: &v1::Solicitation, population: &Population, flaws: Flaws) -> v1::Response {
    let held: Vec<i32> = population.held.iter().map(|c| *c as i32).collect();
    let answers = chunk
        .persons
        .iter()
        .map(|p| {
            let mut nirs = vec![p.nir.clone()];
            if !flaws.ignore_former_nirs {
                nirs.extend(p.former_nirs.iter().cloned());
            }
            if flaws.formers_first {
                nirs.reverse();
            }
            let agrees = |r: &crate::population::ExtractRow| {
                flaws.ignore_identity || (r.sex as i32 == p.sex && r.birth_year == p.birth_year)
            };
            let row = nirs.iter().find_map(|n| {
                let current = population.rows.iter().find(|r| &r.nir == n && agrees(r));
                let former = population.rows.iter().find(|r| r.former_nirs.contains(n) && agrees(r));
                current.or(if flaws.ignore_former_nirs { None } else { former })
            });
            match row {
                Some(r) => {
                    let mut values = r.values.clone();
                    values.retain(|c| chunk.wanted.contains(&(c as i32)));
                    v1::PersonAnswer {
                        person_ref: p.person_ref,
                        status: PersonStatus::Found as i32,
                        values: Some(values),
                    }
                }
                None => {
                    v1::PersonAnswer { person_ref: p.person_ref, status: PersonStatus::NotFound as i32, values: None }
                }
            }
        })
        .collect();
    let declined = chunk
        .wanted
        .iter()
        .filter(|n| !held.contains(n))
        .map(|&n| Decline {
            category: n,
            reason: if catalogue::by_number(n).is_some() { DeclineReason::NotHeld } else { DeclineReason::NotInDecree }
                as i32,
            detail: String::new(),
        })
        .collect();
    v1::Response {
        schema_version: 1,
        schema_minor: 1,
        sender: "cnaf".into(),
        case_id: chunk.case_id.clone(),
        solicitation_id: chunk.solicitation_id.clone(),
        chunk_index: chunk.chunk_index,
        chunk_count: chunk.chunk_count,
        answers,
        declined,
    }
}

fn received(response: &v1::Response, n: usize) -> Received {
    let headers = [
        (SCHEMA_VERSION_HEADER, response.schema_version as i64),
        (SCHEMA_MINOR_HEADER, i64::from(response.schema_minor)),
        (CHUNK_INDEX_HEADER, i64::from(response.chunk_index)),
        (CHUNK_COUNT_HEADER, i64::from(response.chunk_count)),
    ];
    Received {
        type_name: Some(RESPONSE_TYPE.into()),
        content_type: Some(CONTENT_TYPE.into()),
        message_id: Some(format!("m-{n}")),
        user_id: Some("partner".into()),
        correlation_id: Some(response.case_id.clone()),
        expiration: Some("60000".into()),
        headers: headers.iter().map(|(k, v)| ((*k).to_owned(), Some(*v))).collect(),
        body: response.encode_to_vec(),
        arrived: SystemTime::now(),
    }
}

/// The failed rules when the responder has `flaws` and its messages are then changed by `edit`.
fn failed(flaws: Flaws, edit: impl Fn(&mut Vec<(v1::Response, Received)>)) -> Vec<&'static str> {
    let held = [Category::HousingAid, Category::Rsa, Category::FamilySituation, Category::HouseholdAnnualResources];
    let (run, population) = run(&held);
    let sent = solicitation(&run, &population, SystemTime::now() + Duration::from_secs(30));
    let deliveries = [0, 1, 2, sent.reminder_chunk, sent.duplicate_chunk];
    let mut messages: Vec<(v1::Response, Received)> = deliveries
        .iter()
        .enumerate()
        .map(|(n, i)| {
            let r = answer(&sent.chunks[*i as usize], &population, flaws);
            let raw = received(&r, n);
            (r, raw)
        })
        .collect();
    edit(&mut messages);
    let raws: Vec<Received> = messages
        .into_iter()
        .map(|(r, mut raw)| {
            if raw.body == [0xff] {
                return raw;
            }
            raw.body = r.encode_to_vec();
            raw
        })
        .collect();
    let report = check_responses(&sent, &raws, &population);
    assert_eq!(report.findings.len(), crate::RESPONDER_RULES.len());
    report.failed()
}

fn none(_: &mut Vec<(v1::Response, Received)>) {}

#[test]
fn a_responder_that_follows_every_rule_passes_them_all() {
    assert_eq!(failed(Flaws::default(), none), Vec::<&str>::new());
}

#[test]
fn each_broken_matching_rule_fails_by_its_name() {
    let ignore_former_nirs = Flaws { ignore_former_nirs: true, ..Default::default() };
    assert_eq!(failed(ignore_former_nirs, none), ["former-nir-matched"]);
    assert_eq!(failed(Flaws { formers_first: true, ..Default::default() }, none), ["current-nir-first"]);
    assert_eq!(failed(Flaws { ignore_identity: true, ..Default::default() }, none), ["identity-mismatch-not-found"]);
}

#[test]
fn each_broken_envelope_rule_fails_by_its_name() {
    let first = |edit: fn(&mut Received)| move |m: &mut Vec<(v1::Response, Received)>| edit(&mut m[0].1);
    assert_eq!(failed(Flaws::default(), first(|r| r.type_name = None)), ["type-property"]);
    assert_eq!(failed(Flaws::default(), first(|r| r.content_type = Some("application/json".into()))), ["content-type"]);
    assert_eq!(failed(Flaws::default(), first(|r| r.message_id = Some("m-1".into()))), ["message-id"]);
    assert_eq!(failed(Flaws::default(), first(|r| r.user_id = Some("someone".into()))), ["user-id"]);
    assert_eq!(failed(Flaws::default(), first(|r| r.correlation_id = None)), ["correlation-id"]);
    assert_eq!(failed(Flaws::default(), first(|r| r.expiration = Some("3000000000".into()))), ["expiration"]);
    assert_eq!(failed(Flaws::default(), first(|r| r.expiration = None)), ["expiration"]);
    let header = |name: &'static str| {
        move |m: &mut Vec<(v1::Response, Received)>| {
            m[0].1.headers.remove(name);
        }
    };
    assert_eq!(failed(Flaws::default(), header(CHUNK_INDEX_HEADER)), ["chunk-headers"]);
    assert_eq!(failed(Flaws::default(), header(SCHEMA_VERSION_HEADER)), ["schema-version"]);
    assert_eq!(
        failed(Flaws::default(), header(SCHEMA_MINOR_HEADER)),
        Vec::<&str>::new(),
        "the minor header is optional"
    );
    assert_eq!(failed(Flaws::default(), |m| m[0].0.schema_minor = 2), ["schema-minor"]);
    assert_eq!(failed(Flaws::default(), |m| m[0].1.arrived += Duration::from_secs(60)), ["answered-in-time"]);
    assert_eq!(failed(Flaws::default(), |m| m[0].1.body = vec![0xff]), ["all-chunks-answered", "decodable"]);
}

#[test]
fn each_broken_content_rule_fails_by_its_name() {
    let f = Flaws::default();
    assert_eq!(failed(f, |m| m[0].0.sender = "cnam".into()), ["sender"]);
    assert_eq!(failed(f, |m| m[0].0.solicitation_id = "other".into()), ["all-chunks-answered", "answers-the-chunk"]);
    assert_eq!(failed(f, |m| drop(m[0].0.answers.pop())), ["one-answer-per-person"]);
    assert_eq!(failed(f, |m| drop(m[4].0.answers.pop())), ["one-answer-per-person", "duplicate-answered"]);
    assert_eq!(failed(f, |m| m.truncate(4)), ["duplicate-answered"]);
    assert_eq!(failed(f, |m| drop(m.remove(3))), ["reminder-answered"]);
    let twice = |m: &mut Vec<(v1::Response, Received)>| {
        let again = m[0].0.answers[0].clone();
        m[0].0.answers.push(again);
    };
    assert_eq!(failed(f, twice), ["no-person-twice"]);
    assert_eq!(failed(f, |m| m[0].0.answers[0].person_ref = 999), ["one-answer-per-person", "no-person-outside-chunk"]);
    assert_eq!(
        failed(f, |m| m[0].0.answers[0].status = PersonStatus::Missing as i32),
        ["status", "found-by-current-nir"]
    );
    let not_asked = |m: &mut Vec<(v1::Response, Received)>| {
        m[0].0.answers[0].values.get_or_insert_with(Default::default).long_term_condition = Some(true)
    };
    assert_eq!(failed(f, not_asked), ["values-only-asked-and-held"], "asked, not held");
    let unasked = |m: &mut Vec<(v1::Response, Received)>| {
        m[0].0.answers[0].values.get_or_insert_with(Default::default).css = Some(true)
    };
    assert_eq!(failed(f, unasked), ["values-only-asked-and-held"], "not asked");
    let unknown_enum = |m: &mut Vec<(v1::Response, Received)>| {
        m[0].0.answers[0].values.get_or_insert_with(Default::default).family_situation = Some(42)
    };
    assert_eq!(failed(f, unknown_enum), ["values-decodable", "values-match-extract"]);
    let flipped = |m: &mut Vec<(v1::Response, Received)>| {
        let v = m[0].0.answers[0].values.get_or_insert_with(Default::default);
        v.household_annual_resources = Some(v.household_annual_resources.unwrap_or(0) + 1);
    };
    assert_eq!(failed(f, flipped), ["values-match-extract"]);
    assert_eq!(failed(f, |m| m[0].0.declined.retain(|d| d.category != 99)), ["declines-not-in-decree"]);
    assert_eq!(failed(f, |m| m[0].0.declined.clear()), ["declines-not-held", "declines-not-in-decree"]);
    let held_declined = |m: &mut Vec<(v1::Response, Received)>| {
        m[0].0.declined.push(Decline { category: Category::Rsa as i32, reason: 2, detail: String::new() })
    };
    assert_eq!(failed(f, held_declined), ["declines-not-held"]);
}

#[test]
fn a_person_is_never_named_by_nir_in_a_problem() {
    let (run, population) = run(&[Category::Rsa]);
    let sent = solicitation(&run, &population, SystemTime::now());
    let report = check_responses(&sent, &[], &population);
    assert_eq!(report.failed(), ["all-chunks-answered", "reminder-answered", "duplicate-answered"]);
    let mut raws = Vec::new();
    for (n, chunk) in sent.chunks.iter().enumerate() {
        let mut r =
            answer(chunk, &population, Flaws { ignore_identity: true, ignore_former_nirs: true, ..Default::default() });
        r.answers.iter_mut().for_each(|a| a.status = PersonStatus::Found as i32);
        raws.push(received(&r, n));
    }
    let report = check_responses(&sent, &raws, &population);
    let text: String = report.findings.iter().map(|f| f.line()).collect::<Vec<_>>().join("\n");
    for p in &population.persons {
        assert!(!text.contains(&p.solicited.nir), "a NIR in the report:\n{text}");
    }
    assert!(text.contains("FAIL found-by-current-nir — ") && text.contains("/ fix: "), "{text}");
}
