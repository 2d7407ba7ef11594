//! The steering statistics at scale (BENCHMARKS.md, "Social service"), release build:
//!
//! ```text
//! cargo bench -p passerelle-social-service --bench stats [-- --files N]
//! ```
//!
//! `N` (default 1,000,000) synthetic files over 10 offices, opened over the 24 months of 2024
//! and 2025, each with an action (started the day it opened; 70% ended within 400 days, the
//! file then closed), and one offer every 20 files (individual or collective, half the
//! participants at a session). The live store is filled directly in large transactions (the
//! files' path through the service is `benches/files.rs`'s subject; here only the statistics
//! are). Timed, on a clock in January 2026:
//!
//! 1. **anonymise**: the 24 closed months, one pass over the store into `steering.db`;
//! 2. **table**: the suppressed table of the 24 months, office and body level, from
//!    `steering.db` (what `GET /v1/stats` serves), audited.
//!
//! The peak RSS (`VmHWM`) is reset before each phase (`/proc/self/clear_refs`): the figure is
//! that phase's own peak above the resident set it started from.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use passerelle_protocol::rules::ManualClock;
use passerelle_social_file::v1::{self, SocialFile};
use passerelle_social_service::{SocialService, SocialServiceSettings};
use passerelle_social_stats::{audit, Value};
use passerelle_sqlite::params;
use prost::Message;

const OFFICES: u64 = 10;
/// Files a fill transaction.
const BATCH: u64 = 50_000;
/// 1 January 2024, 00:00 UTC (ms).
const START_MS: i64 = 1_704_067_200_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let files: u64 = match args.iter().position(|a| a == "--files") {
        Some(i) => args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or_else(|| usage()),
        None => 1_000_000,
    };
    let dir = tempfile::tempdir_in(std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into))
        .expect("a temporary directory");
    let at = chrono::DateTime::parse_from_rfc3339("2026-01-15T10:00:00Z").expect("a time");
    let clock = ManualClock::starting_at(at.into());
    let settings =
        SocialServiceSettings::for_dir("carsat-sud-est", "ss-0", dir.path(), &dir.path().join("none.sock"), "cpam-13");
    let service = SocialService::build(settings, Arc::new(clock)).expect("the service builds");
    println!("social-service stats: {files} files over {OFFICES} offices, store in {}", dir.path().display());
    let started = Instant::now();
    fill(service.store().path(), files);
    println!(
        "  fill (direct, not timed as a figure): {:.1} s, social-service.db {:.0} MiB",
        started.elapsed().as_secs_f64(),
        size(service.store().path())
    );

    let (rss, cpu) = (reset_peak(), cpu_seconds());
    let started = Instant::now();
    let months = service.anonymise_closed_months().expect("anonymises");
    let took = started.elapsed();
    println!(
        "  anonymise: {} months, {files} files in {:.1} s = {:.0} files/s ({:.1} CPU-s); peak RSS +{:.1} MiB (over {:.1} MiB); steering.db {:.2} MiB",
        months.len(),
        took.as_secs_f64(),
        files as f64 / took.as_secs_f64(),
        cpu_seconds() - cpu,
        (status_kib("VmHWM") - rss) as f64 / 1024.0,
        rss as f64 / 1024.0,
        size(&service.data_dir().join("steering.db")),
    );

    let (rss, cpu) = (reset_peak(), cpu_seconds());
    let started = Instant::now();
    let table = service.stats("stat-bench", Some("2024-01"), Some("2025-12")).expect("the table");
    let took = started.elapsed();
    let hidden = table.cells().values().filter(|v| **v == Value::Hidden).count();
    println!(
        "  table: {} cells ({hidden} suppressed) in {:.2} s ({:.2} CPU-s); peak RSS +{:.1} MiB (over {:.1} MiB)",
        table.cells().len(),
        took.as_secs_f64(),
        cpu_seconds() - cpu,
        (status_kib("VmHWM") - rss) as f64 / 1024.0,
        rss as f64 / 1024.0
    );
    let started = Instant::now();
    assert!(audit(&table).is_safe(), "the published table passes its audit");
    println!("  audit of the table: safe, {:.2} s", started.elapsed().as_secs_f64());
    println!("  process VmHWM {} MiB", status_kib("VmHWM") / 1024);
}

fn usage() -> ! {
    eprintln!("usage: cargo bench -p passerelle-social-service --bench stats [-- --files N]");
    std::process::exit(2);
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn date_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).expect("a time").format("%Y-%m-%d").to_string()
}

