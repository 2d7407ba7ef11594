//! The extract index: a local SQLite file in `data_dir` that `passerelle responder load` fills
//! from a CSV extract and the running responder reads, one chunk per read transaction.
//!
//! # Layout
//!
//! - `person(nir INTEGER PRIMARY KEY, sex, birth_year, vals BLOB)`: one row per person, keyed by
//!   [`Nir::as_u64`] (an injective 8-byte form of the NIR, so the key is SQLite's rowid and a
//!   lookup is one B-tree descent); `vals` is the protobuf encoding of the person's
//!   [`CategoryValues`], already reduced to the categories the body held when it was loaded.
//! - `former_nir(nir INTEGER PRIMARY KEY, person INTEGER)`: each former NIR → the person's
//!   current key; `person` is `NULL` when two persons of the extract claim the same former NIR
//!   (ambiguous, so it matches nobody).
//! - `meta(key, value)`: the body, the extract's id, the held categories, counts, load time.
//!
//! # Atomic reload
//!
//! A load writes a *new* file beside the index (`.extract-index.sqlite.loading-<uuid>`), in one
//! transaction with the journal off and `synchronous = OFF` (there is nothing to roll back to: a
//! failed load just deletes its file), then syncs it to disk and renames it over the index. The
//! rename is atomic, so a reader sees the old extract or the new one, never a mix. A reader holds
//! an open connection per file: each chunk checks (one `stat`) whether the index path now names
//! another file and, if so, opens it for that chunk; a chunk in flight finishes on the file it
//! started on (an unlinked file stays readable while open). Every answer comes wholly from one
//! extract.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use passerelle_protocol::catalogue::CategorySet;
use passerelle_protocol::nir::Nir;
use passerelle_protocol::v1::{Category, CategoryValues, Sex};
use passerelle_sqlite::rusqlite::{self, params, Connection, OptionalExtension};
use passerelle_sqlite::{snapshot, Migration};
use prost::Message as _;

use crate::source::{KnownIdentity, SourceAnswer, SourceError, Subject};

/// The index's file name in `data_dir`.
pub const INDEX_FILE: &str = "extract-index.sqlite";

/// The prefix of a load's work file in `data_dir` (hidden, and never the index's name).
const LOADING_PREFIX: &str = ".extract-index.sqlite.loading-";

/// The index's layout, as numbered migrations: a new index is created by them, and its
/// `user_version` is their count. A responder refuses an index of another layout rather than
/// misreading it (an index is rebuilt by the next load, never migrated in place); see
/// [`passerelle_sqlite::snapshot`].
const LAYOUT: &[Migration] = &[Migration::sql(
    "meta, person and former_nir",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
     CREATE TABLE person (nir INTEGER PRIMARY KEY, sex INTEGER, birth_year INTEGER, vals BLOB NOT NULL);
     CREATE TABLE former_nir (nir INTEGER PRIMARY KEY, person INTEGER);",
)];

/// SQLite's page cache while loading, in KiB (negative `cache_size` is KiB). Rows are appended
/// in key order (see [`Staged`]), which only ever touches the right edge of each B-tree: a small
/// cache suffices.
const LOAD_CACHE_KIB: i64 = 8 * 1024;

/// SQLite's page cache per reading connection, in KiB: lookups touch the interior pages of the
/// B-tree again and again (kept hot here) and each leaf about once (left to the OS page cache).
/// Memory-mapping the file instead (`mmap_size`) was measured 1.3 to 1.7 times faster per chunk
/// but counts every touched page of the index in the responder's resident set (about 100 MB for
/// a million persons), past the `run` budget of 100 MB.
const READ_CACHE_KIB: i64 = 8 * 1024;

/// Why the index cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("cannot create the data directory {path}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("the extract index {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("cannot write or install the new extract index {path}: {source}")]
    Snapshot { path: PathBuf, source: passerelle_sqlite::Error },
    #[error("cannot install the new index at {path}")]
    Install { path: PathBuf, source: std::io::Error },
}

