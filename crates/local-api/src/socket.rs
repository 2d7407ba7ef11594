//! The API's socket file: its folder created if missing (0755, so every agent's account can
//! reach the socket), a stale socket of a daemon that died replaced, a live one refused, and the
//! socket made 0666 — who may do what is decided by the peer credentials and the registry, not
//! by file modes.

use std::fs::Permissions;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

/// The mode of a folder created for the socket: every account may traverse it.
const FOLDER_MODE: u32 = 0o755;
/// The socket's mode: every account may connect; the daemon then decides who it is.
const SOCKET_MODE: u32 = 0o666;

/// Why the socket cannot be bound.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("cannot create the folder of the API socket {path}: {source}")]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("another daemon already answers at {path}: stop it first, or give this one another `[api] socket`")]
    InUse { path: PathBuf },
    #[error("{path} exists and is not a socket: remove it, or give another `[api] socket`")]
    NotASocket { path: PathBuf },
    #[error("cannot bind the API socket {path}: {source}")]
    Bind { path: PathBuf, source: std::io::Error },
}

/// Binds the API socket at `path` (see the module's doc). Must be called inside a tokio runtime.
pub fn bind(path: &Path) -> Result<UnixListener, SocketError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_folder(dir).map_err(|source| SocketError::Folder { path: dir.to_owned(), source })?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(SocketError::InUse { path: path.to_owned() });
            }
            // Nobody answers: the socket of a daemon that stopped without removing it.
            std::fs::remove_file(path).map_err(|source| SocketError::Bind { path: path.to_owned(), source })?;
        }
        Ok(_) => return Err(SocketError::NotASocket { path: path.to_owned() }),
        Err(_) => {}
    }
    let bind_error = |source| SocketError::Bind { path: path.to_owned(), source };
    let listener = UnixListener::bind(path).map_err(bind_error)?;
    std::fs::set_permissions(path, Permissions::from_mode(SOCKET_MODE)).map_err(bind_error)?;
    Ok(listener)
}

/// Creates `dir` and its missing parents 0755 whatever the umask; existing folders are left as
/// they are.
fn create_folder(dir: &Path) -> std::io::Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.as_os_str().is_empty() && !d.exists()).collect();
    std::fs::DirBuilder::new().recursive(true).mode(FOLDER_MODE).create(dir)?;
    for created in missing {
        std::fs::set_permissions(created, Permissions::from_mode(FOLDER_MODE))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_live_socket_is_refused_a_stale_one_replaced_and_modes_are_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run").join("passerelle").join("api.sock");
        let listener = bind(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o666);
        assert_eq!(mode(path.parent().unwrap()), 0o755);
        assert_eq!(mode(&dir.path().join("run")), 0o755);
        let e = bind(&path).unwrap_err();
        assert!(matches!(e, SocketError::InUse { .. }), "{e}");
        drop(listener);
        // The file stays behind the dropped listener: stale, so replaced.
        assert!(path.exists());
        let _again = bind(&path).unwrap();
        let file = dir.path().join("not-a-socket");
        std::fs::write(&file, b"x").unwrap();
        assert!(matches!(bind(&file).unwrap_err(), SocketError::NotASocket { .. }));
    }
}
