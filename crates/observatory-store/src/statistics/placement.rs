//! Where the statistics live: the statistics store alone in its own folder (the **statistics
//! folder**, what the statistics views read), and the pseudonym key outside it, in the
//! observatory's private `data_dir`, read by the observatory daemon alone.
//!
//! [`settle`] runs when the daemon starts, under its `data_dir` lock and before the stores open:
//! - the statistics store of the earlier layout (`data_dir/statistics.db`, beside the case store
//!   and the key) moves into the statistics folder, with its `-wal` and `-shm`;
//! - a pseudonym key found in the statistics folder moves out, to the key's place.
//!
//! Files are renamed, never copied nor made anew: the key keeps its bytes, so every person keeps
//! their pseudonym and is followed across the move. When both places hold a file and the two
//! differ, the daemon refuses to start and names both ([`StoreError::Misplaced`]): which one
//! is right is the operator's call. Two identical copies are one: the stray one goes.

use std::path::{Path, PathBuf};

use passerelle_sqlite::private;

use crate::{Result, StoreError};

/// The suffixes of a SQLite store's files, the store itself first.
const STORE_FILES: [&str; 3] = ["", "-wal", "-shm"];

/// The places [`settle`] puts right.
#[derive(Debug, Clone)]
pub struct StatisticsPlacement {
    /// The statistics store, in the statistics folder (its parent).
    pub store: PathBuf,
    /// Where the earlier layout kept the statistics store (beside the case store).
    pub legacy_store: PathBuf,
    /// The pseudonym key, outside the statistics folder.
    pub key: PathBuf,
}

/// What [`settle`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    /// `(from, to)` of each file renamed.
    pub moved: Vec<(PathBuf, PathBuf)>,
    /// Stray copies removed because they were identical to the file in its place.
    pub removed: Vec<PathBuf>,
}

impl StatisticsPlacement {
    /// The statistics folder: the store's folder.
    pub fn folder(&self) -> &Path {
        self.store.parent().unwrap_or(Path::new("."))
    }

    /// Where a key inside the statistics folder would be: the key's file name, in that folder.
    fn stray_key(&self) -> PathBuf {
        self.folder().join(self.key.file_name().unwrap_or("statistics.key".as_ref()))
    }
}

/// Creates the statistics folder (0700) and moves the statistics store and the pseudonym key to
/// their places (see the module's documentation).
pub fn settle(placement: &StatisticsPlacement) -> Result<Settled> {
    let folder = placement.folder();
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    if placement.key.starts_with(folder) {
        return Err(StoreError::KeyInStatisticsFolder { key: placement.key.clone(), folder: folder.to_owned() });
    }
    private::create_folder(folder).map_err(io(folder))?;
    let mut settled = Settled::default();
    if placement.legacy_store != placement.store && placement.legacy_store.exists() {
        move_store(&placement.legacy_store, &placement.store, &mut settled)?;
    }
    let stray = placement.stray_key();
    if stray.exists() {
        move_key(&stray, &placement.key, &mut settled)?;
    }
    for (from, to) in &settled.moved {
        tracing::info!(from = %from.display(), to = %to.display(), "moved a statistics file to its place");
    }
    for stray in &settled.removed {
        tracing::info!(path = %stray.display(), "removed a stray copy identical to the file in its place");
    }
    Ok(settled)
}