/// What a finished load put in the index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndexStats {
    /// The new extract's id (a UUID v7), for the logs and `meta`.
    pub extract_id: String,
    /// Persons indexed.
    pub persons: u64,
    /// Former NIRs mapped to a person.
    pub former_nirs: u64,
    /// Former NIRs claimed by two or more persons: they match nobody.
    pub ambiguous_former_nirs: u64,
    /// The index's size on disk, in bytes.
    pub bytes: u64,
}

/// Writes a new index; [`IndexBuilder::commit`] installs it atomically. Dropped without a commit,
/// it deletes its work file and leaves the current index untouched.
#[derive(Debug)]
pub struct IndexBuilder {
    conn: Option<Connection>,
    work: PathBuf,
    target: PathBuf,
    extract_id: String,
    /// The persons added, in file order; sorted by key at commit (see [`Staged`]).
    staged: Vec<Staged>,
    /// The encoded values of every staged person, end to end.
    arena: Vec<u8>,
    /// (former NIR key, person key) pairs.
    formers: Vec<(u64, u64)>,
}

/// One person waiting for the commit, 24 bytes. Rows arrive in file order, which is not key
/// order; inserting them as they come lands each on a random page of the B-tree and costs
/// several times more than appending. So a load stages every person in memory (about 45 MB for
/// a million persons, values included), sorts by key, and appends.
#[derive(Debug, Clone, Copy)]
struct Staged {
    key: u64,
    /// Where the encoded values are in the arena.
    start: u32,
    len: u32,
    /// 0 when unknown.
    birth_year: u16,
    /// 0 when unknown, else the `Sex` number.
    sex: u8,
}

