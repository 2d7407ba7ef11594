//! The social service's worklist at scale (BENCHMARKS.md, "Requester worklist"), release build:
//!
//! ```text
//! cargo bench -p passerelle-requester --bench worklist [-- PERSONS [OUTCOMES]]
//! ```
//!
//! A requester store with one settled case of `PERSONS` synthetic persons (100,000 by default)
//! with their results, prepared by a child process (this program run with `--prepare`) so that
//! the peak RSS this process reports is the worklist's alone. Then, through the service
//! functions the API handlers call (`Requester::worklist`, `Requester::record_offer_outcome`,
//! and the `read` access entries the page handler writes), timed:
//!
//! 1. ranking the case alone (`export::case_ranking`): what every page cost before the order
//!    was kept;
//! 2. the **first page** (1,000 persons), which computes the case's order and stores it;
//! 3. a **full walk** in pages of 1,000, following `next`;
//! 4. **recording** `OUTCOMES` outcomes (10,000 by default; every tenth person of the list);
//! 5. a **`pending=true` walk** in pages of 1,000 after them.
//!
//! Each phase prints persons/s, ms a page, and this process's peak RSS (`VmHWM`) and RSS.
//!
//! Synthetic data only: NIRs are made with the key formula (in a scrambled order, as a real
//! selection's are), names and addresses are invented.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use passerelle_access_log::relayed_actor;
use passerelle_protocol::rules::SystemClock;
use passerelle_protocol::v1::{self, FamilySituation, PersonStatus};
use passerelle_requester::service::{NewOutcome, WorklistCursor};
use passerelle_requester::store::{NewPerson, Outcome, Store, StoreError, SubmissionRecord};
use passerelle_requester::{export, Requester, RequesterSettings, Uuid};

const OFFICE: &str = "caf-13";
/// Persons a page lists, the API's most.
const PAGE: usize = 1_000;
/// Persons per result chunk, as the observatory sends them.
const CHUNK: u64 = 1_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.first().map(String::as_str) == Some("--prepare") {
        let (dir, persons) = (Path::new(&args[1]), args[2].parse()?);
        return prepare(dir, persons);
    }
    let persons: u64 = args.first().map_or(Ok(100_000), |a| a.parse())?;
    let outcomes: usize = args.get(1).map_or(Ok(10_000), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let status = std::process::Command::new(std::env::current_exe()?)
        .args(["--prepare", &dir.path().display().to_string(), &persons.to_string()])
        .status()?;
    assert!(status.success(), "preparing the store failed");
    let db = dir.path().join("data").join(passerelle_requester::store::DB_FILE);
    println!(
        "prepared (child process): one settled case of {persons} persons with results in {:.1} s; store {:.1} MiB",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(&db)?.len() as f64 / 1_048_576.0
    );
    memory("opened");

    let requester = Requester::offline(settings(dir.path()), Arc::new(SystemClock))?;
    let actor = relayed_actor("svc-social", "sw-bench");
    let case = requester.store().next_listed_case(None)?.expect("the prepared case is answered");
    let submission = requester.store().submission(case.submission_id)?.expect("its submission");

    // 1. What each page cost when it ranked the case.
    let scorer = passerelle_requester::ranking::Scorer::new(&requester.settings().ranking);
    let t = Instant::now();
    let ranked = export::case_ranking(requester.store(), &scorer, &submission, &case)?.len();
    println!("ranking the case alone (each page's cost before): {ranked} persons in {:.0} ms", ms(t.elapsed()));
    memory("ranked");

    // 2. The first page: computes and stores the order.
    let t = Instant::now();
    let page = requester.worklist(None, PAGE, false)?;
    println!("first page ({} persons, computes and stores the order): {:.0} ms", page.entries.len(), ms(t.elapsed()));
    memory("first page");

    // 3. A full walk; every tenth person gets an outcome next.
    let mut lines = Vec::new();
    let full = walk(&requester, &actor, false, |e| {
        if e.rank % 10 == 1 && lines.len() < outcomes {
            lines.push(e.line);
        }
    })?;
    full.print("full walk", persons);
    memory("full walk");

    // 4. Outcomes, as the outcome handler records them (its access entries included).
    let zone = requester.settings().trails.time_zone.zone();
    let today = DateTime::<Utc>::from(SystemTime::now()).with_timezone(&zone).date_naive();
    let t = Instant::now();
    for (i, &line) in lines.iter().enumerate() {
        let outcome = [Outcome::Declined, Outcome::NoReply, Outcome::Accepted][i % 3];
        requester.record_offer_outcome(
            &actor,
            "sw-bench",
            &NewOutcome { case: case.id, line, outcome, date: today },
        )?;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "recording {} outcomes (a third accepted, with the person's record): {secs:.2} s = {:.0} outcomes/s, {:.2} ms each",
        lines.len(),
        lines.len() as f64 / secs,
        secs * 1e3 / lines.len() as f64
    );
    memory("outcomes");

    // 5. The pending walk.
    let pending = walk(&requester, &actor, true, |_| ())?;
    pending.print("pending=true walk", persons - lines.len() as u64);
    memory("pending walk");
    Ok(())
}

/// A walk's figures.
struct Walk {
    pages: usize,
    entries: u64,
    /// In `Requester::worklist`.
    service: Duration,
    slowest: Duration,
    /// Writing the pages' `read` access entries, as the handler does.
    accesses: Duration,
}

