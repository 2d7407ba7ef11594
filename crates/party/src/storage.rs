//! The party's folders, checked before anything connects: a `data_dir` that is a file, that
//! cannot be created, or that this process cannot write is reported once, naming the key, the
//! path and what is wrong — not as SQLite's "unable to open database file" after the broker
//! connection is up (and the topology declared).
//!
//! The observatory and the requester write their stores (and the requester its result files),
//! so their folders must be writable; a responder only reads its extract index when it runs
//! (`responder load` writes it), so its `data_dir` must be a readable folder.

use std::io;
use std::path::{Path, PathBuf};

use crate::PartySettings;

/// Why a folder is unusable, in one line.
#[derive(Debug, thiserror::Error)]
#[error("{key} = {path:?}: {problem}")]
pub struct StorageError {
    /// The setting that names it (`data_dir`, `out_dir`).
    pub key: &'static str,
    pub path: PathBuf,
    pub problem: String,
}

/// What the party does with a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Writes,
    Reads,
}

/// Checks every folder the party uses.
pub fn check(settings: &PartySettings) -> Result<(), StorageError> {
    let folders: Vec<(&'static str, &Path, Use)> = match settings {
        PartySettings::Observatory(s) => vec![("data_dir", &s.data_dir, Use::Writes)],
        PartySettings::Requester(s) => {
            vec![("data_dir", &s.data_dir, Use::Writes), ("out_dir", &s.out_dir, Use::Writes)]
        }
        PartySettings::Responder(s) => vec![("data_dir", &s.data_dir, Use::Reads)],
        PartySettings::SocialService(s) => vec![("data_dir", &s.data_dir, Use::Writes)],
    };
    for (key, path, usage) in folders {
        check_folder(path, usage).map_err(|problem| StorageError { key, path: path.to_owned(), problem })?;
    }
    Ok(())
}

/// Checks one folder the caller writes in (created if missing), named by its setting `key`.
pub fn check_writable(key: &'static str, path: &Path) -> Result<(), StorageError> {
    check_folder(path, Use::Writes).map_err(|problem| StorageError { key, path: path.to_owned(), problem })
}

fn check_folder(path: &Path, usage: Use) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_dir() => Err("is a file, not a folder".to_owned()),
        Ok(_) => match usage {
            Use::Writes => writable(path).map_err(|e| format!("this process cannot write in it ({})", describe(&e))),
            Use::Reads => {
                std::fs::read_dir(path).map(drop).map_err(|e| format!("this process cannot read it ({})", describe(&e)))
            }
        },
        // A responder's missing folder is its extract source's to report (no index loaded yet),
        // and a PostgreSQL source does not use it.
        Err(e) if e.kind() == io::ErrorKind::NotFound && usage == Use::Reads => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Created at the first start, under the nearest folder that exists: that one must
            // be a folder the process can write in.
            let Some(parent) = nearest_existing(path) else { return Ok(()) };
            match std::fs::metadata(&parent) {
                Ok(meta) if !meta.is_dir() => {
                    Err(format!("cannot be created: {} is a file, not a folder", parent.display()))
                }
                _ => writable(&parent).map_err(|e| {
                    format!("does not exist and cannot be created in {} ({})", parent.display(), describe(&e))
                }),
            }
        }
        Err(e) => Err(format!("cannot be read ({})", describe(&e))),
    }
}

/// The nearest ancestor of `path` that exists.
fn nearest_existing(path: &Path) -> Option<PathBuf> {
    let mut current = path.parent();
    while let Some(dir) = current {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        if std::fs::symlink_metadata(dir).is_ok() {
            return Some(dir.to_owned());
        }
        current = dir.parent();
    }
    None
}

/// Writes and removes a probe file: the only test that holds for every cause (permissions,
/// a read-only mount, ACLs, a full inode table).
fn writable(dir: &Path) -> io::Result<()> {
    let probe = dir.join(format!(".passerelle-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new().write(true).create_new(true).open(&probe)?;
    std::fs::remove_file(&probe)
}

/// The error in words, without Rust's `(os error N)` suffix where a better word exists.
fn describe(e: &io::Error) -> String {
    match (e.kind(), e.raw_os_error()) {
        (_, Some(30)) => "read-only filesystem".to_owned(),
        (io::ErrorKind::PermissionDenied, _) => "permission denied: check its owner and mode".to_owned(),
        (_, Some(28)) => "no space left on the device".to_owned(),
        (_, Some(20)) => "a part of the path is a file, not a folder".to_owned(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_observatory::ObservatorySettings;
    use passerelle_requester::RequesterSettings;

    #[test]
    fn a_file_as_data_dir_is_named_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, "x").unwrap();
        let e = check(&PartySettings::Observatory(ObservatorySettings::new("carsat-sud-est", &file))).unwrap_err();
        assert_eq!(e.to_string(), format!("data_dir = {file:?}: is a file, not a folder"));
        let below = file.join("store");
        let e = check(&PartySettings::Observatory(ObservatorySettings::new("carsat-sud-est", &below))).unwrap_err();
        assert!(e.to_string().contains("is a file, not a folder"), "{e}");
    }

    #[test]
    fn folders_to_be_created_and_existing_ones_pass() {
        let dir = tempfile::tempdir().unwrap();
        let requester = RequesterSettings::for_dir("cnaf", "caf-13", &dir.path().join("new/requester"));
        check(&PartySettings::Requester(requester)).unwrap();
        check(&PartySettings::Observatory(ObservatorySettings::new("carsat-sud-est", dir.path()))).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no probe left behind");
    }

    #[test]
    fn an_unwritable_folder_is_refused_unless_the_process_bypasses_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let locked = dir.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
        let result = check(&PartySettings::Observatory(ObservatorySettings::new("carsat-sud-est", &locked)));
        // root writes anyway: the probe is the truth, whatever the mode says.
        let root_writes = writable(&locked).is_ok();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
        match result {
            Ok(()) => assert!(root_writes, "a folder this process cannot write passed"),
            Err(e) => assert!(e.to_string().contains("cannot write in it (permission denied"), "{e}"),
        }
    }
}
