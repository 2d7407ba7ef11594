//! The demo's folder: `population/` (the synthetic files), `requester/`, `observatory/` and
//! `responder-<body>/` (each party's own state, as separate deployments would keep it: the
//! folders of a `passerelle_party::Deployment` rooted here), and with a CPAM requesting
//! `social-service/` (the social service's case files), in `--data-dir` or a temporary folder
//! deleted at the end.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};

/// Where the demo keeps its files.
#[derive(Debug)]
pub struct Layout {
    root: PathBuf,
    /// The temporary folder when `--data-dir` was not given (deleted when dropped).
    temporary: Option<tempfile::TempDir>,
}

/// Why the folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// A usage error: the user pointed at a folder that holds something.
    #[error(
        "{0} is not empty: choose an empty or new folder, or add --force to wipe it (everything in it is deleted)"
    )]
    NotEmpty(PathBuf),
    #[error("refusing to wipe {0}: --force only wipes a folder made for the demo")]
    Protected(PathBuf),
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

impl Layout {
    /// Uses `data_dir` (created if missing; refused if not empty, unless `force` wipes it) or a
    /// new temporary folder.
    pub fn prepare(data_dir: Option<&Path>, force: bool) -> Result<Layout, LayoutError> {
        let Some(dir) = data_dir else {
            let temporary = tempfile::Builder::new()
                .prefix("passerelle-demo-")
                .tempdir()
                .context("cannot create a temporary folder")?;
            return Ok(Layout { root: temporary.path().to_owned(), temporary: Some(temporary) });
        };
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut entries = std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        if entries.next().is_some() {
            if !force {
                return Err(LayoutError::NotEmpty(dir.to_owned()));
            }
            wipe(dir)?;
        }
        Ok(Layout { root: dir.to_owned(), temporary: None })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the folder is deleted at the end.
    pub fn is_temporary(&self) -> bool {
        self.temporary.is_some()
    }

    /// The synthetic selection, extracts and manifest.
    pub fn population(&self) -> PathBuf {
        self.root.join("population")
    }

    /// The requester's store (`data/`) and result files (`out/`).
    pub fn requester(&self) -> PathBuf {
        self.root.join("requester")
    }

    /// The social service's folder (`--requester cpam`): its store in `data/`.
    pub fn social_service(&self) -> PathBuf {
        self.root.join("social-service")
    }
}

/// Deletes everything inside `dir` (not `dir` itself), refusing the file-system root and the
/// home folder whatever `--force` says.
fn wipe(dir: &Path) -> Result<(), LayoutError> {
    let canonical = dir.canonicalize().with_context(|| format!("cannot resolve {}", dir.display()))?;
    let home = std::env::var_os("HOME").map(PathBuf::from).and_then(|h| h.canonicalize().ok());
    if canonical.parent().is_none() || home.as_deref() == Some(canonical.as_path()) {
        return Err(LayoutError::Protected(canonical));
    }
    for entry in std::fs::read_dir(&canonical).with_context(|| format!("cannot read {}", canonical.display()))? {
        let path = entry.context("cannot list the folder")?.path();
        let removed = if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|e| anyhow!(e).context(format!("cannot delete {}", path.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_empty_folder_is_refused_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("old")).unwrap();
        std::fs::write(dir.path().join("old/file"), b"x").unwrap();
        std::fs::write(dir.path().join("file"), b"x").unwrap();
        assert!(matches!(Layout::prepare(Some(dir.path()), false), Err(LayoutError::NotEmpty(_))));
        let layout = Layout::prepare(Some(dir.path()), true).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(!layout.is_temporary());
    }

    #[test]
    fn without_a_folder_a_temporary_one_is_used_and_deleted() {
        let layout = Layout::prepare(None, false).unwrap();
        let root = layout.root().to_owned();
        assert!(root.is_dir() && layout.is_temporary());
        drop(layout);
        assert!(!root.exists());
    }
}
