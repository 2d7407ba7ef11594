//! Test fixtures: a fresh access log in a temporary folder, times in UTC, synthetic persons.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use passerelle_protocol::nir::{self, Nir};

use crate::{AccessEntry, AccessKind, AccessLog, LegalCalendar, PersonKey};

pub(crate) struct Fixture {
    pub log: AccessLog,
    pub key: PersonKey,
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

pub(crate) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/access-log.db");
    let log = AccessLog::open(&path, LegalCalendar::default()).unwrap();
    Fixture { log, key: PersonKey::new(b"a test key of 32 bytes, no more."), path, _dir: dir }
}

/// A time given in RFC 3339.
pub(crate) fn at(rfc3339: &str) -> SystemTime {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
    UNIX_EPOCH + Duration::from_millis(t.timestamp_millis() as u64)
}

/// A synthetic NIR (its key computed), one per `n`.
pub(crate) fn synthetic_nir(n: u32) -> Nir {
    nir::with_key(&format!("2500513055{n:03}")).unwrap()
}

/// An agent's read of a case, on `day` (RFC 3339).
pub(crate) fn read(day: &str, agent: &str, case: &str) -> AccessEntry {
    AccessEntry::new(at(day), agent, AccessKind::Read, case)
}

/// A raw connection to the file, as someone with `sqlite3` would open it.
pub(crate) fn raw(fixture: &Fixture) -> passerelle_sqlite::rusqlite::Connection {
    passerelle_sqlite::testing::raw_connection(&fixture.path).unwrap()
}
