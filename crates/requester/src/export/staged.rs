//! Result files written whole or not at all: each is written under a temporary name in its own
//! folder (`<name>.partial`), synced, then renamed to its final name, and the folder synced. A
//! crash while writing leaves at most a `.partial` file, never a partial file under the final
//! name; the next write (the daemon writes a submission's files again until it has recorded
//! them) starts that temporary file over.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use passerelle_sqlite::private;

use super::{io_err, ExportError};

/// A result file being written under its temporary name.
#[derive(Debug)]
pub(super) struct Staged {
    /// Where the bytes go until the file is whole.
    pub(super) work: PathBuf,
    /// The final name.
    pub(super) target: PathBuf,
}

/// The temporary name of `target`: `<name>.partial`, in the same folder (so the rename stays
/// on one file system and is atomic).
pub fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

impl Staged {
    /// Creates (or starts over) the temporary file of `target`, creating its folder if needed.
    pub(super) fn create(target: &Path) -> Result<(Staged, BufWriter<File>), ExportError> {
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            private::create_folder(dir).map_err(|source| io_err(dir, source))?;
        }
        let work = partial_path(target);
        let file = private::file_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&work)
            .and_then(|file| private::restrict(&work).map(|()| file))
            .map_err(|source| io_err(&work, source))?;
        Ok((Staged { work, target: target.to_owned() }, BufWriter::new(file)))
    }

    /// Flushes and syncs the temporary file (the bytes are on disk before any rename).
    pub(super) fn sync(&self, w: BufWriter<File>) -> Result<(), ExportError> {
        let file = w.into_inner().map_err(|e| io_err(&self.work, e.into_error()))?;
        file.sync_all().map_err(|source| io_err(&self.work, source))
    }

    /// Renames the synced file to its final name and syncs the folder, so the rename survives
    /// a crash.
    pub(super) fn install(self) -> Result<(), ExportError> {
        std::fs::rename(&self.work, &self.target).map_err(|source| io_err(&self.target, source))?;
        sync_folder(&self.target)
    }

    /// Removes the temporary file (a write that failed).
    pub(super) fn abandon(&self) {
        let _ = std::fs::remove_file(&self.work);
    }
}

fn sync_folder(path: &Path) -> Result<(), ExportError> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(|source: io::Error| io_err(dir, source))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_file_has_its_final_name_only_once_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out").join("list.csv");
        let (file, mut w) = Staged::create(&target).unwrap();
        w.write_all(b"nir;rank\r\n").unwrap();
        assert!(!target.exists(), "nothing under the final name while writing");
        assert_eq!(file.work, partial_path(&target));
        file.sync(w).unwrap();
        assert!(!target.exists(), "nor once synced");
        file.install().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"nir;rank\r\n");
        assert!(!partial_path(&target).exists());

        // A write that fails leaves neither name; a leftover temporary file is started over.
        std::fs::write(partial_path(&target), b"left by a crash").unwrap();
        let (file, w) = Staged::create(&dir.path().join("out").join("other.csv")).unwrap();
        drop(w);
        file.abandon();
        assert!(!file.work.exists() && !file.target.exists());
        let (file, w) = Staged::create(&target).unwrap();
        file.sync(w).unwrap();
        assert_eq!(std::fs::read(&file.work).unwrap(), b"", "the leftover was started over");
    }
}
