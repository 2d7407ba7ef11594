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

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use common::{bench_dir, cpu_seconds, files_arg, reset_peak, size, status_kib, Rng};
use passerelle_protocol::rules::ManualClock;
use passerelle_social_file::v1::{self, SocialFile};
use passerelle_social_service::{SocialService, SocialServiceSettings};
use passerelle_social_stats::{audit, Value};
use passerelle_sqlite::params;
use prost::Message;

const OFFICES: u64 = 10;
/// 1 January 2024, 00:00 UTC (ms).
const START_MS: i64 = 1_704_067_200_000;

fn main() {
    let files = files_arg("stats", 1_000_000);
    let dir = bench_dir();
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

fn date_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).expect("a time").format("%Y-%m-%d").to_string()
}

/// The synthetic files, their actions and offers, written straight into the store's tables.
fn fill(path: &Path, files: u64) {
    let mut rng = Rng(0x5eed_0043);
    let day_ms = 86_400_000i64;
    let end_of_2025 = START_MS + 731 * day_ms;
    common::fill(path, files, |insert, n| {
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
            risk: Some(v1::RiskConcerned { risks: (0..rng.next() % 3).map(|_| 1 + (rng.next() % 5) as i32).collect() }),
            ..Default::default()
        };
        let state = if closed { "closed" } else { "open" };
        let last = if closed { end } else { opened };
        insert
            .file
            .execute(params![id, office, state, opened, last, content.encode_to_vec(), n.to_be_bytes().to_vec()])
            .expect("a file");
        let end_text = (ends && end < end_of_2025).then(|| date_text(end));
        insert.action.execute(params![format!("a{n:012}"), id, date_text(opened), end_text]).expect("an action");
        if n % 20 == 0 {
            let kind = 1 + (n / 20) % 2;
            insert.offer.execute(params![format!("o{n:012}"), office, kind as i64, opened]).expect("an offer");
            insert.session.execute(params![format!("o{n:012}"), date_text(opened)]).expect("a session");
        }
        let o = format!("o{:012}", n - n % 20);
        insert.participant.execute(params![o, id]).expect("a participant");
        if rng.next().is_multiple_of(2) {
            insert.attendee.execute(params![o, id]).expect("an attendee");
        }
    });
}
