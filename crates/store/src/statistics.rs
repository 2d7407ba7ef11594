//! The statistics store (art. 1 second paragraph, art. 4–5): a *separate* SQLite database, one
//! row per person of each exchanged case, written before the case's payloads are purged and
//! kept at most 5 years.
//!
//! A row holds a keyed pseudonym instead of the NIR (HMAC-SHA256 of the NIR with a secret only
//! the daemon holds: stable across cases, so a person can be followed, and meaningless without
//! the secret), sex, birth year, territory (the département), requester, service, requested
//! categories, and the values received with their source, plus each body's answer status.
//!
//! Architecture invariant: nothing identifying enters this store. The writer refuses any
//! category code that [`passerelle_protocol::catalogue::is_identifying`] flags, any value that is
//! not a well-formed value of its category, and any pseudonym that is not a 64-hex-digit HMAC;
//! [`StatisticsStore::open`] refuses a schema with a column that is neither fixed metadata nor a
//! non-identifying catalogue code.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use hmac::{Hmac, Mac};
use passerelle_protocol::catalogue;
use rand::RngCore;
use rusqlite::{params, Connection};
use sha2::Sha256;

use crate::{contains_nir, to_ms, Result, StoreError};

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
    -- person (analysts read them with `json_each`). They were rows of their own, 25 inserts a
    -- person instead of one (2 KB and 43 µs of CPU a person; stores of then are migrated on open).
    values_json TEXT NOT NULL DEFAULT '[]',
    answers_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS persons_by_case ON persons(case_id);
-- The chunks recorded, so that recording a chunk again (a purge retried after a crash) changes
-- nothing. (Stores created before it keep a unique index on (case_id, pseudonym), which did that
-- job row by row at the cost of a random index page a person at every commit.)
CREATE TABLE IF NOT EXISTS recorded_chunks (
    case_id TEXT NOT NULL,
    chunk INTEGER NOT NULL,
    PRIMARY KEY (case_id, chunk)
) WITHOUT ROWID;
-- Following a pseudonym (`follow`, an analyst's query) scans the table: an index by pseudonym
-- took a random page a person at every commit, over years of rows (dropped from older stores).
DROP INDEX IF EXISTS persons_by_pseudonym;
CREATE INDEX IF NOT EXISTS persons_by_time ON persons(recorded_at);
"#;

/// The tables of values and answers of stores created before they became columns of `persons`.
const PER_ROW_TABLES: [&str; 2] = ["person_values", "body_answers"];

/// Columns that are metadata of the exchange, not data about the person (art. 2, 1°): every
/// other column must be a catalogue code that is not identifying (`sex`, `birth_year`).
pub const METADATA_COLUMNS: [&str; 12] = [
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
];

/// The source recorded for the requester's own known risk factors.
pub const REQUESTER_SOURCE: &str = "requester";

/// The length of the statistics secret generated on first start.
const SECRET_LEN: usize = 32;

/// The shortest secret accepted from a file: below 128 bits a pseudonym could be brute-forced.
const MIN_SECRET_LEN: usize = 16;

/// Age bands of the report (lower bounds), from the decree's 55.
const AGE_BANDS: [(u32, &str); 7] =
    [(95, "95+"), (85, "85-94"), (80, "80-84"), (75, "75-79"), (70, "70-74"), (65, "65-69"), (55, "55-64")];

/// Computes the keyed pseudonym of a NIR. `Debug` does not show the key.
#[derive(Clone)]
pub struct Pseudonymiser {
    key: Vec<u8>,
}

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymiser(…)")
    }
}

impl Pseudonymiser {
    /// From a secret held in memory (tests, or a secret manager).
    pub fn new(secret: &[u8]) -> Pseudonymiser {
        Pseudonymiser { key: secret.to_vec() }
    }