impl IndexBuilder {
    /// Starts a new index for `body` in `data_dir` (created if needed).
    pub fn create(data_dir: &Path, body: &str, held: &[Category]) -> Result<Self, IndexError> {
        passerelle_sqlite::private::create_folder(data_dir)
            .map_err(|source| IndexError::DataDir { path: data_dir.to_owned(), source })?;
        let extract_id = uuid::Uuid::now_v7().to_string();
        let work = data_dir.join(format!("{LOADING_PREFIX}{extract_id}"));
        let target = data_dir.join(INDEX_FILE);
        let sql = |source| IndexError::Sqlite { path: work.clone(), source };
        let conn = snapshot::create(&work, LAYOUT, LOAD_CACHE_KIB)
            .map_err(|source| IndexError::Snapshot { path: work.clone(), source })?;
        let mut builder = IndexBuilder {
            conn: None,
            work: work.clone(),
            target,
            extract_id,
            staged: Vec::new(),
            arena: Vec::new(),
            formers: Vec::new(),
        };
        // From here on, a failure drops the builder, which deletes the work file.
        builder.conn = Some(conn);
        let conn = builder.conn.as_ref().expect("just set");
        conn.execute_batch("BEGIN;").map_err(sql)?;
        let held_codes = held.iter().map(|c| c.code()).collect::<Vec<_>>().join(",");
        let mut insert = conn.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)").map_err(sql)?;
        for (key, value) in [("body", body), ("extract_id", builder.extract_id.as_str()), ("held", held_codes.as_str())]
        {
            insert.execute(params![key, value]).map_err(sql)?;
        }
        drop(insert);
        Ok(builder)
    }

    /// Adds one person. `values` must already be reduced to the held categories. A NIR added
    /// twice keeps its first row (the extract reader already rejects duplicates).
    pub fn add(
        &mut self,
        nir: &Nir,
        former_nirs: &[Nir],
        sex: Option<Sex>,
        birth_year: Option<u32>,
        values: &CategoryValues,
    ) -> Result<(), IndexError> {
        let start = self.arena.len();
        values.encode(&mut self.arena).expect("a Vec grows as needed");
        let key = nir.as_u64();
        self.staged.push(Staged {
            key,
            start: u32::try_from(start).map_err(|_| self.too_big())?,
            len: (self.arena.len() - start) as u32,
            birth_year: birth_year.and_then(|y| u16::try_from(y).ok()).unwrap_or(0),
            sex: sex.map_or(0, |s| s as u8),
        });
        self.formers.extend(former_nirs.iter().filter(|f| *f != nir).map(|f| (f.as_u64(), key)));
        Ok(())
    }

    fn too_big(&self) -> IndexError {
        IndexError::Install {
            path: self.target.clone(),
            source: std::io::Error::other("more than 4 GiB of values in one extract"),
        }
    }

    /// The id of the extract this index holds (a UUID, in its `meta` and in the access log).
    pub fn extract_id(&self) -> &str {
        &self.extract_id
    }

    /// Persons added so far.
    pub fn persons(&self) -> u64 {
        self.staged.len() as u64
    }

    /// Writes the staged persons in key order, commits, syncs the file and renames it over the
    /// index: from now on every new chunk is answered from this extract.
    pub fn commit(mut self) -> Result<IndexStats, IndexError> {
        // Kept in `self` until installed: a failure drops the builder, which deletes the work file.
        let conn = self.conn.as_ref().expect("open until commit");
        let sql = |source| IndexError::Sqlite { path: self.work.clone(), source };
        let loaded_at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs().to_string();

        let mut staged = std::mem::take(&mut self.staged);
        staged.sort_by_key(|p| p.key);
        staged.dedup_by_key(|p| p.key);
        {
            let mut insert =
                conn.prepare("INSERT INTO person (nir, sex, birth_year, vals) VALUES (?1, ?2, ?3, ?4)").map_err(sql)?;
            for p in &staged {
                let vals = &self.arena[p.start as usize..(p.start + p.len) as usize];
                let sex = (p.sex != 0).then_some(p.sex);
                let birth_year = (p.birth_year != 0).then_some(p.birth_year);
                insert.execute(params![p.key as i64, sex, birth_year, vals]).map_err(sql)?;
            }
        }
        let persons = staged.len() as u64;
        drop(staged);
        self.arena = Vec::new();

        // Former NIRs in key order; one claimed by two persons maps to nobody (`NULL`).
        let mut formers = std::mem::take(&mut self.formers);
        formers.sort_unstable();
        formers.dedup();
        let (mut mapped, mut ambiguous) = (0u64, 0u64);
        {
            let mut insert = conn.prepare("INSERT INTO former_nir (nir, person) VALUES (?1, ?2)").map_err(sql)?;
            for group in formers.chunk_by(|a, b| a.0 == b.0) {
                let person = match group {
                    [(_, person)] => {
                        mapped += 1;
                        Some(*person as i64)
                    }
                    _ => {
                        ambiguous += 1;
                        None
                    }
                };
                insert.execute(params![group[0].0 as i64, person]).map_err(sql)?;
            }
        }
        let mut insert = conn.prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)").map_err(sql)?;
        for (key, value) in
            [("persons", persons.to_string()), ("former_nirs", mapped.to_string()), ("loaded_at", loaded_at)]
        {
            insert.execute(params![key, value]).map_err(sql)?;
        }
        drop(insert);
        conn.execute_batch("COMMIT;").map_err(sql)?;
        let conn = self.conn.take().expect("open until commit");
        let bytes = snapshot::install(conn, &self.work, &self.target).map_err(|source| {
            let _ = std::fs::remove_file(&self.work);
            IndexError::Snapshot { path: self.target.clone(), source }
        })?;
        Ok(IndexStats {
            extract_id: self.extract_id.clone(),
            persons,
            former_nirs: mapped,
            ambiguous_former_nirs: ambiguous,
            bytes,
        })
    }
}

impl Drop for IndexBuilder {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Not committed: the load failed or was abandoned. The current index stays.
            drop(conn);
            let _ = std::fs::remove_file(&self.work);
        }
    }
}

/// What the index says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexInfo {
    pub body: String,
    pub extract_id: String,
    pub persons: u64,
    /// The categories the body held when the extract was loaded.
    pub held: Vec<Category>,
}

