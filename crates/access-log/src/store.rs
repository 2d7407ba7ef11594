//! The access log's SQLite store: appending (one entry, or many in one transaction), the heads
//! of the yearly chains, a person's entries, and the two deletions retention asks for.
//!
//! Tables: `access_entry` (the chained entries, keyed by `year, seq`), `access_person` (the
//! person's keyed hash and the salt of the entry's commitment, deleted when the holder's cap
//! passes) and `access_head` (the writer's record of each year's count and head hash, which
//! `verify` holds the chain against: a tail cut without it is seen).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use passerelle_sqlite::time::{from_ms, to_ms};
use passerelle_sqlite::{params, Database, Migration, Options, Tx};

use crate::chain::{self, Hash, Linked};
use crate::{AccessEntry, AccessKind, AccessLogError, LegalCalendar, PersonRef, Result};

const MIGRATIONS: &[Migration] = &[Migration::sql(
    "access log",
    "CREATE TABLE access_entry (
        year INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        agent TEXT NOT NULL,
        kind TEXT NOT NULL,
        object TEXT NOT NULL,
        person_commitment BLOB,
        prev_hash BLOB NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (year, seq)
    ) WITHOUT ROWID;
    CREATE TABLE access_person (
        year INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        person_hash BLOB NOT NULL,
        salt BLOB NOT NULL,
        PRIMARY KEY (year, seq),
        FOREIGN KEY (year, seq) REFERENCES access_entry (year, seq) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE INDEX access_person_by_hash ON access_person (person_hash);
    CREATE INDEX access_person_by_time ON access_person (at_ms);
    CREATE TABLE access_head (
        year INTEGER PRIMARY KEY,
        count INTEGER NOT NULL,
        hash BLOB NOT NULL
    );",
)];

/// Where an entry is: its year's chain and its rank in it (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub year: i32,
    pub seq: i64,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.year, self.seq)
    }
}

/// A year's chain as a signed checkpoint records it: how many entries, and the last one's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    pub year: i32,
    pub count: i64,
    pub hash: Hash,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub position: Position,
    pub at: SystemTime,
    pub agent: String,
    pub kind: AccessKind,
    pub object: String,
    /// Whether the entry concerns a person (it holds a commitment).
    pub concerns_person: bool,
    /// The person's hash, until the holder's cap passes ([`AccessLog::drop_person_hashes_before`]).
    pub person: Option<PersonRef>,
}

/// A daemon's access log.
#[derive(Debug)]
pub struct AccessLog {
    db: Database,
    calendar: LegalCalendar,
    /// How many purges the log has recorded or undergone since it was opened (`delete`
    /// entries appended, person hashes dropped): a checkpointer sends a `purge` checkpoint
    /// when it moves.
    purges: AtomicU64,
}

impl AccessLog {
    /// Opens (or creates, 0600 in a 0700 folder) the access log at `path`; entries go to the
    /// chain of their calendar year in `calendar`.
    pub fn open(path: &Path, calendar: LegalCalendar) -> Result<AccessLog> {
        let options = Options { checkpoint_thread: false, ..Options::named("access log") };
        Ok(AccessLog { db: Database::open_with(path, MIGRATIONS, options)?, calendar, purges: AtomicU64::new(0) })
    }

    /// How many purges were recorded (a `delete` entry appended) or done (person hashes
    /// dropped, a year dropped) since the log was opened.
    pub fn purges(&self) -> u64 {
        self.purges.load(Ordering::Relaxed)
    }

    /// The hash of entry `seq` of `year`'s chain, if it has one (checking against a checkpoint).
    pub fn hash_at(&self, year: i32, seq: i64) -> Result<Option<Hash>> {
        self.db.read(|tx| {
            tx.query_optional("SELECT hash FROM access_entry WHERE year = ?1 AND seq = ?2", params![year, seq], |r| {
                r.get::<_, Vec<u8>>(0)
            })?
            .map(|hash| to_hash(hash, "an entry hash"))
            .transpose()
        })
    }