    /// Reads the secret (hex) from `path`, or creates it (random, mode 0600) if absent.
    pub fn load_or_create(path: &Path) -> Result<Pseudonymiser> {
        let io = |source| StoreError::Io { path: path.to_owned(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let key = hex::decode(text.trim()).map_err(|_| {
                    StoreError::Corrupt(format!("the statistics secret {} is not hexadecimal", path.display()))
                })?;
                if key.len() < MIN_SECRET_LEN {
                    return Err(StoreError::Corrupt(format!(
                        "the statistics secret {} is shorter than {MIN_SECRET_LEN} bytes",
                        path.display()
                    )));
                }
                warn_if_readable_by_others(path);
                Ok(Pseudonymiser { key })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let mut key = vec![0u8; SECRET_LEN];
                rand::rngs::OsRng.fill_bytes(&mut key);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(io)?;
                file.write_all(hex::encode(&key).as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                tracing::info!(path = %path.display(), "generated the statistics pseudonym secret");
                Ok(Pseudonymiser { key })
            }
            Err(e) => Err(io(e)),
        }
    }

    /// HMAC-SHA256(NIR, secret), 64 hex digits.
    pub fn pseudonym(&self, nir: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(nir.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path) {
        if m.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the statistics secret is readable by other users: chmod 600 it");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

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
    pub recorded_at: SystemTime,
    /// The département of the residence commune.
    pub territory: String,
    /// The requester's body code.
    pub requester: String,
    pub requester_office: String,
    /// The service offered (art. 3).
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

/// Aggregate tables for `passerelle stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatisticsReport {
    pub persons: u64,
    pub distinct_pseudonyms: u64,
    pub cases: u64,
    /// Persons with the risk factor present (`true`, or any value for non-boolean categories),
    /// from any source, by category code.
    pub by_risk_factor: Vec<(String, u64)>,
    pub by_age_band: Vec<(String, u64)>,
    pub by_sex: Vec<(String, u64)>,
    /// By requester body and office.
    pub by_requester: Vec<(String, u64)>,
    pub body_answers: Vec<BodyAnswerRate>,
}

/// How one body answered, over every person it was asked about.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BodyAnswerRate {
    pub body: String,
    pub asked: u64,
    pub found: u64,
    pub not_found: u64,
    pub no_answer: u64,
}

/// One appearance of a pseudonym, for following a person across cases.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Appearance {
    pub case_id: String,
    pub recorded_at_ms: i64,
    pub territory: String,
    pub requester: String,
    pub requester_office: String,
    pub service: String,
    pub requested: String,
    pub sex: String,
    pub birth_year: u32,
    /// `category=value (source)`.
    pub values: Vec<String>,
}

/// The statistics database.
#[derive(Debug)]
pub struct StatisticsStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl StatisticsStore {
    /// Opens (or creates) the statistics store and checks that no column is identifying.
    pub fn open(path: &Path) -> Result<StatisticsStore> {
        let mut conn = crate::db::open(path, SCHEMA)?;
        migrate_per_row_values(&mut conn)?;
        let store = StatisticsStore { conn: Mutex::new(conn), path: path.to_owned() };
        for (table, column) in store.columns()? {
            if !METADATA_COLUMNS.contains(&column.as_str()) && catalogue::is_identifying(&column) {
                return Err(StoreError::Identifying(format!("{table}.{column}")));
            }
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every `(table, column)` of the database.
    pub fn columns(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut columns = Vec::new();
        for table in tables {
            let names: Vec<String> = conn
                .prepare(&format!("PRAGMA table_info(\"{table}\")"))?
                .query_map([], |r| r.get(1))?
                .collect::<rusqlite::Result<_>>()?;
            columns.extend(names.into_iter().map(|c| (table.clone(), c)));
        }
        Ok(columns)
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
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut inserted = 0;
        {
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
                    // OR IGNORE: a store created before the chunk ledger still has its unique
                    // index on (case_id, pseudonym), and rows a chunk wrote before the upgrade.
                    let n = person.execute(params![
                        row.pseudonym,
                        row.case_id,
                        to_ms(row.recorded_at),
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
        }
        tx.commit()?;
        Ok(inserted)
    }

    /// How many persons of a case the statistics hold (whoever recorded them: recording is
    /// idempotent, so a purge retried after a crash finds the rows of its first attempt).
    pub fn persons_of_case(&self, case_id: &str) -> Result<usize> {
        let n: i64 =
            self.conn().query_row("SELECT COUNT(*) FROM persons WHERE case_id = ?1", [case_id], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// Deletes the rows recorded before `before` (the 5-year cap); nothing of them stays readable.
    pub fn purge_before(&self, before: SystemTime) -> Result<usize> {
        let conn = self.conn();
        let deleted = conn.execute("DELETE FROM persons WHERE recorded_at < ?1", [to_ms(before)])?;
        if deleted > 0 {
            // The ledger of the cases that have no row left (their 30 days are long past: no
            // purge of theirs can be retried).
            conn.execute("DELETE FROM recorded_chunks WHERE case_id NOT IN (SELECT case_id FROM persons)", [])?;
            // As for the case store: rebuild from live rows, then truncate the WAL.
            conn.execute_batch("VACUUM")?;
            crate::purge::checkpoint_truncate(&conn)?;
        }
        Ok(deleted)
    }

    /// The aggregate tables.
    pub fn report(&self) -> Result<StatisticsReport> {
        let conn = self.conn();
        let pairs = |sql: &str| -> Result<Vec<(String, u64)>> {
            let rows = conn
                .prepare(sql)?
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        };
        let (persons, distinct_pseudonyms, cases) = conn.query_row(
            "SELECT COUNT(*), COUNT(DISTINCT pseudonym), COUNT(DISTINCT case_id) FROM persons",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64)),
        )?;
        let by_risk_factor = pairs(
            "SELECT v.value ->> 0 AS category, COUNT(DISTINCT p.id) FROM persons p, json_each(p.values_json) v \
             WHERE v.value ->> 2 NOT IN ('false', '') GROUP BY category ORDER BY category",
        )?;
        let mut band_sql = String::from("SELECT CASE");
        for (min, label) in AGE_BANDS {
            band_sql.push_str(&format!(
                " WHEN CAST(strftime('%Y', recorded_at / 1000, 'unixepoch') AS INTEGER) - birth_year >= {min} THEN '{label}'"
            ));
        }
        band_sql.push_str(" ELSE 'under 55' END AS band, COUNT(*) FROM persons GROUP BY band ORDER BY band");
        let by_age_band = pairs(&band_sql)?;
        let by_sex = pairs("SELECT sex, COUNT(*) FROM persons GROUP BY sex ORDER BY sex")?;
        let by_requester = pairs(
            "SELECT requester || CASE WHEN requester_office = '' THEN '' ELSE ' / ' || requester_office END AS r, \
             COUNT(*) FROM persons GROUP BY r ORDER BY r",
        )?;
        let mut rates: BTreeMap<String, BodyAnswerRate> = BTreeMap::new();
        let rows = conn
            .prepare(
                "SELECT a.key, a.value, COUNT(*) FROM persons p, json_each(p.answers_json) a GROUP BY a.key, a.value",
            )?
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)? as u64)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (body, status, n) in rows {
            let rate = rates.entry(body.clone()).or_insert_with(|| BodyAnswerRate { body, ..Default::default() });
            rate.asked += n;
            match status.as_str() {
                "found" => rate.found += n,
                "not_found" => rate.not_found += n,
                _ => rate.no_answer += n,
            }
        }
        Ok(StatisticsReport {
            persons,
            distinct_pseudonyms,
            cases,
            by_risk_factor,
            by_age_band,
            by_sex,
            by_requester,
            body_answers: rates.into_values().collect(),
        })
    }

    /// Every appearance of a pseudonym, oldest first.
    pub fn follow(&self, pseudonym: &str) -> Result<Vec<Appearance>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT case_id, recorded_at, territory, requester, requester_office, service, requested, sex, \
             birth_year, values_json FROM persons WHERE pseudonym = ?1 ORDER BY recorded_at, id",
        )?;
        let found = stmt
            .query_map([pseudonym], |r| {
                Ok((
                    Appearance {
                        case_id: r.get(0)?,
                        recorded_at_ms: r.get(1)?,
                        territory: r.get(2)?,
                        requester: r.get(3)?,
                        requester_office: r.get(4)?,
                        service: r.get(5)?,
                        requested: r.get(6)?,
                        sex: r.get(7)?,
                        birth_year: r.get(8)?,
                        values: Vec::new(),
                    },
                    r.get::<_, String>(9)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        found
            .into_iter()
            .map(|(mut appearance, values)| {
                let mut values: Vec<[String; 3]> = serde_json::from_str(&values)
                    .map_err(|e| StoreError::Corrupt(format!("a statistics row's values: {e}")))?;
                values.sort();
                appearance.values = values
                    .into_iter()
                    .map(|[category, source, value]| format!("{category}={value} ({source})"))
                    .collect();
                Ok(appearance)
            })
            .collect()
    }
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

/// Moves the values and answers of a store created when they had tables of their own into the
/// `persons` columns, in one transaction, then drops those tables (their pages are overwritten:
/// `secure_delete`) and gives the space back. A store without them is left as it is.
fn migrate_per_row_values(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction()?;
    let columns: Vec<String> =
        tx.prepare("PRAGMA table_info(persons)")?.query_map([], |r| r.get(1))?.collect::<rusqlite::Result<_>>()?;
    for (column, default) in [("values_json", "'[]'"), ("answers_json", "'{}'")] {
        if !columns.iter().any(|c| c == column) {
            tx.execute_batch(&format!("ALTER TABLE persons ADD COLUMN {column} TEXT NOT NULL DEFAULT {default}"))?;
        }
    }
    let mut migrated = false;
    for table in PER_ROW_TABLES {
        let exists: i64 =
            tx.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |r| {
                r.get(0)
            })?;
        if exists == 0 {
            continue;
        }
        let fill = match table {
            "person_values" => {
                "UPDATE persons SET values_json = COALESCE((SELECT json_group_array(json_array(category, source, value)) \
                 FROM (SELECT category, source, value FROM person_values WHERE person_id = persons.id ORDER BY rowid)), '[]')"
            }
            _ => {
                "UPDATE persons SET answers_json = COALESCE((SELECT json_group_object(body, status) \
                 FROM (SELECT body, status FROM body_answers WHERE person_id = persons.id ORDER BY rowid)), '{}')"
            }
        };
        tx.execute(fill, [])?;
        tx.execute_batch(&format!("DROP TABLE {table}"))?;
        migrated = true;
    }
    tx.commit()?;
    if migrated {
        conn.execute_batch("PRAGMA incremental_vacuum")?;
        tracing::info!("statistics store migrated: each person's values and answers are now in its row");
    }
    Ok(())
}

/// Refuses anything identifying or malformed before it is written.
fn check_row(row: &StatisticsRow) -> Result<()> {
    if row.pseudonym.len() != 64 || !row.pseudonym.bytes().all(|b| b.is_ascii_hexdigit()) {
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
            service: "falls workshop".into(),
            requested: vec!["housing_aid".into(), "css".into()],
            sex: "F".into(),
            birth_year: 1950,
            values: vec![
                StatisticsValue { category: "housing_aid".into(), source: "cnaf".into(), value: "true".into() },
                StatisticsValue { category: "css".into(), source: "cnam".into(), value: "false".into() },
            ],
            answers: vec![("cnam".into(), "found".into()), ("msa".into(), "no_answer".into())],
        }
    }

    fn chunk(case_id: &str, chunk: u32, rows: Vec<StatisticsRow>) -> ChunkStatistics {
        ChunkStatistics { case_id: case_id.into(), chunk, rows }
    }

    #[test]
    fn pseudonyms_are_stable_per_secret_and_differ_across_secrets() {
        let a = Pseudonymiser::new(b"0123456789abcdef0123456789abcdef");
        let b = Pseudonymiser::new(b"another secret of enough length!");
        let nir = passerelle_protocol::nir::with_key("2500513055001").unwrap();
        assert_eq!(a.pseudonym(nir.as_str()), a.pseudonym(nir.as_str()));
        assert_ne!(a.pseudonym(nir.as_str()), b.pseudonym(nir.as_str()));
        assert_eq!(a.pseudonym(nir.as_str()).len(), 64);
        assert_eq!(format!("{a:?}"), "Pseudonymiser(…)");
    }

    #[test]
    fn the_secret_is_created_once_with_mode_600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/statistics.key");
        let first = Pseudonymiser::load_or_create(&path).unwrap();
        let again = Pseudonymiser::load_or_create(&path).unwrap();
        assert_eq!(first.pseudonym("x"), again.pseudonym("x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn an_older_store_loses_its_index_by_pseudonym_and_still_follows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let p = Pseudonymiser::new(b"0123456789abcdef0123456789abcdef");
        let nir = passerelle_protocol::nir::with_key("2500513055001").unwrap();
        StatisticsStore::open(&path).unwrap().record(&[chunk("c1", 0, vec![row(&p, nir.as_str(), "c1")])]).unwrap();
        // As a store of an earlier version: with the index by pseudonym.
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE INDEX persons_by_pseudonym ON persons(pseudonym);")
            .unwrap();
        let store = StatisticsStore::open(&path).unwrap();
        let indexes: i64 = store
            .conn()
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'persons_by_pseudonym'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(indexes, 0, "dropped on open: it cost a random page a person at every commit");
        let seen = store.follow(&p.pseudonym(nir.as_str())).unwrap();
        assert_eq!(seen.iter().map(|a| a.case_id.as_str()).collect::<Vec<_>>(), ["c1"]);
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
        let report = store.report().unwrap();
        assert_eq!((report.persons, report.distinct_pseudonyms, report.cases), (2, 1, 2));
        assert_eq!(report.by_risk_factor, vec![("housing_aid".to_owned(), 2)]);
        assert_eq!(report.by_sex, vec![("F".to_owned(), 2)]);
        assert_eq!(
            report.body_answers[1],
            BodyAnswerRate { body: "msa".into(), asked: 2, no_answer: 2, ..Default::default() }
        );
        let seen = store.follow(&p.pseudonym(nir.as_str())).unwrap();
        assert_eq!(seen.iter().map(|a| a.case_id.as_str()).collect::<Vec<_>>(), ["c1", "c2"]);
        assert!(seen[0].values.contains(&"housing_aid=true (cnaf)".to_owned()));
        assert_eq!(store.purge_before(SystemTime::now() + std::time::Duration::from_secs(1)).unwrap(), 2);
        assert_eq!(store.report().unwrap().persons, 0);
        let ledger: i64 = store.conn().query_row("SELECT COUNT(*) FROM recorded_chunks", [], |r| r.get(0)).unwrap();
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
        let ledger: i64 = store.conn().query_row("SELECT COUNT(*) FROM recorded_chunks", [], |r| r.get(0)).unwrap();
        assert_eq!(ledger, 2, "an empty chunk is not recorded");
        let stray = chunk("c1", 2, vec![row(&p, nirs[0].as_str(), "c2")]);
        assert!(matches!(store.record(&[stray]), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn a_store_from_before_the_chunk_ledger_keeps_its_rows_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        // The persons table as earlier versions created it: unique on (case_id, pseudonym).
        let old_schema = SCHEMA.replace(
            "    answers_json TEXT NOT NULL DEFAULT '{}'\n);",
            "    answers_json TEXT NOT NULL DEFAULT '{}',\n    UNIQUE (case_id, pseudonym)\n);",
        );
        assert_ne!(old_schema, SCHEMA);
        Connection::open(&path).unwrap().execute_batch(&old_schema).unwrap();
        let store = StatisticsStore::open(&path).unwrap();
        let p = Pseudonymiser::new(b"0123456789abcdef0123456789abcdef");
        let nir = passerelle_protocol::nir::with_key("2500513055001").unwrap();
        let rows = chunk("c1", 0, vec![row(&p, nir.as_str(), "c1")]);
        assert_eq!(store.record(std::slice::from_ref(&rows)).unwrap(), 1);
        // Recorded before the upgrade: the ledger does not know the chunk, the old index does.
        store.conn().execute("DELETE FROM recorded_chunks", []).unwrap();
        assert_eq!(store.record(&[rows]).unwrap(), 0);
        assert_eq!(store.persons_of_case("c1").unwrap(), 1);
    }

    #[test]
    fn a_store_with_values_and_answers_in_tables_of_their_own_is_migrated_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let p = Pseudonymiser::new(b"0123456789abcdef0123456789abcdef");
        let nir = passerelle_protocol::nir::with_key("2500513055001").unwrap();
        let pseudonym = p.pseudonym(nir.as_str());
        // As earlier versions created and wrote it: a row a value and a row an answer.
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE persons (id INTEGER PRIMARY KEY, pseudonym TEXT NOT NULL, case_id TEXT NOT NULL,
                recorded_at INTEGER NOT NULL, territory TEXT NOT NULL, requester TEXT NOT NULL,
                requester_office TEXT NOT NULL, service TEXT NOT NULL, requested TEXT NOT NULL, sex TEXT NOT NULL,
                birth_year INTEGER NOT NULL);
             CREATE TABLE person_values (person_id INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
                category TEXT NOT NULL, source TEXT NOT NULL, value TEXT NOT NULL);
             CREATE TABLE body_answers (person_id INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
                body TEXT NOT NULL, status TEXT NOT NULL);",
        )
        .unwrap();
        for (id, case_id, with_values) in [(1, "c1", true), (2, "c2", false)] {
            old.execute(
                "INSERT INTO persons VALUES (?1, ?2, ?3, 0, '13', 'cnaf', 'caf-13', 'falls workshop', 'housing_aid,css', 'F', 1950)",
                params![id, pseudonym, case_id],
            )
            .unwrap();
            if with_values {
                old.execute_batch(
                    "INSERT INTO person_values VALUES (1, 'housing_aid', 'cnaf', 'true'), (1, 'css', 'cnam', 'false');
                     INSERT INTO body_answers VALUES (1, 'cnam', 'found'), (1, 'msa', 'no_answer');",
                )
                .unwrap();
            }
        }
        drop(old);

        let store = StatisticsStore::open(&path).unwrap();
        let tables: i64 = store
            .conn()
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('person_values', 'body_answers')", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(tables, 0, "their rows moved into `persons`");
        let report = store.report().unwrap();
        assert_eq!(report.persons, 2);
        assert_eq!(report.by_risk_factor, vec![("housing_aid".to_owned(), 1)]);
        assert_eq!(
            report.body_answers,
            vec![
                BodyAnswerRate { body: "cnam".into(), asked: 1, found: 1, ..Default::default() },
                BodyAnswerRate { body: "msa".into(), asked: 1, no_answer: 1, ..Default::default() },
            ]
        );
        let seen = store.follow(&pseudonym).unwrap();
        assert_eq!(seen[0].values, ["css=false (cnam)", "housing_aid=true (cnaf)"]);
        assert!(seen[1].values.is_empty(), "a person without values has none");
        // Written the same way as a new row.
        store.record(&[chunk("c3", 0, vec![row(&p, nir.as_str(), "c3")])]).unwrap();
        let stored: Vec<(String, String)> = store
            .conn()
            .prepare("SELECT values_json, answers_json FROM persons ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(stored[0], stored[2], "migrated and new rows are encoded alike");
        assert_eq!(stored[1], ("[]".to_owned(), "{}".to_owned()));
        let report = store.report().unwrap();
        drop(store);
        // Opening again changes nothing.
        assert_eq!(StatisticsStore::open(&path).unwrap().report().unwrap(), report);
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
        bad.values[0].value = nir.as_str().to_owned();
        assert!(matches!(store.record(&[chunk("c1", 0, vec![bad])]), Err(StoreError::PersonalData(_))));
        for (_, column) in store.columns().unwrap() {
            let identity = catalogue::identity_field(&column);
            assert!(identity.is_none_or(|f| !f.identifying), "{column}");
        }
        // A schema someone widened with an identifying column is refused at open.
        drop(store);
        let c = Connection::open(dir.path().join("s.db")).unwrap();
        c.execute_batch("ALTER TABLE persons ADD COLUMN family_name TEXT").unwrap();
        drop(c);
        let err = StatisticsStore::open(&dir.path().join("s.db")).unwrap_err();
        assert!(matches!(err, StoreError::Identifying(c) if c == "persons.family_name"));
    }
}
