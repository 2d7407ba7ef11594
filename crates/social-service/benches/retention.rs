//! The retention pass at scale (BENCHMARKS.md, "Social service"), release build:
//!
//! ```text
//! cargo bench -p passerelle-social-service --bench retention [-- --files N]
//! ```
//!
//! `N` (default 100,000) synthetic files (`passerelle_synth::social::files`, seed 43) in one
//! office, each with one action ended on 2024-01-15; every other person refused the archive.
//! On a clock set to 2026-01-15 every file is due: the pass archives half (admitted to the
//! archive, then erased from the live store) and erases the other half, then rebuilds the store
//! so nothing erased is readable on disk. Timed: the pass only (the files are written straight
//! into the store beforehand, not through the API). Printed: files/s and the pass's own peak
//! RSS (`VmHWM`, reset before the pass through `/proc/self/clear_refs`), the stores' sizes.
//! Writing the files (a few transactions each, synchronous = FULL) takes far longer than the
//! pass: about 10 ms a file, so `--files 20000` for a quick figure.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use passerelle_protocol::rules::ManualClock;
use passerelle_protocol::value::parse_date;
use passerelle_social_file::v1;
use passerelle_social_service::store::{NewFile, RightKind};
use passerelle_social_service::{SocialService, SocialServiceSettings};

const SEED: u64 = 43;
/// 2026-01-15 12:00 UTC: 24 months after the actions' end, so every file is due.
const NOW_S: u64 = 1_768_478_400;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let files: u64 = match args.iter().position(|a| a == "--files") {
        Some(i) => args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or_else(|| usage()),
        None => 100_000,
    };
    let dir = tempfile::tempdir_in(std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into))
        .expect("a temporary directory");
    let clock = ManualClock::starting_at(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_S));
    let settings =
        SocialServiceSettings::for_dir("carsat-sud-est", "ss-13", dir.path(), &dir.path().join("none.sock"), "cpam-13");
    let service = SocialService::build(settings, Arc::new(clock)).expect("the service builds");
    println!(
        "social-service retention: {files} files due (half archived, half erased), store in {}",
        dir.path().display()
    );

    let started = Instant::now();
    let opened = SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_S - 800 * 86_400);
    for (n, synthetic) in passerelle_synth::social::files(SEED, files).enumerate() {
        let id = format!("{:08x}-0000-7000-8000-{n:012x}", n);
        let mut person = [0u8; 32];
        person[..8].copy_from_slice(&(n as u64).to_be_bytes());
        let new = NewFile {
            id: &id,
            office: "ss-13",
            at: opened,
            agent: "sw-1",
            file: &synthetic.file,
            source_case: None,
            source_line: None,
            person,
        };
        assert!(service.store().insert_file(&new).unwrap());
        let action = v1::Action {
            action_id: format!("a-{n}"),
            file_id: id.clone(),
            purpose: 1,
            start: parse_date("2023-12-01"),
            ..Default::default()
        };
        assert!(service.store().start_action(&action, opened).unwrap());
        assert!(service.store().close_file(&id, "2024-01-15", opened).unwrap());
        if n % 2 == 1 {
            service.store().record_right(&id, RightKind::RefuseArchive, opened, "ro-1", None).unwrap();
        }
    }
    println!("  written in {:.1} s; {}", started.elapsed().as_secs_f64(), sizes(dir.path(), &service));

    let rss = reset_peak();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let report = service.retention_pass().expect("the pass runs");
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(report.archived + report.erased, files, "{report:?}");
    println!(
        "  pass: {} archived, {} erased in {elapsed:.1} s ({:.0} files/s, {:.1} CPU-s); peak RSS {:.1} MiB above the {:.1} MiB it started from",
        report.archived,
        report.erased,
        files as f64 / elapsed,
        cpu_seconds() - cpu,
        (status_kib("VmHWM").saturating_sub(rss)) as f64 / 1024.0,
        rss as f64 / 1024.0,
    );
    println!("  after: {}", sizes(dir.path(), &service));
}

fn usage() -> ! {
    eprintln!("usage: cargo bench -p passerelle-social-service --bench retention [-- --files N]");
    std::process::exit(2);
}

/// The live store's and the archive's sizes on disk (database and WAL).
fn sizes(dir: &Path, service: &SocialService) -> String {
    let size = |folder: &Path, name: &str| {
        ["", "-wal"]
            .iter()
            .map(|s| std::fs::metadata(folder.join(format!("{name}{s}"))).map_or(0, |m| m.len()))
            .sum::<u64>() as f64
            / 1048576.0
    };
    format!(
        "social-service.db {:.1} MiB, archive.db {:.1} MiB, access.db {:.1} MiB",
        size(&dir.join("data"), "social-service.db"),
        size(&service.settings().archive_dir(), "archive.db"),
        size(&dir.join("data"), "access.db"),
    )
}

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