    /// Drops the chain of `year`, whole, once its retention has run at `now` (from 1 January of
    /// `year + 5` in the legal calendar; refused before, whatever the caller says), then
    /// rebuilds the file. The caller first has its witness accept the year's `year-closed`
    /// checkpoint. Returns whether there was a chain to drop.
    pub fn drop_year(&self, year: i32, now: SystemTime) -> Result<bool> {
        if year >= self.calendar.oldest_retained_year(now) {
            return Err(AccessLogError::Retained { year, until: year + crate::RETAINED_YEARS_AFTER });
        }
        let dropped = self.db.write(|tx| {
            let mut dropped = 0;
            for table in ["access_person", "access_entry", "access_head"] {
                dropped += tx.execute(&format!("DELETE FROM {table} WHERE year = ?1"), [year])?;
            }
            Ok::<_, AccessLogError>(dropped)
        })?;
        if dropped > 0 {
            self.purges.fetch_add(1, Ordering::Relaxed);
            self.rebuild()?;
            tracing::info!(store = "access log", year, "dropped a year whose retention has run");
        }
        Ok(dropped > 0)
    }

    pub fn path(&self) -> &Path {
        self.db.path()
    }

    pub fn calendar(&self) -> LegalCalendar {
        self.calendar
    }

    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    /// Appends one entry to the chain of its year; durable when this returns.
    pub fn append(&self, entry: &AccessEntry) -> Result<Position> {
        Ok(self.append_many(std::slice::from_ref(entry))?[0])
    }

    /// Appends `entries`, in order, in one transaction (a machine action's entries per chunk or
    /// per case): all are stored or none. An entry whose agent or object is not an identifier
    /// is refused before anything is written.
    pub fn append_many(&self, entries: &[AccessEntry]) -> Result<Vec<Position>> {
        for entry in entries {
            entry.check()?;
        }
        let positions = self.db.write(|tx| entries.iter().map(|entry| self.append_in(tx, entry)).collect())?;
        if entries.iter().any(|e| e.kind == AccessKind::Delete) {
            self.purges.fetch_add(1, Ordering::Relaxed);
        }
        Ok(positions)
    }

    fn append_in(&self, tx: &Tx<'_>, entry: &AccessEntry) -> Result<Position> {
        let year = self.calendar.year_of(entry.at);
        let (count, prev_hash) = tx
            .query_optional("SELECT count, hash FROM access_head WHERE year = ?1", [year], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .map(|(count, hash)| Ok::<_, AccessLogError>((count, to_hash(hash, "a head hash")?)))
            .transpose()?
            .unwrap_or((0, chain::genesis(year)));
        let seq = count + 1;
        let at_ms = to_ms(entry.at);
        let salted = entry.person.as_ref().map(|person| {
            let salt = chain::salt();
            (person, salt, chain::commitment(&salt, person))
        });
        let hash = Linked {
            year,
            seq,
            at_ms,
            agent: &entry.agent,
            kind: entry.kind.as_str(),
            object: &entry.object,
            commitment: salted.as_ref().map(|(_, _, c)| c),
            prev_hash: &prev_hash,
        }
        .hash();
        tx.execute(
            "INSERT INTO access_entry (year, seq, at_ms, agent, kind, object, person_commitment, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                year,
                seq,
                at_ms,
                entry.agent,
                entry.kind.as_str(),
                entry.object,
                salted.as_ref().map(|(_, _, c)| c.as_slice()),
                prev_hash.as_slice(),
                hash.as_slice()
            ],
        )?;
        if let Some((person, salt, _)) = &salted {
            tx.execute(
                "INSERT INTO access_person (year, seq, at_ms, person_hash, salt) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![year, seq, at_ms, person.as_bytes().as_slice(), salt.as_slice()],
            )?;
        }
        tx.execute(
            "INSERT INTO access_head (year, count, hash) VALUES (?1, ?2, ?3)
             ON CONFLICT (year) DO UPDATE SET count = excluded.count, hash = excluded.hash",
            params![year, seq, hash.as_slice()],
        )?;
        Ok(Position { year, seq })
    }

