//! The statistics store (art. 1 second paragraph, art. 4–5): a *separate* SQLite database, one
//! row per person of each exchanged case, written before the case's payloads are purged and
//! kept at most 5 years.
//!
//! A row holds a keyed pseudonym instead of the NIR (HMAC-SHA256 of the NIR with a secret only
//! the daemon holds: stable across cases, so a person can be followed, and meaningless without
//! the secret), sex, birth year, territory (the département), requester, the service offered
//! (a code of the closed list, never the request's free text), the month it was recorded (never
//! a finer time: [`minimised`]), requested categories, and the values received with their
//! source, plus each body's answer status.
//!
//! The store sits alone in its folder, the **statistics folder**, and the pseudonym key is
//! outside it, read by the observatory daemon alone ([`placement`]): a statistics agent reads
//! pseudonyms and follows a person by pseudonym ([`parse_pseudonym`], [`StatisticsStore::follow`]),
//! and no view takes a NIR or turns one into a pseudonym.
//!
//! Architecture invariant: nothing identifying enters this store. The writer refuses any
//! category code that [`passerelle_protocol::catalogue::is_identifying`] flags, any value that is
//! not a well-formed value of its category, and any pseudonym that is not a 64-hex-digit HMAC;
//! [`StatisticsStore::open`] refuses a schema with a column that is neither fixed metadata nor a
//! non-identifying catalogue code.

mod minimised;
pub mod placement;
mod pseudonym;
mod report;
mod rights;

use std::path::Path;
use std::time::SystemTime;

use passerelle_protocol::catalogue;
use passerelle_sqlite::{Database, Migration, Options};
use rusqlite::params;

use crate::{contains_nir, Result, StoreError};

pub use minimised::{is_service_code, month_of, month_start, service_code};
pub use placement::{settle, Settled, StatisticsPlacement};
pub use pseudonym::{is_pseudonym, parse_pseudonym, NotAPseudonym, Pseudonymiser, PSEUDONYM_LEN};
pub use report::{Appearance, BodyAnswerRate, StatisticsReport};
pub use rights::{HeldRow, RectifiedValue};

/// The statistics store's schema, in order ([`passerelle_sqlite::migrate`]). The first step
/// uses `IF NOT EXISTS`: files of the first release carry its tables with version 0.
const MIGRATIONS: &[Migration] = &[
    Migration::sql("persons and the chunks recorded", SCHEMA),
    Migration::sql("the values each rights request rectified", RECTIFICATIONS),
    Migration::code("services as codes, times as months", minimised::minimise_existing_rows),
];

/// What each rights request rectified (`rights.rs`), written in the transaction that changes the
/// rows, so that the request delivered again is answered with the same changes. Case ids and
/// category codes only (no value, no pseudonym); kept [`rights::RECTIFICATIONS_KEPT`].
const RECTIFICATIONS: &str = r#"
CREATE TABLE rectifications (
    request_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    category TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (request_id, case_id, category)
) WITHOUT ROWID;
"#;