/// The synthetic files, their actions and offers, written straight into the store's tables.
fn fill(path: &Path, files: u64) {
    let conn = passerelle_sqlite::open::connection(path, Duration::from_secs(5)).expect("the store opens");
    conn.execute_batch("PRAGMA synchronous = OFF").expect("pragma");
    let mut rng = Rng(0x5eed_0043);
    let day_ms = 86_400_000i64;
    let end_of_2025 = START_MS + 731 * day_ms;
    let mut n = 0;
    while n < files {
        conn.execute_batch("BEGIN").expect("begin");
        {
            let mut file = conn
                .prepare_cached(
                    "INSERT INTO files (id, office, state, opened_at, opened_by, last_activity_at, file, person) \
                     VALUES (?1, ?2, ?3, ?4, 'sw-bench', ?5, ?6, ?7)",
                )
                .expect("prepare");
            let mut action = conn
                .prepare_cached("INSERT INTO actions (id, file, purpose, start, end) VALUES (?1, ?2, 1, ?3, ?4)")
                .expect("prepare");
            let mut offer = conn
                .prepare_cached("INSERT INTO offers (id, office, kind, theme, created_by, created_at) VALUES (?1, ?2, ?3, 1, 'sw-bench', ?4)")
                .expect("prepare");
            let mut session = conn
                .prepare_cached("INSERT INTO offer_sessions (offer, session, date) VALUES (?1, 0, ?2)")
                .expect("prepare");
            let mut participant =
                conn.prepare_cached("INSERT INTO offer_participants (offer, file) VALUES (?1, ?2)").expect("prepare");
            let mut attendee = conn
                .prepare_cached("INSERT INTO session_attendees (offer, session, file) VALUES (?1, 0, ?2)")
                .expect("prepare");
            for _ in 0..BATCH.min(files - n) {
                let id = format!("f{n:012}");
                let office = format!("ss-{}", n % OFFICES);
                let opened = START_MS + (rng.next() % 730) as i64 * day_ms + 36_000_000;
                let ends = rng.next() % 10 < 7;
                let end = opened + (rng.next() % 400) as i64 * day_ms;
                let closed = ends && end < end_of_2025;
                let content = SocialFile {
                    identity: Some(v1::SocialIdentity {
                        nir: Some(format!("2{:014}", 50_000_000_000_000 + n)),
                        family_name: Some(format!("Synthetica{n}")),
                        sex: Some(1 + (rng.next() % 2) as i32),
                        birth_date: (!rng.next().is_multiple_of(10)).then(|| v1::Date {
                            year: 1930 + (rng.next() % 60) as u32,
                            month: 1 + (rng.next() % 12) as u32,
                            day: 1 + (rng.next() % 28) as u32,
                        }),
                        ..Default::default()
                    }),
                    risk: Some(v1::RiskConcerned {
                        risks: (0..rng.next() % 3).map(|_| 1 + (rng.next() % 5) as i32).collect(),
                    }),
                    ..Default::default()
                };
                let state = if closed { "closed" } else { "open" };
                let last = if closed { end } else { opened };
                file.execute(params![
                    id,
                    office,
                    state,
                    opened,
                    last,
                    content.encode_to_vec(),
                    n.to_be_bytes().to_vec()
                ])
                .expect("a file");
                let end_text = (ends && end < end_of_2025).then(|| date_text(end));
                action.execute(params![format!("a{n:012}"), id, date_text(opened), end_text]).expect("an action");
                if n % 20 == 0 {
                    let kind = 1 + (n / 20) % 2;
                    offer.execute(params![format!("o{n:012}"), office, kind as i64, opened]).expect("an offer");
                    session.execute(params![format!("o{n:012}"), date_text(opened)]).expect("a session");
                }
                let o = format!("o{:012}", n - n % 20);
                participant.execute(params![o, id]).expect("a participant");
                if rng.next().is_multiple_of(2) {
                    attendee.execute(params![o, id]).expect("an attendee");
                }
                n += 1;
            }
        }
        conn.execute_batch("COMMIT").expect("commit");
    }
}

fn size(path: &Path) -> f64 {
    ["", "-wal"].iter().map(|s| std::fs::metadata(format!("{}{s}", path.display())).map_or(0, |m| m.len())).sum::<u64>()
        as f64
        / 1048576.0
}

/// The process's CPU time (user + system) so far, from `/proc/self/stat` (100 ticks a second).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
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