/// One open index file.
#[derive(Debug)]
struct OpenIndex {
    conn: Connection,
    /// The file's identity when it was opened (device, inode): a reload renames another file
    /// over the path, which changes it.
    file: (u64, u64),
    extract_id: String,
}

/// Reads the index: lookups for whole chunks, one read transaction each. Cheap to share; keeps
/// one connection per concurrent chunk.
#[derive(Debug)]
pub struct IndexReader {
    path: PathBuf,
    body: String,
    idle: Mutex<Vec<OpenIndex>>,
}

impl IndexReader {
    /// A reader of the index at `path` for `body`. Nothing is opened yet.
    pub fn new(path: PathBuf, body: impl Into<String>) -> Self {
        IndexReader { path, body: body.into(), idle: Mutex::new(Vec::new()) }
    }

    /// The index file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens (or reuses) a connection to the file the path names now.
    fn checkout(&self) -> Result<OpenIndex, SourceError> {
        // `stat` before `open`: if a reload lands in between, the connection is on the newer
        // file and carries the older identity, so the next chunk reopens (harmless); the other
        // order could leave a connection on an old file that looks current.
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SourceError::NoIndex(self.path.parent().unwrap_or(&self.path).to_owned()))
            }
            Err(e) => return Err(SourceError::Task(format!("cannot stat the extract index: {e}"))),
        };
        let file = (meta.dev(), meta.ino());
        {
            let mut idle = self.idle.lock().expect("no panic while holding the pool");
            idle.retain(|open| open.file == file);
            if let Some(open) = idle.pop() {
                return Ok(open);
            }
        }
        let conn = snapshot::open_read_only(&self.path, LAYOUT, READ_CACHE_KIB).map_err(SourceError::Index)?;
        let info = read_info(&conn).map_err(index)?;
        if info.body != self.body {
            return Err(SourceError::WrongBody {
                path: self.path.clone(),
                found: info.body,
                expected: self.body.clone(),
            });
        }
        Ok(OpenIndex { conn, file, extract_id: info.extract_id })
    }

    fn checkin(&self, open: OpenIndex) {
        self.idle.lock().expect("no panic while holding the pool").push(open);
    }

    /// What the current index holds.
    pub fn info(&self) -> Result<IndexInfo, SourceError> {
        let open = self.checkout()?;
        let info = read_info(&open.conn).map_err(index);
        self.checkin(open);
        info
    }

    /// Looks up a whole chunk in one read transaction on one file (blocking: call it from
    /// `spawn_blocking`). Values are reduced to `categories`.
    pub fn lookup(&self, subjects: &[Subject], categories: &[Category]) -> Result<SourceAnswer, SourceError> {
        let open = self.checkout()?;
        let result = lookup_in(&open.conn, subjects, categories);
        let generation = open.extract_id.clone();
        if result.is_ok() {
            self.checkin(open);
        }
        Ok(SourceAnswer { persons: result.map_err(index)?, unavailable: Vec::new(), generation: Some(generation) })
    }
}

fn index(e: rusqlite::Error) -> SourceError {
    SourceError::Index(e.into())
}

fn read_info(conn: &Connection) -> rusqlite::Result<IndexInfo> {
    let get = |key: &str| -> rusqlite::Result<String> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map(Option::unwrap_or_default)
    };
    let held = get("held")?
        .split(',')
        .filter_map(|code| passerelle_protocol::catalogue::by_code(code).map(|i| i.category))
        .collect();
    Ok(IndexInfo {
        body: get("body")?,
        extract_id: get("extract_id")?,
        persons: get("persons")?.parse().unwrap_or(0),
        held,
    })
}

