//! The social service's case files at scale (BENCHMARKS.md, "Social service"), release build:
//!
//! ```text
//! cargo bench -p passerelle-social-service --bench files [-- --files N] [--updated K]
//! ```
//!
//! `N` (default 100,000) synthetic files (`passerelle_synth::social::files`, seed 43) over 10
//! offices, `N / 10` each, in one store and one access log (synchronous = FULL, as deployed).
//! The offices are filled one after the other, each through its own [`SocialService`]:
//!
//! 1. **open**: each file through the service's open path ([`SocialService::apply_outcome`], what
//!    the API's outcome calls once the requester recorded it) with the requester's `accepted`
//!    answer: the person and the decree values the requester sends
//!    (identity, contacts, family situation, CSS, housing aid, quarters contributed);
//! 2. **fill**: the synthetic file's other categories as one update (a history row and an
//!    access-log entry per field), so files are as full as a worker makes them;
//! 3. **update**: 3 fields of a file in one update (GIR level, care pathway, assessment), for
//!    the first `K` files of each office (default: all).
//!
//! Timed: the service calls only (generating the synthetic files and building the requests is
//! not). After the first office (a store of `N / 10` files) and after the last (`N`), office
//! `ss-0`'s whole list is read as the API serves it, pages of 100 (the default) from a freshly
//! built service (first read: SQLite's cache empty; the OS page cache is not dropped) and again
//! (warm), then pages of 1,000 (the largest); and 1,000 `show`s of random files of the office.
//! The process's peak RSS (`VmHWM`) is printed after every phase; for the list and the shows it
//! is reset first (`/proc/self/clear_refs`), so the figure is that phase's own peak above the
//! resident set it started from.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use passerelle_protocol::rules::SystemClock;
use passerelle_social_file::v1::{self, SocialFile};
use passerelle_social_file::{file_json, FIELDS};
use passerelle_social_service::requester_client::{AcceptedPerson, Outcome, OutcomeAnswer, OUTCOME_FORMAT};
use passerelle_social_service::service::views::FieldUpdate;
use passerelle_social_service::service::DEFAULT_LIST_LIMIT;
use passerelle_social_service::{SocialService, SocialServiceSettings};
use passerelle_synth::social::SyntheticFile;
use serde_json::{json, Value};

const OFFICES: u64 = 10;
const SEED: u64 = 43;
/// The decree case the persons come from (the requester's contact list).
const CASE: &str = "0190a3b4-0000-7000-8000-00000000b043";
const SHOWS: usize = 1000;
/// The fields the decree's opening sets: the fill leaves them as opened.
const OPENED: [&str; 9] = [
    "identity.nir",
    "identity.number_kind",
    "identity.family_name",
    "identity.usage_name",
    "identity.given_names",
    "identity.sex",
    "contacts.postal_address",
    "contacts.phones",
    "contacts.email",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let files: u64 = match args.iter().position(|a| a == "--files") {
        Some(i) => args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or_else(|| usage()),
        None => 100_000,
    };
    if files < OFFICES || !files.is_multiple_of(OFFICES) {
        usage();
    }
    let per_office = files / OFFICES;
    let updated: usize = match args.iter().position(|a| a == "--updated") {
        Some(i) => args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or_else(|| usage()),
        None => per_office as usize,
    };
    let dir = tempfile::tempdir_in(std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into))
        .expect("a temporary directory");
    println!(
        "social-service files: {files} files over {OFFICES} offices ({per_office} each), store in {}",
        dir.path().display()
    );
    let mut synth = passerelle_synth::social::files(SEED, files);
    let mut totals = Fill::default();
    let mut office_0 = Vec::new();
    for office in 0..OFFICES {
        let service = service(dir.path(), office);
        let mut fill = Fill::default();
        let ids: Vec<String> = (0..per_office)
            .map(|n| fill.file(&service, &synth.next().expect("n files"), office * per_office + n))
            .collect();
        fill.update(&service, &ids[..updated.min(ids.len())]);
        totals.add(&fill);
        if office == 0 {
            fill.print(&format!("office ss-0 ({per_office} files, store {per_office})"));
            office_0 = ids;
            drop(service);
            reads(dir.path(), &office_0, per_office);
        }
    }
    totals.print(&format!("all offices ({files} files)"));
    reads(dir.path(), &office_0, files);
}

fn usage() -> ! {
    eprintln!("usage: cargo bench -p passerelle-social-service --bench files [-- --files N] [--updated K]  (N a multiple of 10, K files updated an office)");
    std::process::exit(2);
}

