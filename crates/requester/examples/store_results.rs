//! Measures the requester store's result storing without a broker: prepares a store with one
//! case of synthetic persons (`PERSONS`, 200,000 by default), then stores its result in chunks
//! of 1,000 persons, as the observatory sends them, and prints persons/s.
//!
//! `cargo run --release -p passerelle-requester --example store_results [PERSONS]`
//!
//! Synthetic data only: NIRs are made with the key formula (in a scrambled order, as a real
//! selection's are), names and addresses are invented.

use std::time::{Duration, Instant, SystemTime};

use passerelle_protocol::v1::{self, FamilySituation, PersonStatus};
use passerelle_requester::store::{NewPerson, Store, StoreError, SubmissionRecord};
use uuid::Uuid;

/// Persons per result chunk, as the observatory sends them.
const CHUNK: usize = 1_000;

/// A synthetic, valid NIR for `x < 999 × 999 × 80`: a man born in March 1950, the département,
/// commune and order number from `x`.
fn nir(x: u64) -> String {
    let body = format!("15003{:02}{:03}{:03}", 10 + x / (999 * 999), 1 + (x / 999) % 999, 1 + x % 999);
    let key = 97 - body.parse::<u64>().unwrap() % 97;
    format!("{body}{key:02}")
}

/// The NIR of selection line `line`: lines and NIRs in unrelated orders (an odd multiplier is a
/// bijection modulo 2^20).
fn nir_of_line(line: u64) -> String {
    nir(line.wrapping_mul(0x9E37_79B1) % (1 << 20))
}

fn found(body: &str, set: impl FnOnce(&mut v1::CategoryValues)) -> v1::BodyAnswer {
    let mut values = v1::CategoryValues::default();
    set(&mut values);
    v1::BodyAnswer { body: body.into(), status: PersonStatus::Found as i32, values: Some(values) }
}

fn answers(line: u64) -> Vec<v1::BodyAnswer> {
    let cnam = if line.is_multiple_of(2) {
        found("cnam", |v| v.long_term_condition = Some(line.is_multiple_of(4)))
    } else {
        v1::BodyAnswer { body: "cnam".into(), status: PersonStatus::NotFound as i32, values: None }
    };
    let cnav = found("cnav", |v| v.family_situation = Some(FamilySituation::Widowed as i32));
    let msa = v1::BodyAnswer { body: "msa".into(), status: PersonStatus::NotFound as i32, values: None };
    vec![cnam, cnav, msa]
}

fn prepare(store: &Store, persons: u64) -> Result<Uuid, StoreError> {
    let now = SystemTime::now();
    let submission = Uuid::now_v7();
    let case = Uuid::now_v7();
    store.write(|tx| {
        Store::insert_submission(
            tx,
            &SubmissionRecord {
                id: submission,
                submitted_at: now,
                purge_after: now + Duration::from_secs(730 * 86_400),
                respond_by: now + Duration::from_secs(21 * 86_400),
                service: "visite de prévention".into(),
                offered_service: 0,
                wanted: vec![v1::Category::LongTermCondition, v1::Category::FamilySituation],
                columns: ["nir", "family_name", "given_names", "sex", "birth_year", "commune_code"]
                    .into_iter()
                    .chain(["postal_address", "email", "phone", "housing_aid"])
                    .map(String::from)
                    .collect(),
                separator: b',',
                encoding: "utf-8".into(),
                out_path: None,
                lines: persons,
                rejected: 0,
                written_at: None,
                purged_at: None,
            },
        )?;
        Store::insert_case(tx, case, submission, "carsat-sud-est", now)?;
        for line in 1..=persons {
            let nir = nir_of_line(line);
            Store::insert_person(
                tx,
                case,
                &NewPerson {
                    line,
                    nir: nir.clone(),
                    former_nirs: Vec::new(),
                    sex: 1,
                    birth_year: 1950,
                    commune_code: "13055".into(),
                    known: v1::CategoryValues { housing_aid: Some(line % 3 == 0), ..Default::default() },
                    cells: vec![
                        nir,
                        format!("Zorglub{line:07}"),
                        format!("Ambrosine{line:07}"),
                        "M".into(),
                        "1950".into(),
                        "13055".into(),
                        format!("{line} rue Imaginaire, 13001 Marseille"),
                        format!("contact{line:07}@exemple.invalid"),
                        format!("0699{line:06}"),
                        if line % 3 == 0 { "oui".into() } else { String::new() },
                    ],
                },
            )?;
        }
        let chunks = persons.div_ceil(CHUNK as u64) as u32;
        Store::set_case_counts(tx, case, persons, chunks)?;
        Ok::<_, StoreError>(())
    })?;
    store.mark_sent(case, now)?;
    Ok(case)
}

/// This thread's CPU time, from `/proc/thread-self/schedstat` (Linux; zero elsewhere).
fn cpu_time() -> Duration {
    let ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
    Duration::from_nanos(ns.unwrap_or(0))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let persons: u64 = std::env::args().nth(1).map_or(Ok(200_000), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let started = Instant::now();
    let case = prepare(&store, persons)?;
    println!("prepared {persons} persons in {:.2} s", started.elapsed().as_secs_f64());

    let chunk_count = persons.div_ceil(CHUNK as u64) as u32;
    let bodies: Vec<v1::BodyOutcome> = ["cnam", "cnav", "msa"]
        .into_iter()
        .map(|b| v1::BodyOutcome { body: b.into(), answered: true, ..Default::default() })
        .collect();
    let mut storing = Duration::ZERO;
    let mut cpu = Duration::ZERO;
    for chunk_index in 0..chunk_count {
        let first = 1 + chunk_index as u64 * CHUNK as u64;
        let last = (first + CHUNK as u64 - 1).min(persons);
        let result = v1::Result {
            schema_version: v1::SchemaVersion::SchemaVersion1 as i32,
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            sender: "carsat-sud-est".into(),
            case_id: case.to_string(),
            chunk_index,
            chunk_count,
            completeness: v1::Completeness::Complete as i32,
            bodies: bodies.clone(),
            persons: (first..=last)
                .map(|line| v1::ResultPerson { nir: nir_of_line(line), answers: answers(line) })
                .collect(),
        };
        let (started, cpu_before) = (Instant::now(), cpu_time());
        store.store_result(&result, SystemTime::now())?;
        storing += started.elapsed();
        cpu += cpu_time().saturating_sub(cpu_before);
    }
    let state = store.case(case)?.map(|c| c.state);
    println!(
        "stored {chunk_count} result chunks ({persons} persons) in {:.2} s ({:.2} s of CPU): {:.0} persons/s, \
         {:.1} µs of CPU a person (case {state:?})",
        storing.as_secs_f64(),
        cpu.as_secs_f64(),
        persons as f64 / storing.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / persons as f64,
    );
    Ok(())
}