/// The first release's persons table and ledger (migration 1): `recorded_at` in milliseconds,
/// `service` the request's free text. Migration 3 makes it [`PERSONS`].
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS persons (
    id INTEGER PRIMARY KEY,
    pseudonym TEXT NOT NULL,
    case_id TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    territory TEXT NOT NULL,
    requester TEXT NOT NULL,
    requester_office TEXT NOT NULL,
    service TEXT NOT NULL,
    requested TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_year INTEGER NOT NULL,
    -- The values received, as a JSON array of [category, source, value] in the order they were
    -- received, and each solicited body's answer, as a JSON object {body: status}: one row a
    -- person (analysts read them with `json_each`): one insert a person, where rows of their own
    -- would take some 25 a
    -- person instead of one.
    values_json TEXT NOT NULL DEFAULT '[]',
    answers_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS persons_by_case ON persons(case_id);
-- The chunks recorded, so that recording a chunk again (a purge retried after a crash) changes
-- nothing (a unique index on (case_id, pseudonym) would do it row by row, at the cost of a
-- random index page a person at every commit).
CREATE TABLE IF NOT EXISTS recorded_chunks (
    case_id TEXT NOT NULL,
    chunk INTEGER NOT NULL,
    PRIMARY KEY (case_id, chunk)
) WITHOUT ROWID;
-- Following a pseudonym (`follow`, an analyst's query) scans the table: an index by pseudonym
-- would take a random page a person at every commit, over years of rows.
CREATE INDEX IF NOT EXISTS persons_by_time ON persons(recorded_at);
"#;

/// The persons table since migration 3: `recorded_at` is a month (`YYYY-MM`, legal time zone),
/// `service` a code of the list ([`minimised`]).
const PERSONS: &str = r#"
CREATE TABLE persons (
    id INTEGER PRIMARY KEY,
    pseudonym TEXT NOT NULL,
    case_id TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    territory TEXT NOT NULL,
    requester TEXT NOT NULL,
    requester_office TEXT NOT NULL,
    service TEXT NOT NULL,
    requested TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_year INTEGER NOT NULL,
    values_json TEXT NOT NULL DEFAULT '[]',
    answers_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX persons_by_case ON persons(case_id);
CREATE INDEX persons_by_time ON persons(recorded_at);
"#;

/// Columns that are metadata of the exchange, not data about the person (art. 2, 1°): every
/// other column must be a catalogue code that is not identifying (`sex`, `birth_year`).
pub const METADATA_COLUMNS: [&str; 14] = [
    "id",
    "pseudonym",
    "case_id",
    "recorded_at",
    "territory",
    "requester",
    "requester_office",
    "service",
    "requested",
    "values_json",
    "answers_json",
    "chunk",
    // `rectifications`: which rights request changed which category of which case's row.
    "request_id",
    "category",
];

/// The source recorded for the requester's own known risk factors.
pub const REQUESTER_SOURCE: &str = "requester";

/// One value received about a person, with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatisticsValue {
    /// The category code, e.g. `housing_aid`.
    pub category: String,
    /// The body that gave it, or [`REQUESTER_SOURCE`] for a known risk factor.
    pub source: String,
    /// The value in the shared text syntax (`true`, `2024-03-01`, `1234.56`…).
    pub value: String,
}

/// The statistics rows of one chunk of a case, recorded together or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkStatistics {
    pub case_id: String,
    pub chunk: u32,
    pub rows: Vec<StatisticsRow>,
}

/// One person of one case, pseudonymised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatisticsRow {
    /// [`Pseudonymiser::pseudonym`] of the NIR.
    pub pseudonym: String,
    pub case_id: String,
    /// When it is recorded: the store keeps its month only ([`month_of`]).
    pub recorded_at: SystemTime,
    /// The département of the residence commune.
    pub territory: String,
    /// The requester's body code.
    pub requester: String,
    pub requester_office: String,
    /// The service offered (art. 3), as its code ([`service_code`]): never free text.
    pub service: String,
    /// The requested category codes.
    pub requested: Vec<String>,
    /// `M` or `F`.
    pub sex: String,
    pub birth_year: u32,
    pub values: Vec<StatisticsValue>,
    /// Per solicited body: `found`, `not_found` or `no_answer`.
    pub answers: Vec<(String, String)>,
}

/// The statistics database. Its writes come once per purged chunk of cases, off the delivery
/// path: its WAL is checkpointed by the commits themselves (no checkpoint thread).
#[derive(Debug)]
pub struct StatisticsStore {
    db: Database,
}