fn service(dir: &Path, office: u64) -> SocialService {
    let settings = SocialServiceSettings::for_dir(
        "carsat-sud-est",
        &format!("ss-{office}"),
        dir,
        &dir.join("none.sock"),
        "cpam-13",
    );
    SocialService::build(settings, Arc::new(SystemClock)).expect("the service builds")
}

fn agent(office: u64) -> String {
    format!("sw-{office}")
}

/// Opening, filling and updating, timed (service calls only) and counted.
#[derive(Default)]
struct Fill {
    opened: u64,
    open: Duration,
    fill_fields: u64,
    fill: Duration,
    updated: u64,
    update: Duration,
}

impl Fill {
    /// Opens the file as the requester's acceptance does, then fills its other categories.
    fn file(&mut self, service: &SocialService, synthetic: &SyntheticFile, line: u64) -> String {
        let agent = format!("sw-{}", service.office().trim_start_matches("ss-"));
        let answer = OutcomeAnswer {
            format: OUTCOME_FORMAT.to_owned(),
            office: "cpam-13".to_owned(),
            case: CASE.parse().expect("a UUID"),
            line,
            outcome: Outcome::Accepted,
            date: "2026-03-02".to_owned(),
            agent: agent.clone(),
            person: Some(accepted(&synthetic.file, line)),
        };
        let started = Instant::now();
        let opened = service.apply_outcome(&agent, &answer).expect("opens");
        self.open += started.elapsed();
        assert!(!opened.existing, "every synthetic person is new");
        let id = opened.file.expect("a file opened");
        self.opened += 1;
        let fields = file_json(&synthetic.file);
        let updates: Vec<FieldUpdate> = FIELDS
            .iter()
            .filter(|f| !OPENED.contains(&f.path))
            .filter_map(|f| fields.get(f.path).map(|v| FieldUpdate { field: f.path.to_owned(), value: v.clone() }))
            .collect();
        let started = Instant::now();
        service.update(&agent, &id, &updates).expect("the synthetic file's values fill it");
        self.fill += started.elapsed();
        self.fill_fields += updates.len() as u64;
        id
    }

    /// Three fields of every file, one update each.
    fn update(&mut self, service: &SocialService, ids: &[String]) {
        let agent = format!("sw-{}", service.office().trim_start_matches("ss-"));
        for (n, id) in ids.iter().enumerate() {
            let updates = [
                FieldUpdate { field: "care.gir_level".into(), value: json!(1 + n % 6) },
                FieldUpdate { field: "care.care_pathway".into(), value: json!(n % 2 == 0) },
                FieldUpdate {
                    field: "social_situation.assessment".into(),
                    value: json!("Entretien à domicile : la personne souhaite un accompagnement pour ses démarches."),
                },
            ];
            let started = Instant::now();
            service.update(&agent, id, &updates).expect("the update applies");
            self.update += started.elapsed();
            self.updated += 1;
        }
    }

    fn add(&mut self, other: &Fill) {
        self.opened += other.opened;
        self.open += other.open;
        self.fill_fields += other.fill_fields;
        self.fill += other.fill;
        self.updated += other.updated;
        self.update += other.update;
    }

    fn print(&self, what: &str) {
        let rate = |n: u64, d: Duration| n as f64 / d.as_secs_f64();
        println!("{what}:");
        println!(
            "  open: {} files in {:.1} s = {:.0} files/s ({:.2} ms a file)",
            self.opened,
            self.open.as_secs_f64(),
            rate(self.opened, self.open),
            self.open.as_secs_f64() * 1000.0 / self.opened as f64
        );
        println!(
            "  fill: {} fields in {:.1} s = {:.0} files/s, {:.1} fields a file ({:.2} ms a file)",
            self.fill_fields,
            self.fill.as_secs_f64(),
            rate(self.opened, self.fill),
            self.fill_fields as f64 / self.opened as f64,
            self.fill.as_secs_f64() * 1000.0 / self.opened as f64
        );
        println!(
            "  update (3 fields): {} files in {:.1} s = {:.0} files/s ({:.2} ms a file)",
            self.updated,
            self.update.as_secs_f64(),
            rate(self.updated, self.update),
            self.update.as_secs_f64() * 1000.0 / self.updated as f64
        );
        println!("  process VmHWM {} MiB, {:.1} CPU-s so far", status_kib("VmHWM") / 1024, cpu_seconds());
    }
}

