//! The retention pass at scale (BENCHMARKS.md, "Social service, retention"), release build:
//!
//! ```text
//! cargo bench -p passerelle-social-service --bench retention [-- --files N]
//! ```
//!
//! `N` (default 100,000) synthetic files (`passerelle_synth::social::files`, seed 43) in one
//! office, each with one action ended on 2024-01-15, the file closed; every other person
//! refused the archive. They are written straight into the store's tables in large
//! transactions (`common::fill`; the files' path through the service is `files.rs`'s subject).
//! On a clock set to 2026-01-15 every file is due: the pass archives half (admitted to the
//! archive, then erased from the live store) and erases the other half, each erasure's
//! access-log entries written before it commits, then rebuilds the store so nothing erased is
//! readable on disk. Timed: the pass only. Printed: files/s, the pass's own peak RSS (`VmHWM`,
//! reset before the pass through `/proc/self/clear_refs`), the stores' sizes before and after.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::{bench_dir, cpu_seconds, files_arg, reset_peak, size, status_kib};
use passerelle_protocol::rules::ManualClock;
use passerelle_social_service::{SocialService, SocialServiceSettings};
use passerelle_sqlite::params;
use prost::Message;

const SEED: u64 = 43;
/// 2026-01-15 12:00 UTC: 24 months after the actions' end, so every file is due.
const NOW_S: u64 = 1_768_478_400;

fn main() {
    let files = files_arg("retention", 100_000);
    let dir = bench_dir();
    let clock = ManualClock::starting_at(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_S));
    let settings =
        SocialServiceSettings::for_dir("carsat-sud-est", "ss-13", dir.path(), &dir.path().join("none.sock"), "cpam-13");
    let service = SocialService::build(settings, Arc::new(clock)).expect("the service builds");
    println!(
        "social-service retention: {files} files due (half archived, half erased), store in {}",
        dir.path().display()
    );

    let started = Instant::now();
    let opened = (NOW_S as i64 - 800 * 86_400) * 1000;
    let closed = (NOW_S as i64 - 731 * 86_400) * 1000;
    let mut synthetic = passerelle_synth::social::files(SEED, files);
    common::fill(service.store().path(), files, |insert, n| {
        let file = synthetic.next().expect("a synthetic file").file;
        let id = format!("{n:08x}-0000-7000-8000-{n:012x}");
        let mut person = [0u8; 32];
        person[..8].copy_from_slice(&n.to_be_bytes());
        insert
            .file
            .execute(params![id, "ss-13", "closed", opened, closed, file.encode_to_vec(), person.to_vec()])
            .expect("a file");
        insert.action.execute(params![format!("a-{n}"), id, "2023-12-01", "2024-01-15"]).expect("an action");
        if n % 2 == 1 {
            insert.right.execute(params![id, "refuse_archive", closed]).expect("a refusal of the archive");
        }
    });
    println!("  fill (direct, not timed as a figure): {:.1} s; {}", started.elapsed().as_secs_f64(), sizes(&service));

    let rss = reset_peak();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let report = service.retention_pass().expect("the pass runs");
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!((report.archived, report.erased), (files.div_ceil(2), files / 2), "{report:?}");
    assert_eq!(service.archive().count().expect("the archive counts"), files.div_ceil(2));
    println!(
        "  pass: {} archived, {} erased in {elapsed:.1} s ({:.0} files/s, {:.1} CPU-s); peak RSS {:.1} MiB above the {:.1} MiB it started from",
        report.archived,
        report.erased,
        files as f64 / elapsed,
        cpu_seconds() - cpu,
        (status_kib("VmHWM").saturating_sub(rss)) as f64 / 1024.0,
        rss as f64 / 1024.0,
    );
    println!("  after: {}", sizes(&service));
}

/// The live store's, the archive's and the access log's sizes on disk (database and WAL).
fn sizes(service: &SocialService) -> String {
    format!(
        "social-service.db {:.1} MiB, archive.db {:.1} MiB, access.db {:.1} MiB",
        size(service.store().path()),
        size(&service.settings().archive_dir().join("archive.db")),
        size(&service.data_dir().join("access.db")),
    )
}