/// Moves the store at `from` (and its `-wal` and `-shm`) to `to`, or removes it if `to` holds
/// the same bytes.
fn move_store(from: &Path, to: &Path, settled: &mut Settled) -> Result<()> {
    let files = |store: &Path| STORE_FILES.map(|suffix| with_suffix(store, suffix));
    if to.exists() {
        let same = files(from).iter().zip(files(to).iter()).all(|(a, b)| read_or_empty(a) == read_or_empty(b));
        if !same {
            return Err(StoreError::Misplaced {
                what: "a statistics store",
                kept: to.to_owned(),
                stray: from.to_owned(),
                why: "keep the one whose rows are right (the other is older), remove the other and its -wal and \
                      -shm, then start again",
            });
        }
        for file in files(from).into_iter().filter(|f| f.exists()) {
            std::fs::remove_file(&file).map_err(|source| StoreError::Io { path: file.clone(), source })?;
            settled.removed.push(file);
        }
        return sync_parent(from);
    }
    // The -wal and -shm first, the store last: a crash between two renames then leaves the store
    // at its old place, which the next start moves on to its -wal. (The store first would leave
    // it at its new place without its -wal, whose commits SQLite would not replay.)
    for (source, target) in files(from).into_iter().zip(files(to)).rev().filter(|(f, _)| f.exists()) {
        std::fs::rename(&source, &target).map_err(|e| StoreError::Io { path: source.clone(), source: e })?;
        settled.moved.push((source, target));
    }
    sync_parent(to)?;
    sync_parent(from)
}

/// Moves the key at `stray` to `key`, or removes it if `key` holds the same key.
fn move_key(stray: &Path, key: &Path, settled: &mut Settled) -> Result<()> {
    if key.exists() {
        if read_or_empty(stray).trim_ascii() != read_or_empty(key).trim_ascii() {
            return Err(StoreError::Misplaced {
                what: "a pseudonym key",
                kept: key.to_owned(),
                stray: stray.to_owned(),
                why: "the statistics were written with one of them: keep that one where the daemon reads it \
                      and remove the other (a key in the statistics folder is readable by a statistics agent)",
            });
        }
        std::fs::remove_file(stray).map_err(|source| StoreError::Io { path: stray.to_owned(), source })?;
        settled.removed.push(stray.to_owned());
        return sync_parent(stray);
    }
    if let Some(dir) = key.parent().filter(|d| !d.as_os_str().is_empty()) {
        private::create_folder(dir).map_err(|source| StoreError::Io { path: dir.to_owned(), source })?;
    }
    std::fs::rename(stray, key).map_err(|source| StoreError::Io { path: stray.to_owned(), source })?;
    private::restrict(key).map_err(|source| StoreError::Io { path: key.to_owned(), source })?;
    settled.moved.push((stray.to_owned(), key.to_owned()));
    sync_parent(key)?;
    sync_parent(stray)
}

fn read_or_empty(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    p.into()
}