    /// The years that have a chain, oldest first.
    pub fn years(&self) -> Result<Vec<i32>> {
        Ok(self.db.read(years_in)?)
    }

    /// The head of `year`'s chain as its entries hold it (the last entry's rank and hash), for a
    /// signed checkpoint; `None` for a year without entries.
    pub fn head(&self, year: i32) -> Result<Option<ChainHead>> {
        self.db.read(|tx| {
            tx.query_optional(
                "SELECT seq, hash FROM access_entry WHERE year = ?1 ORDER BY seq DESC LIMIT 1",
                [year],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )?
            .map(|(count, hash)| Ok(ChainHead { year, count, hash: to_hash(hash, "an entry hash")? }))
            .transpose()
        })
    }

    /// Every entry that concerns `person` and still holds their hash, oldest first (a rights
    /// request).
    pub fn find_person(&self, person: &PersonRef) -> Result<Vec<StoredEntry>> {
        self.db.read(|tx| {
            let rows = tx.query_all(
                "SELECT e.year, e.seq, e.at_ms, e.agent, e.kind, e.object
                 FROM access_person p JOIN access_entry e ON e.year = p.year AND e.seq = p.seq
                 WHERE p.person_hash = ?1 ORDER BY e.at_ms, e.year, e.seq",
                [person.as_bytes().as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?, r.get(5)?)),
            )?;
            rows.into_iter()
                .map(|(year, seq, at_ms, agent, kind, object)| {
                    Ok(StoredEntry {
                        position: Position { year, seq },
                        at: from_ms(at_ms),
                        agent,
                        kind: stored_kind(&kind)?,
                        object,
                        concerns_person: true,
                        person: Some(person.clone()),
                    })
                })
                .collect()
        })
    }

    /// The entries of `year` from rank `from` on, at most `limit` of them (for `show`).
    pub fn entries(&self, year: i32, from: i64, limit: usize) -> Result<Vec<StoredEntry>> {
        self.db.read(|tx| {
            let rows = tx.query_all(
                "SELECT e.seq, e.at_ms, e.agent, e.kind, e.object, e.person_commitment IS NOT NULL, p.person_hash
                 FROM access_entry e LEFT JOIN access_person p ON p.year = e.year AND p.seq = e.seq
                 WHERE e.year = ?1 AND e.seq >= ?2 ORDER BY e.seq LIMIT ?3",
                params![year, from, limit as i64],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get::<_, String>(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get::<_, Option<Vec<u8>>>(6)?,
                    ))
                },
            )?;
            rows.into_iter()
                .map(|(seq, at_ms, agent, kind, object, concerns_person, person)| {
                    Ok(StoredEntry {
                        position: Position { year, seq },
                        at: from_ms(at_ms),
                        agent,
                        kind: stored_kind(&kind)?,
                        object,
                        concerns_person,
                        person: person.map(|h| to_hash(h, "a person hash").map(PersonRef::from_bytes)).transpose()?,
                    })
                })
                .collect()
        })
    }

    /// Deletes the person hashes (and their salts) of the entries made before `cutoff`: the
    /// holder's own cap for the person's data has passed (the caller gives it: 30 days at the
    /// observatory, 24 months at the requester). The entries and their commitments stay, so
    /// the chain still verifies. Returns how many hashes were dropped.
    ///
    /// `secure_delete` zeroes the freed cells in the database file; [`AccessLog::rebuild`]
    /// also rewrites the file and empties the WAL.
    pub fn drop_person_hashes_before(&self, cutoff: SystemTime) -> Result<u64> {
        // Daemons call this on every tick: a read first, so that a log with nothing due never
        // takes the write lock.
        let due = self.db.read(|tx| tx.exists("SELECT 1 FROM access_person WHERE at_ms < ?1", [to_ms(cutoff)]))?;
        if !due {
            return Ok(0);
        }
        let dropped = self.db.write(|tx| tx.execute("DELETE FROM access_person WHERE at_ms < ?1", [to_ms(cutoff)]))?;
        if dropped > 0 {
            self.purges.fetch_add(1, Ordering::Relaxed);
            tracing::info!(store = "access log", dropped, "dropped the person hashes past the holder's cap");
        }
        Ok(dropped as u64)
    }

    /// Rewrites the file from its live rows and empties the WAL: nothing deleted is left on disk.
    pub fn rebuild(&self) -> Result<()> {
        self.db.rebuild()?;
        Ok(())
    }
}

