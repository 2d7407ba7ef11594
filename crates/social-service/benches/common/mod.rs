//! What the social service's store benches share (`stats.rs`, `retention.rs`): the `--files N`
//! argument, the bench folder, the direct fill of the live store's tables in large
//! transactions (the files' path through the service is `files.rs`'s subject, about 10 ms a
//! file), and the process's CPU time and peak resident set from `/proc/self`.
//!
//! Each bench uses what it needs of this module.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use passerelle_sqlite::rusqlite::{CachedStatement, Connection};

/// Files a fill transaction.
pub const FILL_BATCH: u64 = 50_000;

/// `--files N` of the bench's arguments, or `default`; a malformed one prints the usage.
pub fn files_arg(bench: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    match args.iter().position(|a| a == "--files") {
        Some(i) => args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or_else(|| {
            eprintln!("usage: cargo bench -p passerelle-social-service --bench {bench} [-- --files N]");
            std::process::exit(2);
        }),
        None => default,
    }
}

/// A temporary folder under `$BENCH_DIR` (default: the system's temporary folder).
pub fn bench_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into))
        .expect("a temporary directory")
}

/// The store's insert statements a fill uses, prepared once per transaction.
pub struct Inserts<'c> {
    /// `(id, office, state, opened_at, last_activity_at, file, person)`, opened by `sw-bench`.
    pub file: CachedStatement<'c>,
    /// `(id, file, start, end)`, purpose 1.
    pub action: CachedStatement<'c>,
    /// `(id, office, kind, created_at)`, theme 1, by `sw-bench`.
    pub offer: CachedStatement<'c>,
    /// `(offer, date)`, session 0.
    pub session: CachedStatement<'c>,
    /// `(offer, file)`.
    pub participant: CachedStatement<'c>,
    /// `(offer, file)`, session 0.
    pub attendee: CachedStatement<'c>,
    /// `(file, kind, at)`, by `ro-bench`, no reasons, no decision.
    pub right: CachedStatement<'c>,
}

impl<'c> Inserts<'c> {
    fn prepare(conn: &'c Connection) -> Inserts<'c> {
        let p = |sql: &str| conn.prepare_cached(sql).expect("prepare");
        Inserts {
            file: p("INSERT INTO files (id, office, state, opened_at, opened_by, last_activity_at, file, person) \
                     VALUES (?1, ?2, ?3, ?4, 'sw-bench', ?5, ?6, ?7)"),
            action: p("INSERT INTO actions (id, file, purpose, start, end) VALUES (?1, ?2, 1, ?3, ?4)"),
            offer: p("INSERT INTO offers (id, office, kind, theme, created_by, created_at) \
                      VALUES (?1, ?2, ?3, 1, 'sw-bench', ?4)"),
            session: p("INSERT INTO offer_sessions (offer, session, date) VALUES (?1, 0, ?2)"),
            participant: p("INSERT INTO offer_participants (offer, file) VALUES (?1, ?2)"),
            attendee: p("INSERT INTO session_attendees (offer, session, file) VALUES (?1, 0, ?2)"),
            right: p("INSERT INTO rights_records (file, kind, at, agent) VALUES (?1, ?2, ?3, 'ro-bench')"),
        }
    }
}

/// Fills the store at `path` straight into its tables: `row(inserts, n)` for each `n` in
/// `0..files`, [`FILL_BATCH`] files a transaction, `synchronous = OFF` (a bench's store, not a
/// body's). The store must be open (its schema migrated) and idle.
pub fn fill(path: &Path, files: u64, mut row: impl FnMut(&mut Inserts<'_>, u64)) {
    let conn = passerelle_sqlite::open::connection(path, Duration::from_secs(5)).expect("the store opens");
    conn.execute_batch("PRAGMA synchronous = OFF").expect("pragma");
    let mut n = 0;
    while n < files {
        conn.execute_batch("BEGIN").expect("begin");
        {
            let mut inserts = Inserts::prepare(&conn);
            for _ in 0..FILL_BATCH.min(files - n) {
                row(&mut inserts, n);
                n += 1;
            }
        }
        conn.execute_batch("COMMIT").expect("commit");
    }
}

/// A small deterministic generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A database's size on disk (the file and its WAL), MiB.
pub fn size(path: &Path) -> f64 {
    ["", "-wal"].iter().map(|s| std::fs::metadata(format!("{}{s}", path.display())).map_or(0, |m| m.len())).sum::<u64>()
        as f64
        / 1048576.0
}

/// The process's CPU time (user + system) so far, from `/proc/self/stat` (100 ticks a second).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Resets the peak resident set to the current one; returns the current one (KiB).
pub fn reset_peak() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").expect("/proc/self/clear_refs resets the peak RSS");
    status_kib("VmRSS")
}

/// A `/proc/self/status` figure in KiB.
pub fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