/// Syncs the folder of `path`, so that a rename or a removal survives a crash.
fn sync_parent(path: &Path) -> Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| StoreError::Io { path: dir.to_owned(), source }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::SystemTime;

    use super::*;
    use crate::statistics::{ChunkStatistics, Pseudonymiser, StatisticsRow, StatisticsStore};

    fn placement(data_dir: &Path) -> StatisticsPlacement {
        StatisticsPlacement {
            store: data_dir.join("statistics/statistics.db"),
            legacy_store: data_dir.join("statistics.db"),
            key: data_dir.join("statistics.key"),
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn nir() -> String {
        passerelle_protocol::nir::with_key("2500513055001").unwrap().as_str().to_owned()
    }

    /// One person's row in case `case_id`, pseudonymised with the key at `key`.
    fn record(store: &Path, key: &Path, case_id: &str) {
        let row = StatisticsRow {
            pseudonym: Pseudonymiser::load_or_create(key).unwrap().pseudonym(&nir()),
            case_id: case_id.into(),
            recorded_at: SystemTime::now(),
            territory: "13".into(),
            requester: "cnaf".into(),
            requester_office: "caf-13".into(),
            service: "prevention-workshop".into(),
            requested: vec!["css".into()],
            sex: "F".into(),
            birth_year: 1950,
            values: Vec::new(),
            answers: Vec::new(),
        };
        let chunk = ChunkStatistics { case_id: case_id.into(), chunk: 0, rows: vec![row] };
        StatisticsStore::open(store).unwrap().record(&[chunk]).unwrap();
    }

    #[test]
    fn an_earlier_layout_moves_and_a_person_keeps_their_pseudonym() {
        let dir = tempfile::tempdir().unwrap();
        let places = placement(dir.path());
        record(&places.legacy_store, &places.key, "before");
        let key_before = std::fs::read(&places.key).unwrap();
        // A -wal a crash left beside the store goes with it.
        private::create_file(&with_suffix(&places.legacy_store, "-wal")).unwrap();
        let settled = settle(&places).unwrap();
        assert_eq!(
            settled.moved,
            [
                (with_suffix(&places.legacy_store, "-wal"), with_suffix(&places.store, "-wal")),
                (places.legacy_store.clone(), places.store.clone())
            ]
        );
        assert!(!places.legacy_store.exists());
        assert_eq!(std::fs::read(&places.key).unwrap(), key_before, "the key is the same bytes, in its place");
        assert_eq!(mode(places.folder()), 0o700);
        record(&places.store, &places.key, "after");
        let pseudonym = Pseudonymiser::load_or_create(&places.key).unwrap().pseudonym(&nir());
        let followed = StatisticsStore::open(&places.store).unwrap().follow(&pseudonym).unwrap();
        let cases: Vec<_> = followed.iter().map(|a| a.case_id.as_str()).collect();
        assert_eq!(cases, ["before", "after"], "one person, one pseudonym, across the move");
        assert_eq!(settle(&places).unwrap(), Settled::default(), "settled once");
        let in_folder: Vec<_> = std::fs::read_dir(places.folder()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(in_folder.iter().all(|f| f.to_string_lossy().starts_with("statistics.db")), "{in_folder:?}");
    }

    #[test]
    fn two_different_stores_are_refused_naming_both_and_identical_ones_are_one() {
        let dir = tempfile::tempdir().unwrap();
        let places = placement(dir.path());
        record(&places.legacy_store, &places.key, "old");
        record(&places.store, &places.key, "new");
        let refused = settle(&places).unwrap_err();
        assert!(matches!(refused, StoreError::Misplaced { .. }), "{refused:?}");
        let message = refused.to_string();
        for path in [&places.legacy_store, &places.store] {
            assert!(message.contains(&path.display().to_string()), "{message}");
        }
        assert!(places.legacy_store.exists() && places.store.exists(), "nothing is moved nor removed");
        std::fs::copy(&places.store, &places.legacy_store).unwrap();
        let settled = settle(&places).unwrap();
        assert_eq!(settled.removed, std::slice::from_ref(&places.legacy_store));
        assert!(!places.legacy_store.exists() && places.store.exists());
    }

    #[test]
    fn a_key_in_the_statistics_folder_moves_out_and_two_different_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let places = placement(dir.path());
        let stray = places.folder().join("statistics.key");
        private::create_folder(places.folder()).unwrap();
        Pseudonymiser::load_or_create(&stray).unwrap();
        let stray_bytes = std::fs::read(&stray).unwrap();
        std::fs::set_permissions(&stray, std::fs::Permissions::from_mode(0o640)).unwrap();
        let settled = settle(&places).unwrap();
        assert_eq!(settled.moved, [(stray.clone(), places.key.clone())]);
        assert_eq!(std::fs::read(&places.key).unwrap(), stray_bytes, "the same key");
        assert_eq!(mode(&places.key), 0o600);
        assert!(!stray.exists());
        // The same key in both places: the stray copy goes.
        std::fs::copy(&places.key, &stray).unwrap();
        assert_eq!(settle(&places).unwrap().removed, std::slice::from_ref(&stray));
        // Another key in the folder: refused, both named, both left as they are.
        Pseudonymiser::load_or_create(&stray).unwrap();
        let refused = settle(&places).unwrap_err().to_string();
        for path in [&stray, &places.key] {
            assert!(refused.contains(&path.display().to_string()), "{refused}");
        }
        assert!(stray.exists() && places.key.exists());
    }

    #[test]
    fn a_key_placed_in_the_statistics_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut places = placement(dir.path());
        places.key = places.folder().join("pseudonyms.key");
        let refused = settle(&places).unwrap_err();
        assert!(matches!(refused, StoreError::KeyInStatisticsFolder { .. }), "{refused:?}");
    }
}