/// The years that have entries or a head row, oldest first.
pub(crate) fn years_in(tx: &Tx<'_>) -> passerelle_sqlite::Result<Vec<i32>> {
    tx.query_all("SELECT year FROM access_entry GROUP BY year UNION SELECT year FROM access_head ORDER BY 1", [], |r| {
        r.get(0)
    })
}

/// A stored hash, salt or commitment as 32 bytes.
pub(crate) fn to_hash(bytes: Vec<u8>, what: &str) -> Result<Hash> {
    bytes.try_into().map_err(|_| AccessLogError::Corrupt(format!("{what} of the wrong length")))
}

/// An access kind as the store holds it; anything else was written behind the daemon's back.
fn stored_kind(text: &str) -> Result<AccessKind> {
    text.parse().map_err(|_| AccessLogError::Corrupt("an unknown access kind".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{at, fixture, raw, read, synthetic_nir};
    use passerelle_protocol::rules::{Clock, ManualClock};
    use std::time::Duration;

    const CASE: &str = "0190b6a2-7c1e-7f00-8000-000000000001";

    /// The bytes of the store's file and its WAL.
    fn store_bytes(f: &crate::fixture::Fixture) -> Vec<u8> {
        let mut bytes = Vec::new();
        for suffix in ["", "-wal"] {
            let mut path = f.path.clone().into_os_string();
            path.push(suffix);
            bytes.extend(std::fs::read(&path).unwrap_or_default());
        }
        bytes
    }

    #[test]
    fn appended_entries_chain_per_year_and_verify() {
        let f = fixture();
        let person = f.key.person(&synthetic_nir(1));
        let first = f.log.append(&read("2026-03-01T10:00:00Z", "agent:a-17", CASE).about(person.clone())).unwrap();
        let many = f
            .log
            .append_many(&[
                AccessEntry::new(at("2026-03-01T10:05:00Z"), "daemon:observatory", AccessKind::Delete, CASE),
                AccessEntry::new(at("2027-02-01T10:00:00Z"), "agent:a-17", AccessKind::Export, "submission-9"),
                read("2026-04-01T10:00:00Z", "agent:a-18", CASE),
            ])
            .unwrap();
        assert_eq!(first, Position { year: 2026, seq: 1 });
        assert_eq!(
            many,
            [Position { year: 2026, seq: 2 }, Position { year: 2027, seq: 1 }, Position { year: 2026, seq: 3 }]
        );
        assert_eq!(f.log.years().unwrap(), [2026, 2027]);
        let head = f.log.head(2026).unwrap().unwrap();
        assert_eq!(head.count, 3);
        assert_eq!(f.log.head(2025).unwrap(), None);

        let verified = f.log.verify().unwrap();
        assert!(verified.is_intact(), "{:?}", verified.tamperings());
        assert_eq!(verified.chains.iter().map(|c| (c.year, c.entries)).collect::<Vec<_>>(), [(2026, 3), (2027, 1)]);
        assert_eq!(verified.chains[0].head, Some(head));

        let shown = f.log.entries(2026, 1, 10).unwrap();
        assert_eq!(shown.len(), 3);
        assert_eq!((shown[0].concerns_person, shown[0].person.as_ref()), (true, Some(&person)));
        assert_eq!(
            (shown[1].agent.as_str(), shown[1].kind, shown[1].person.as_ref()),
            ("daemon:observatory", AccessKind::Delete, None)
        );
    }

    #[test]
    fn append_many_stores_all_or_nothing_and_refuses_a_nir_as_object() {
        let f = fixture();
        let nir = synthetic_nir(2);
        let refused = f
            .log
            .append_many(&[
                read("2026-03-01T10:00:00Z", "agent:a", CASE),
                read("2026-03-01T10:00:00Z", "agent:a", nir.as_str()),
            ])
            .unwrap_err();
        let message = refused.to_string();
        assert!(message.contains("object") && message.contains("NIR") && !message.contains(nir.as_str()), "{message}");
        assert_eq!(f.log.years().unwrap(), Vec::<i32>::new(), "nothing of the refused batch is stored");
    }

    #[test]
    fn verify_writes_nothing() {
        let f = fixture();
        f.log.append(&read("2026-03-01T10:00:00Z", "agent:a", CASE)).unwrap();
        let changes = |c: &passerelle_sqlite::rusqlite::Connection| -> i64 {
            c.query_row("PRAGMA data_version", [], |r| r.get(0)).unwrap()
        };
        let observer = raw(&f);
        let before = changes(&observer);
        for _ in 0..3 {
            assert!(f.log.verify().unwrap().is_intact());
        }
        assert_eq!(changes(&observer), before, "another connection saw no commit");
        assert_eq!(f.log.head(2026).unwrap().unwrap().count, 1);
    }

    #[test]
    fn a_rights_request_finds_the_persons_entries_only() {
        let f = fixture();
        let (jeanne, paul) = (f.key.person(&synthetic_nir(3)), f.key.person(&synthetic_nir(4)));
        f.log
            .append_many(&[
                read("2026-03-01T10:00:00Z", "agent:a", CASE).about(jeanne.clone()),
                read("2026-03-02T10:00:00Z", "agent:b", CASE).about(paul.clone()),
                AccessEntry::new(at("2027-01-05T10:00:00Z"), "agent:c", AccessKind::Update, "file-3")
                    .about(jeanne.clone()),
            ])
            .unwrap();
        let found = f.log.find_person(&jeanne).unwrap();
        assert_eq!(
            found.iter().map(|e| (e.position, e.agent.as_str(), e.kind)).collect::<Vec<_>>(),
            [
                (Position { year: 2026, seq: 1 }, "agent:a", AccessKind::Read),
                (Position { year: 2027, seq: 1 }, "agent:c", AccessKind::Update)
            ]
        );
        assert_eq!(f.log.find_person(&paul).unwrap().len(), 1);
        assert!(f.log.find_person(&f.key.person(&synthetic_nir(5))).unwrap().is_empty());
    }

    #[test]
    fn a_person_hash_dropped_at_the_holders_cap_leaves_the_chain_intact() {
        let f = fixture();
        let person = f.key.person(&synthetic_nir(6));
        f.log
            .append_many(&[
                read("2026-03-01T10:00:00Z", "agent:a", CASE).about(person.clone()),
                read("2026-04-15T10:00:00Z", "agent:a", CASE).about(person.clone()),
            ])
            .unwrap();
        let copies = store_bytes(&f).windows(32).filter(|w| w == person.as_bytes()).count();
        assert!(copies >= 4, "both entries' hashes are on disk, each in its row and the index: {copies}");
        // The observatory's cap: 30 days after the access.
        let cutoff = at("2026-04-20T00:00:00Z") - Duration::from_secs(30 * 86_400);
        assert_eq!(f.log.drop_person_hashes_before(cutoff).unwrap(), 1);
        let found = f.log.find_person(&person).unwrap();
        assert_eq!(found.iter().map(|e| e.position.seq).collect::<Vec<_>>(), [2]);
        let verified = f.log.verify().unwrap();
        assert!(verified.is_intact(), "{:?}", verified.tamperings());
        assert_eq!(verified.chains[0].person_hashes_dropped, 1);
        let first = &f.log.entries(2026, 1, 1).unwrap()[0];
        assert_eq!((first.concerns_person, first.person.as_ref()), (true, None));
        let remaining: i64 = raw(&f).query_row("SELECT count(*) FROM access_person", [], |r| r.get(0)).unwrap();
        assert_eq!(remaining, 1);
        f.log.rebuild().unwrap();
        let copies = store_bytes(&f).windows(32).filter(|w| w == person.as_bytes()).count();
        assert_eq!(copies, 2, "the kept entry's hash alone is on disk: its row and its index entry");
    }

    #[test]
    fn a_year_is_purged_whole_in_its_fifth_following_year_and_not_before() {
        let f = fixture();
        f.log
            .append_many(&[
                read("2026-06-01T10:00:00Z", "agent:of-2026", CASE),
                read("2026-12-31T22:59:00Z", "agent:of-2026", CASE),
                read("2027-01-10T10:00:00Z", "agent:a", CASE),
            ])
            .unwrap();
        let clock = ManualClock::starting_at(at("2030-12-31T22:58:00Z"));
        let refused = f.log.drop_year(2026, clock.now()).unwrap_err().to_string();
        assert!(refused.contains("kept through 2030"), "2026 + 4 still runs: {refused}");
        clock.advance(Duration::from_secs(2 * 60));
        assert!(f.log.drop_year(2026, clock.now()).unwrap(), "1 January 2031 in Paris");
        assert_eq!(f.log.years().unwrap(), [2027]);
        assert!(f.log.verify().unwrap().is_intact());
        let bytes = store_bytes(&f);
        assert!(!bytes.windows(12).any(|w| w == b"agent:of-202"), "nothing of 2026 is left on disk");
        assert!(bytes.windows(7).any(|w| w == b"agent:a"), "the scan reads the store");
        clock.advance(Duration::from_secs(366 * 86_400));
        assert!(f.log.drop_year(2027, clock.now()).unwrap());
        assert!(!f.log.drop_year(2027, clock.now()).unwrap(), "nothing left to drop");
        assert!(f.log.years().unwrap().is_empty());
    }

    #[test]
    fn the_chain_of_an_entry_is_the_calendar_year_in_paris() {
        let f = fixture();
        let late = f.log.append(&read("2026-12-31T23:30:00Z", "agent:a", CASE)).unwrap();
        let early = f.log.append(&read("2026-12-31T22:30:00Z", "agent:a", CASE)).unwrap();
        assert_eq!(late, Position { year: 2027, seq: 1 }, "00:30 on 1 January 2027 in Paris");
        assert_eq!(early, Position { year: 2026, seq: 1 });
    }

    #[test]
    fn no_nir_is_stored_in_clear() {
        let f = fixture();
        let nirs: Vec<_> = (10..40).map(synthetic_nir).collect();
        let entries: Vec<_> =
            nirs.iter().map(|nir| read("2026-03-01T10:00:00Z", "agent:a", CASE).about(f.key.person(nir))).collect();
        f.log.append_many(&entries).unwrap();
        let bytes = store_bytes(&f);
        assert!(bytes.len() > 4096, "the scan reads the store");
        for nir in &nirs {
            for needle in [nir.as_str(), &nir.as_str()[..13]] {
                assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "a NIR in clear");
            }
        }
        let hash = f.key.person(&nirs[0]);
        assert!(bytes.windows(32).any(|w| w == hash.as_bytes()), "the scan sees what is stored: the keyed hash");
    }
}