impl StatisticsStore {
    /// Opens (or creates, or brings up to date) the statistics store and checks that no column
    /// is identifying.
    pub fn open(path: &Path) -> Result<StatisticsStore> {
        let options = Options { checkpoint_thread: false, ..Options::named("statistics store") };
        let before = version_of(path)?;
        let store = StatisticsStore { db: Database::open_with(path, MIGRATIONS, options)? };
        if before.is_some_and(|v| v < 3) {
            // Migration 3 replaced free text and times: rebuild, so no copy of them is left.
            store.db.rebuild()?;
        }
        for (table, column) in store.columns()? {
            if !METADATA_COLUMNS.contains(&column.as_str()) && catalogue::is_identifying(&column) {
                return Err(StoreError::Identifying(format!("{table}.{column}")));
            }
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// Every `(table, column)` of the database.
    pub fn columns(&self) -> Result<Vec<(String, String)>> {
        self.db.read(|tx| {
            let tables: Vec<String> = tx.query_all(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                [],
                |r| r.get(0),
            )?;
            let mut columns = Vec::new();
            for table in tables {
                let names: Vec<String> =
                    tx.query_all("SELECT name FROM pragma_table_info(?1)", [&table], |r| r.get(0))?;
                columns.extend(names.into_iter().map(|c| (table.clone(), c)));
            }
            Ok::<_, StoreError>(columns)
        })
    }

    /// Writes the rows of chunks of cases, in one transaction; a chunk already recorded is
    /// skipped whole, so writing a case twice (a restart mid-purge) changes nothing. Returns how
    /// many rows were new.
    pub fn record(&self, chunks: &[ChunkStatistics]) -> Result<usize> {
        for chunk in chunks {
            for row in &chunk.rows {
                if row.case_id != chunk.case_id {
                    return Err(StoreError::Corrupt(format!(
                        "a statistics row of case {} among those of case {}",
                        row.case_id, chunk.case_id
                    )));
                }
                check_row(row)?;
            }
        }
        self.db.write(|tx| {
            let mut inserted = 0;
            let mut recorded =
                tx.prepare_cached("INSERT OR IGNORE INTO recorded_chunks (case_id, chunk) VALUES (?1, ?2)")?;
            let mut person = tx.prepare_cached(
                "INSERT OR IGNORE INTO persons (pseudonym, case_id, recorded_at, territory, requester, \
                 requester_office, service, requested, sex, birth_year, values_json, answers_json) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for chunk in chunks {
                // A chunk without rows (a case that ended without a result) leaves nothing to
                // record twice.
                if chunk.rows.is_empty() || recorded.execute(params![chunk.case_id, chunk.chunk])? == 0 {
                    continue;
                }
                for row in &chunk.rows {
                    let n = person.execute(params![
                        row.pseudonym,
                        row.case_id,
                        month_of(row.recorded_at),
                        row.territory,
                        row.requester,
                        row.requester_office,
                        row.service,
                        row.requested.join(","),
                        row.sex,
                        row.birth_year,
                        values_json(&row.values),
                        answers_json(&row.answers),
                    ])?;
                    inserted += n;
                }
            }
            Ok::<_, StoreError>(inserted)
        })
    }

    /// How many persons of a case the statistics hold (whoever recorded them: recording is
    /// idempotent, so a purge retried after a crash finds the rows of its first attempt).
    pub fn persons_of_case(&self, case_id: &str) -> Result<usize> {
        let n: i64 = self
            .db
            .read(|tx| tx.query_row("SELECT COUNT(*) FROM persons WHERE case_id = ?1", [case_id], |r| r.get(0)))?;
        Ok(n as usize)
    }

    /// Deletes the rows recorded in the month of `before` (the 5-year cap) or earlier: a row's
    /// month counts from its first day, so none outlives the cap; nothing of them stays readable.
    pub fn purge_before(&self, before: SystemTime) -> Result<usize> {
        let deleted = self.db.write(|tx| {
            let deleted = tx.execute("DELETE FROM persons WHERE recorded_at <= ?1", [month_of(before)])?;
            if deleted > 0 {
                // The ledger of the cases that have no row left (their 30 days are long past: no
                // purge of theirs can be retried).
                tx.execute("DELETE FROM recorded_chunks WHERE case_id NOT IN (SELECT case_id FROM persons)", [])?;
            }
            Ok::<_, StoreError>(deleted)
        })?;
        if deleted > 0 {
            // As for the case store: rebuild from live rows, then truncate the WAL.
            self.db.rebuild()?;
        }
        Ok(deleted)
    }
}

/// The schema version of the file at `path` (`None` when there is no file yet).
fn version_of(path: &Path) -> Result<Option<u32>> {
    if !path.exists() {
        return Ok(None);
    }
    let flags = passerelle_sqlite::rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let conn = passerelle_sqlite::rusqlite::Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::from(passerelle_sqlite::Error::from(e)))?;
    Ok(Some(passerelle_sqlite::migrate::version(&conn)?))
}

/// A row's values as stored: `[[category, source, value], …]`.
fn values_json(values: &[StatisticsValue]) -> String {
    let triples: Vec<[&str; 3]> = values.iter().map(|v| [&*v.category, &*v.source, &*v.value]).collect();
    serde_json::to_string(&triples).expect("strings serialise")
}

/// A row's answers as stored: `{body: status, …}`.
fn answers_json(answers: &[(String, String)]) -> String {
    let by_body: serde_json::Map<String, serde_json::Value> =
        answers.iter().map(|(body, status)| (body.clone(), serde_json::Value::from(status.as_str()))).collect();
    serde_json::Value::Object(by_body).to_string()
}

/// Refuses anything identifying or malformed before it is written.
fn check_row(row: &StatisticsRow) -> Result<()> {
    if !is_pseudonym(&row.pseudonym) {
        return Err(StoreError::PersonalData("the statistics pseudonym column (not an HMAC)"));
    }
    for code in row.requested.iter().chain(row.values.iter().map(|v| &v.category)) {
        let Some(info) = catalogue::by_code(code) else {
            return Err(StoreError::Identifying(code.clone()));
        };
        if catalogue::is_identifying(code) {
            return Err(StoreError::Identifying(code.clone()));
        }
        let _ = info;
    }
    for v in &row.values {
        let info = catalogue::by_code(&v.category).expect("checked above");
        if passerelle_protocol::value::parse(info.value_type, &v.value).is_err() && !v.value.is_empty() {
            return Err(StoreError::PersonalData("a statistics value (not a value of its category)"));
        }
    }
    for field in ["sex", "birth_year"] {
        if catalogue::is_identifying(field) {
            return Err(StoreError::Identifying(field.to_owned()));
        }
    }
    if !matches!(row.sex.as_str(), "M" | "F" | "") {
        return Err(StoreError::PersonalData("the statistics sex column"));
    }
    if row.territory.chars().count() > 3 {
        return Err(StoreError::PersonalData("the statistics territory column (a département code)"));
    }
    if !is_service_code(&row.service) {
        return Err(StoreError::PersonalData("the statistics service column (not a code of the list)"));
    }
    let texts = [&row.case_id, &row.requester, &row.requester_office, &row.service];
    if texts.iter().any(|t| contains_nir(t))
        || row.values.iter().any(|v| contains_nir(&v.source))
        || row.answers.iter().any(|(b, s)| contains_nir(b) || contains_nir(s))
    {
        return Err(StoreError::PersonalData("the statistics store"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pseudonymiser: &Pseudonymiser, nir: &str, case_id: &str) -> StatisticsRow {
        StatisticsRow {
            pseudonym: pseudonymiser.pseudonym(nir),
            case_id: case_id.into(),
            recorded_at: SystemTime::now(),
            territory: "13".into(),
            requester: "cnaf".into(),
            requester_office: "caf-13".into(),
            service: "prevention-workshop".into(),
            requested: vec!["housing_aid".into(), "css".into()],
            sex: "F".into(),
            birth_year: 1950,
            values: vec![
                StatisticsValue { category: "housing_aid".into(), source: "cnaf".into(), value: "true".into() },
                StatisticsValue { category: "css".into(), source: "cnam".into(), value: "false".into() },
            ],
            answers: vec![
                ("cnam".into(), "found".into()),
                ("msa".into(), "no_answer".into()),
                ("cnav".into(), "missing".into()),
            ],
        }
    }

    fn chunk(case_id: &str, chunk: u32, rows: Vec<StatisticsRow>) -> ChunkStatistics {
        ChunkStatistics { case_id: case_id.into(), chunk, rows }
    }

    #[test]
    fn rows_aggregate_and_follow_a_pseudonym() {
        let dir = tempfile::tempdir().unwrap();
        let store = StatisticsStore::open(&dir.path().join("s.db")).unwrap();
        let p = Pseudonymiser::new(b"0123456789abcdef0123456789abcdef");
        let nir = passerelle_protocol::nir::with_key("2500513055001").unwrap();
        let chunks =
            [chunk("c1", 0, vec![row(&p, nir.as_str(), "c1")]), chunk("c2", 0, vec![row(&p, nir.as_str(), "c2")])];
        assert_eq!(store.record(&chunks).unwrap(), 2);
        assert_eq!(store.record(&chunks).unwrap(), 0, "idempotent");
        let times: Vec<String> =
            store.db.read(|tx| tx.query_all("SELECT DISTINCT recorded_at FROM persons", [], |r| r.get(0))).unwrap();
        assert_eq!(times, vec![month_of(SystemTime::now())], "the month only");
        let report = store.report().unwrap();
        assert_eq!((report.persons, report.distinct_pseudonyms, report.cases), (2, 1, 2));
        assert_eq!(report.by_risk_factor, vec![("housing_aid".to_owned(), 2)]);
        assert_eq!(report.by_sex, vec![("F".to_owned(), 2)]);
        assert_eq!(
            report.body_answers[2],
            BodyAnswerRate { body: "msa".into(), asked: 2, no_answer: 2, ..Default::default() }
        );
        assert_eq!(
            report.body_answers[1],
            BodyAnswerRate { body: "cnav".into(), asked: 2, missing: 2, ..Default::default() },
            "a person left out of a response is missing, not no_answer"
        );
        let seen = store.follow(&p.pseudonym(nir.as_str())).unwrap();
        assert_eq!(seen.iter().map(|a| a.case_id.as_str()).collect::<Vec<_>>(), ["c1", "c2"]);
        assert!(seen[0].values.contains(&"housing_aid=true (cnaf)".to_owned()));
        assert_eq!(store.purge_before(SystemTime::now() + std::time::Duration::from_secs(1)).unwrap(), 2);
        assert_eq!(store.report().unwrap().persons, 0);
        let ledger: i64 =
            store.db.read(|tx| tx.query_row("SELECT COUNT(*) FROM recorded_chunks", [], |r| r.get(0))).unwrap();
        assert_eq!(ledger, 0, "the purged cases' chunks leave the ledger");
    }

    #[test]
    fn a_chunk_is_recorded_once_and_holds_rows_of_its_case_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = StatisticsStore::open(&dir.path().join("s.db")).unwrap();
        let p = Pseudonymiser::new(b"0123456789abcdef0123456789abcdef");
        let nirs: Vec<_> =
            ["2500513055001", "2500513055002"].iter().map(|n| passerelle_protocol::nir::with_key(n).unwrap()).collect();
        let first = chunk("c1", 0, vec![row(&p, nirs[0].as_str(), "c1")]);
        let second = chunk("c1", 1, vec![row(&p, nirs[1].as_str(), "c1")]);
        assert_eq!(store.record(std::slice::from_ref(&first)).unwrap(), 1);
        // A purge retried after a crash: the first chunk again, then the second.
        assert_eq!(store.record(&[first, second]).unwrap(), 1);
        assert_eq!(store.persons_of_case("c1").unwrap(), 2);
        assert_eq!(store.record(&[chunk("c3", 0, vec![])]).unwrap(), 0);
        let ledger: i64 =
            store.db.read(|tx| tx.query_row("SELECT COUNT(*) FROM recorded_chunks", [], |r| r.get(0))).unwrap();
        assert_eq!(ledger, 2, "an empty chunk is not recorded");
        let stray = chunk("c1", 2, vec![row(&p, nirs[0].as_str(), "c2")]);
        assert!(matches!(store.record(&[stray]), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn identifying_data_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = StatisticsStore::open(&dir.path().join("s.db")).unwrap();
        let p = Pseudonymiser::new(b"0123456789abcdef0123456789abcdef");
        let nir = passerelle_protocol::nir::with_key("2500513055001").unwrap();
        let mut bad = row(&p, nir.as_str(), "c1");
        bad.values.push(StatisticsValue {
            category: "commune_code".into(),
            source: "cnaf".into(),
            value: "13055".into(),
        });
        assert!(
            matches!(store.record(&[chunk("c1", 0, vec![bad])]), Err(StoreError::Identifying(c)) if c == "commune_code")
        );
        let mut bad = row(&p, nir.as_str(), "c1");
        bad.pseudonym = nir.as_str().to_owned();
        assert!(matches!(store.record(&[chunk("c1", 0, vec![bad])]), Err(StoreError::PersonalData(_))));
        let mut bad = row(&p, nir.as_str(), "c1");
        bad.service = "atelier chutes, rue des Lilas".into();
        assert!(
            matches!(store.record(&[chunk("c1", 0, vec![bad])]), Err(StoreError::PersonalData(_))),
            "free text is no service code"
        );
        let mut bad = row(&p, nir.as_str(), "c1");
        bad.values[0].value = nir.as_str().to_owned();
        assert!(matches!(store.record(&[chunk("c1", 0, vec![bad])]), Err(StoreError::PersonalData(_))));
        for (_, column) in store.columns().unwrap() {
            let identity = catalogue::identity_field(&column);
            assert!(identity.is_none_or(|f| !f.identifying), "{column}");
        }
        // A schema someone widened with an identifying column is refused at open.
        drop(store);
        let c = passerelle_sqlite::testing::raw_connection(&dir.path().join("s.db")).unwrap();
        c.execute_batch("ALTER TABLE persons ADD COLUMN family_name TEXT").unwrap();
        drop(c);
        let err = StatisticsStore::open(&dir.path().join("s.db")).unwrap_err();
        assert!(matches!(err, StoreError::Identifying(c) if c == "persons.family_name"));
    }
}