fn lookup_in(
    conn: &Connection,
    subjects: &[Subject],
    categories: &[Category],
) -> rusqlite::Result<Vec<Option<CategoryValues>>> {
    conn.execute_batch("BEGIN")?;
    let result = (|| {
        let mut by_current = conn.prepare_cached("SELECT sex, birth_year, vals FROM person WHERE nir = ?1")?;
        let mut by_former = conn.prepare_cached(
            "SELECT p.sex, p.birth_year, p.vals FROM former_nir f JOIN person p ON p.nir = f.person WHERE f.nir = ?1",
        )?;
        let row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(KnownIdentity, Vec<u8>)> {
            let sex: Option<i32> = r.get(0)?;
            let known = KnownIdentity {
                sex: sex.and_then(|s| Sex::try_from(s).ok()).filter(|s| *s != Sex::Unspecified),
                birth_year: r.get(1)?,
            };
            Ok((known, r.get(2)?))
        };
        let wanted: CategorySet = categories.iter().copied().collect();
        let mut answers = Vec::with_capacity(subjects.len());
        for subject in subjects {
            let mut found = None;
            'candidates: for nir in &subject.nirs {
                let key = nir.as_u64() as i64;
                for stmt in [&mut by_current, &mut by_former] {
                    if let Some((known, vals)) = stmt.query_row([key], row).optional()? {
                        if known.agrees_with(subject) {
                            found = Some(vals);
                            break 'candidates;
                        }
                    }
                }
            }
            answers.push(found.map(|bytes| {
                // The index was written by this program from typed values: a blob that does not
                // decode is a damaged file, answered as holding nothing rather than failing.
                let mut values = CategoryValues::decode(bytes.as_slice()).unwrap_or_default();
                values.retain(|c| wanted.contains(c));
                values
            }));
        }
        Ok(answers)
    })();
    conn.execute_batch("COMMIT")?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_protocol::nir;

    fn nir(order: u32) -> Nir {
        nir::with_key(&format!("1550375056{order:03}")).unwrap()
    }

    fn values(rsa: bool, housing: bool) -> CategoryValues {
        CategoryValues { rsa: Some(rsa), housing_aid: Some(housing), ..Default::default() }
    }

    fn subject(n: &[Nir], sex: Option<Sex>, birth_year: Option<u32>) -> Subject {
        Subject { nirs: n.to_vec(), sex, birth_year }
    }

    /// One test person: NIR, former NIRs, sex, birth year, values.
    type Row = (Nir, Vec<Nir>, Option<Sex>, Option<u32>, CategoryValues);

    fn build(dir: &Path, rows: &[Row]) -> IndexStats {
        let mut b = IndexBuilder::create(dir, "cnaf", &[Category::HousingAid, Category::Rsa]).unwrap();
        for (n, former, sex, year, vals) in rows {
            b.add(n, former, *sex, *year, vals).unwrap();
        }
        b.commit().unwrap()
    }

    #[test]
    fn lookups_follow_the_matching_policy() {
        let dir = tempfile::tempdir().unwrap();
        let stats = build(
            dir.path(),
            &[
                (nir(1), vec![nir(11)], Some(Sex::Male), Some(1950), values(true, false)),
                (nir(2), vec![], None, None, values(false, true)),
                (nir(3), vec![nir(33)], Some(Sex::Female), Some(1948), values(true, true)),
                // Two persons claim former NIR 44: it matches neither.
                (nir(4), vec![nir(44)], None, None, values(true, true)),
                (nir(5), vec![nir(44)], None, None, values(true, true)),
            ],
        );
        assert_eq!((stats.persons, stats.former_nirs, stats.ambiguous_former_nirs), (5, 2, 1));
        let reader = IndexReader::new(dir.path().join(INDEX_FILE), "cnaf");
        let asked = [Category::Rsa];
        let subjects = [
            subject(&[nir(1)], Some(Sex::Male), Some(1950)), // found by NIR
            subject(&[nir(11)], Some(Sex::Male), None),      // found by the body's former NIR
            subject(&[nir(99), nir(2)], Some(Sex::Female), Some(1960)), // found by the subject's former NIR; body knows no identity
            subject(&[nir(3)], Some(Sex::Female), Some(1949)),          // birth year disagrees: not found
            subject(&[nir(3)], Some(Sex::Male), None),                  // sex disagrees: not found
            subject(&[nir(44)], None, None),                            // ambiguous former NIR: not found
            subject(&[nir(98)], None, None),                            // unknown
            subject(&[], None, None),                                   // no valid NIR at all
        ];
        let answer = reader.lookup(&subjects, &asked).unwrap();
        let rsa = |i: usize| answer.persons[i].as_ref().map(|v| v.rsa);
        assert_eq!(rsa(0), Some(Some(true)));
        assert_eq!(rsa(1), Some(Some(true)));
        assert_eq!(rsa(2), Some(Some(false)));
        assert_eq!(answer.persons[3..], [None, None, None, None, None]);
        // Only the asked category comes back, though the index holds housing aid too.
        assert_eq!(answer.persons[0].as_ref().unwrap().housing_aid, None);
        assert_eq!(answer.generation.as_deref(), Some(stats.extract_id.as_str()));
        let info = reader.info().unwrap();
        assert_eq!((info.body.as_str(), info.persons, info.held.len()), ("cnaf", 5, 2));
    }

    #[test]
    fn a_reload_swaps_the_file_and_the_next_chunk_reads_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let first = build(dir.path(), &[(nir(1), vec![], None, None, values(true, true))]);
        let reader = IndexReader::new(dir.path().join(INDEX_FILE), "cnaf");
        let who = [subject(&[nir(1)], None, None)];
        let before = reader.lookup(&who, &[Category::Rsa]).unwrap();
        assert_eq!(before.persons[0].as_ref().unwrap().rsa, Some(true));
        // An abandoned load leaves the index as it was and no work file behind.
        let abandoned = IndexBuilder::create(dir.path(), "cnaf", &[Category::Rsa]).unwrap();
        drop(abandoned);
        let second = build(dir.path(), &[(nir(1), vec![], None, None, values(false, true))]);
        assert_ne!(first.extract_id, second.extract_id);
        let after = reader.lookup(&who, &[Category::Rsa]).unwrap();
        assert_eq!(after.persons[0].as_ref().unwrap().rsa, Some(false));
        assert_eq!(after.generation.as_deref(), Some(second.extract_id.as_str()));
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from(INDEX_FILE)]);
    }

    #[test]
    fn lookups_racing_reloads_always_read_one_whole_extract() {
        const PERSONS: u32 = 400;
        let dir = tempfile::tempdir().unwrap();
        let generation = |rsa: bool| -> Vec<_> {
            (0..PERSONS).map(|i| (nir(i + 1), vec![], None, None, values(rsa, !rsa))).collect()
        };
        build(dir.path(), &generation(true));
        let reader = std::sync::Arc::new(IndexReader::new(dir.path().join(INDEX_FILE), "cnaf"));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reloader = {
            let (dir, stop) = (dir.path().to_owned(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut rsa = true;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    rsa = !rsa;
                    build(&dir, &generation(rsa));
                }
            })
        };
        let subjects: Vec<Subject> = (0..PERSONS).map(|i| subject(&[nir(i + 1)], None, None)).collect();
        let (mut seen_true, mut seen_false) = (false, false);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !(seen_true && seen_false) {
            assert!(std::time::Instant::now() < deadline, "both extracts should be read within the bound");
            let answer = reader.lookup(&subjects, &[Category::Rsa, Category::HousingAid]).unwrap();
            let first = answer.persons[0].as_ref().unwrap().rsa.unwrap();
            for person in &answer.persons {
                let v = person.as_ref().expect("every person is in every extract");
                assert_eq!((v.rsa, v.housing_aid), (Some(first), Some(!first)), "a chunk mixed two extracts");
            }
            seen_true |= first;
            seen_false |= !first;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        reloader.join().unwrap();
    }

    #[test]
    fn a_missing_index_or_another_body_s_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let reader = IndexReader::new(dir.path().join(INDEX_FILE), "cnam");
        assert!(matches!(reader.lookup(&[], &[]), Err(SourceError::NoIndex(_))));
        build(dir.path(), &[]);
        assert!(matches!(reader.lookup(&[], &[]), Err(SourceError::WrongBody { .. })));
    }
}