/// The process's CPU time (user + system) so far, from `/proc/self/stat` (100 ticks a second).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The requester's `accepted` answer for the synthetic file's person: identity, contacts and
/// the decree values the file was drawn from.
fn accepted(file: &SocialFile, line: u64) -> AcceptedPerson {
    let id = file.identity.clone().unwrap_or_default();
    let contacts = file.contacts.clone().unwrap_or_default();
    let fields = file_json(file);
    let mut values = std::collections::BTreeMap::new();
    if let Some(Value::String(situation)) = fields.get("family.situation") {
        values.insert("family_situation".to_owned(), situation.clone());
    }
    let cover = file.health_cover.as_ref().and_then(|c| c.cover);
    values.insert("css".to_owned(), (cover == Some(v1::LowIncomeCover::Css as i32)).to_string());
    let benefits = file.rights.as_ref().map(|r| r.benefits.as_slice()).unwrap_or_default();
    let housing = benefits.iter().any(|b| b.kind == v1::BenefitKind::HousingAid as i32);
    values.insert("housing_aid".to_owned(), housing.to_string());
    values.insert("quarters_contributed".to_owned(), (100 + line % 80).to_string());
    AcceptedPerson {
        nir: id.nir.unwrap_or_default(),
        former_nirs: Vec::new(),
        family_name: id.family_name.unwrap_or_default(),
        usage_name: id.usage_name,
        given_names: id.given_names.unwrap_or_default(),
        sex: match id.sex.and_then(|s| v1::Sex::try_from(s).ok()) {
            Some(v1::Sex::Female) => Some("female".into()),
            Some(v1::Sex::Male) => Some("male".into()),
            _ => None,
        },
        birth_year: id.birth_date.map(|d| d.year),
        commune_code: None,
        postal_address: contacts.postal_address,
        email: contacts.email,
        phone: contacts.phones.into_iter().next(),
        values,
    }
}

/// Office ss-0's list and shows in a store of `store` files.
fn reads(dir: &Path, ids: &[String], store: u64) {
    println!("office ss-0's {} files, store of {store} files (db {}):", ids.len(), sizes(dir));
    let service = service(dir, 0);
    let agent = agent(0);
    for (what, limit) in [("first read", DEFAULT_LIST_LIMIT), ("warm", DEFAULT_LIST_LIMIT), ("warm", 1000)] {
        let (rss, cpu) = (reset_peak(), cpu_seconds());
        let (mut after, mut listed, mut pages, mut slowest) = (None::<String>, 0, 0, Duration::ZERO);
        let started = Instant::now();
        loop {
            let page_started = Instant::now();
            let page = service.list(&agent, None, after.as_deref(), Some(limit)).expect("a page");
            slowest = slowest.max(page_started.elapsed());
            listed += page.files.len();
            pages += 1;
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let total = started.elapsed();
        assert_eq!(listed, ids.len(), "the whole office listed");
        println!(
            "  list, {what}, pages of {limit}: {listed} files in {pages} pages, {:.3} s in all ({:.2} CPU-s), slowest \
             page {:.1} ms; peak RSS +{:.1} MiB (over {:.1} MiB)",
            total.as_secs_f64(),
            cpu_seconds() - cpu,
            slowest.as_secs_f64() * 1000.0,
            (status_kib("VmHWM") - rss) as f64 / 1024.0,
            rss as f64 / 1024.0
        );
    }
    let (rss, cpu) = (reset_peak(), cpu_seconds());
    let mut random = 0x2545_f491_4f6c_dd1d_u64 ^ store;
    let mut times: Vec<Duration> = (0..SHOWS)
        .map(|_| {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            let id = &ids[(random % ids.len() as u64) as usize];
            let started = Instant::now();
            let view = service.show(&agent, id).expect("show");
            let took = started.elapsed();
            assert_eq!(&view.file, id);
            took
        })
        .collect();
    times.sort();
    let ms = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0;
    println!(
        "  show, {SHOWS} random files: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({:.2} CPU-s in all); peak RSS +{:.1} \
         MiB (over {:.1} MiB)",
        ms(0.5),
        ms(0.99),
        ms(1.0),
        cpu_seconds() - cpu,
        (status_kib("VmHWM") - rss) as f64 / 1024.0,
        rss as f64 / 1024.0
    );
    println!("  process VmHWM {} MiB", status_kib("VmHWM") / 1024);
}

/// The store's and the access log's sizes on disk (database and WAL).
fn sizes(dir: &Path) -> String {
    let size = |name: &str| {
        ["", "-wal"]
            .iter()
            .map(|s| std::fs::metadata(dir.join("data").join(format!("{name}{s}"))).map_or(0, |m| m.len()))
            .sum::<u64>() as f64
            / 1048576.0
    };
    format!("social-service.db {:.1} MiB, access.db {:.1} MiB", size("social-service.db"), size("access.db"))
}

/// Resets the peak resident set to the current one; returns the current one (KiB).
fn reset_peak() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").expect("/proc/self/clear_refs resets the peak RSS");
    status_kib("VmRSS")
}

/// A `/proc/self/status` figure in KiB.
fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