impl Walk {
    fn print(&self, what: &str, expected: u64) {
        assert_eq!(self.entries, expected, "{what}: every person listed once");
        let total = self.service + self.accesses;
        println!(
            "{what}: {} persons in {} pages, {:.2} s = {:.0} persons/s; a page {:.1} ms ({:.1} ms in the service, slowest \
             {:.1} ms; {:.1} ms writing its access entry)",
            self.entries,
            self.pages,
            total.as_secs_f64(),
            self.entries as f64 / total.as_secs_f64(),
            ms(total) / self.pages as f64,
            ms(self.service) / self.pages as f64,
            ms(self.slowest),
            ms(self.accesses) / self.pages as f64,
        );
    }
}

/// Reads the whole worklist in pages of [`PAGE`], following `next`, as the page handler does.
fn walk(
    requester: &Requester,
    actor: &str,
    pending: bool,
    mut each: impl FnMut(&passerelle_requester::api::WorklistEntry),
) -> Result<Walk, Box<dyn std::error::Error>> {
    let mut w =
        Walk { pages: 0, entries: 0, service: Duration::ZERO, slowest: Duration::ZERO, accesses: Duration::ZERO };
    let mut after: Option<WorklistCursor> = None;
    loop {
        let t = Instant::now();
        let page = requester.worklist(after, PAGE, pending)?;
        let took = t.elapsed();
        w.service += took;
        w.slowest = w.slowest.max(took);
        let t = Instant::now();
        requester.accesses().record_all(&requester.worklist_reads(actor, &page))?;
        w.accesses += t.elapsed();
        w.pages += 1;
        w.entries += page.entries.len() as u64;
        page.entries.iter().for_each(&mut each);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(w),
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Prints this process's peak RSS (`VmHWM`) and RSS (`VmRSS`), from `/proc/self/status`.
fn memory(after: &str) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
            .map_or("?".to_owned(), |kb| format!("{:.1} MiB", kb as f64 / 1024.0))
    };
    println!("  memory after {after}: peak RSS (VmHWM) {}, RSS {}", field("VmHWM:"), field("VmRSS:"));
}

fn settings(dir: &Path) -> RequesterSettings {
    RequesterSettings::for_dir("cnaf", OFFICE, dir)
}

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

/// Scores 0 to 5 (long-term condition 2, widowed 2, housing aid 1): long runs of ties.
fn answers(line: u64) -> Vec<v1::BodyAnswer> {
    let cnam = if line.is_multiple_of(2) {
        found("cnam", |v| v.long_term_condition = Some(line.is_multiple_of(4)))
    } else {
        v1::BodyAnswer { body: "cnam".into(), status: PersonStatus::NotFound as i32, values: None }
    };
    let situation = if line.is_multiple_of(3) { FamilySituation::Widowed } else { FamilySituation::Married };
    let cnav = found("cnav", |v| v.family_situation = Some(situation as i32));
    vec![cnam, cnav]
}

/// The child process: a store with one case of `persons` persons, sent and answered in result
/// chunks of [`CHUNK`], as `crates/requester/examples/store_results.rs` does.
fn prepare(dir: &Path, persons: u64) -> Result<(), Box<dyn std::error::Error>> {
    let settings = settings(dir);
    std::fs::create_dir_all(&settings.data_dir)?;
    let store = Store::open(&settings.data_dir)?;
    let now = SystemTime::now();
    let (submission, case) = (Uuid::now_v7(), Uuid::now_v7());
    let columns = ["nir", "family_name", "given_names", "sex", "birth_year", "commune_code"].into_iter().chain([
        "postal_address",
        "email",
        "phone",
        "housing_aid",
    ]);
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
                columns: columns.map(String::from).collect(),
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
            let housing_aid = line.is_multiple_of(5);
            let person = NewPerson {
                line,
                nir: nir.clone(),
                former_nirs: Vec::new(),
                sex: 1,
                birth_year: 1950,
                commune_code: "13055".into(),
                known: v1::CategoryValues { housing_aid: Some(housing_aid), ..Default::default() },
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
                    if housing_aid { "oui".into() } else { String::new() },
                ],
            };
            Store::insert_person(tx, case, &person)?;
        }
        Store::set_case_counts(tx, case, persons, persons.div_ceil(CHUNK) as u32)?;
        Ok::<_, StoreError>(())
    })?;
    store.mark_sent(case, now)?;
    let chunk_count = persons.div_ceil(CHUNK) as u32;
    let bodies: Vec<v1::BodyOutcome> = ["cnam", "cnav"]
        .into_iter()
        .map(|b| v1::BodyOutcome { body: b.into(), answered: true, ..Default::default() })
        .collect();
    for chunk_index in 0..chunk_count {
        let first = 1 + u64::from(chunk_index) * CHUNK;
        let last = (first + CHUNK - 1).min(persons);
        let result = v1::Result {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: v1::SchemaVersion::SchemaVersion1 as i32,
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
        store.store_result(&result, SystemTime::now())?;
    }
    let state = store.case(case)?.map(|c| c.state);
    assert_eq!(state, Some(passerelle_requester::CaseState::Answered), "the prepared case is answered");
    Ok(())
}
