//! Files only the daemon's account can read: stores and the files beside them are created 0600
//! and their folders 0700, whatever the process umask, and a store that group or others can
//! read or write is refused when opened ([`Error::Exposed`]).
//!
//! A folder that already exists is left as it is (its owner chose its mode); only the folders
//! created here are made 0700.

use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::{Error, Result};

/// The mode of every file a daemon writes: read and write for its own account only.
pub const FILE_MODE: u32 = 0o600;
/// The mode of every folder a daemon creates.
pub const FOLDER_MODE: u32 = 0o700;
/// The bits that must be clear on a store: any access by group or others.
const SHARED_BITS: u32 = 0o077;

/// Creates `dir` and its missing parents with mode 0700 (the umask cannot change it: the mode
/// is set again after each creation). Existing folders are not changed.
pub fn create_folder(dir: &Path) -> io::Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.as_os_str().is_empty() && !d.exists()).collect();
    std::fs::DirBuilder::new().recursive(true).mode(FOLDER_MODE).create(dir)?;
    for created in missing {
        std::fs::set_permissions(created, Permissions::from_mode(FOLDER_MODE))?;
    }
    Ok(())
}

/// Opening options that create a file with mode 0600 (narrowed by the umask only:
/// [`restrict`] sets it exactly once the file is created).
pub fn file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(FILE_MODE);
    options
}

/// Creates `path` (which must not exist) with mode 0600 exactly, whatever the umask.
pub fn create_file(path: &Path) -> io::Result<File> {
    let file = file_options().write(true).create_new(true).open(path)?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Sets `path`'s mode to 0600 exactly.
pub fn restrict(path: &Path) -> io::Result<()> {
    std::fs::set_permissions(path, Permissions::from_mode(FILE_MODE))
}

/// Refuses ([`Error::Exposed`]) `path` if it exists and group or others may read or write it.
pub fn check_store(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.permissions().mode() & SHARED_BITS != 0 => {
            Err(Error::Exposed { path: path.to_owned(), mode: meta.permissions().mode() & 0o777 })
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io { path: path.to_owned(), source }),
    }
}

/// `path` with `suffix` appended (`-wal`, `-shm`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    p.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_folders_are_0700_and_files_0600() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        create_folder(&deep).unwrap();
        assert_eq!((mode(&dir.path().join("a")), mode(&deep)), (FOLDER_MODE, FOLDER_MODE));
        let file = deep.join("f");
        create_file(&file).unwrap();
        assert_eq!(mode(&file), FILE_MODE);
        assert!(create_file(&file).is_err(), "an existing file is never taken over");
    }

    #[test]
    fn a_store_others_can_read_is_refused_naming_it_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.db");
        check_store(&store).expect("a missing file is created 0600 later");
        std::fs::write(&store, b"").unwrap();
        std::fs::set_permissions(&store, Permissions::from_mode(0o644)).unwrap();
        let refused = check_store(&store).unwrap_err();
        assert!(matches!(refused, Error::Exposed { mode: 0o644, .. }), "{refused:?}");
        let message = refused.to_string();
        assert!(message.contains(&format!("chmod 600 {}", store.display())), "{message}");
        restrict(&store).unwrap();
        check_store(&store).unwrap();
    }

    #[test]
    fn a_new_store_its_wal_and_shm_are_0600_and_an_exposed_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/s.db");
        let db = crate::Database::open(&path, "test", &[crate::Migration::sql("t", "CREATE TABLE t (a);")]).unwrap();
        db.write(|tx| tx.execute("INSERT INTO t (a) VALUES (1)", [])).unwrap();
        assert_eq!(mode(&dir.path().join("data")), FOLDER_MODE);
        for suffix in ["", "-wal", "-shm"] {
            assert_eq!(mode(&with_suffix(&path, suffix)), FILE_MODE, "{suffix}");
        }
        drop(db);
        std::fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        let refused = crate::Database::open(&path, "test", &[]).unwrap_err();
        assert!(matches!(&refused, Error::Exposed { path: p, mode: 0o640 } if *p == path), "{refused:?}");
    }
}
