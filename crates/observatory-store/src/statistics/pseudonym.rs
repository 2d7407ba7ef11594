//! The keyed pseudonym that stands for a NIR in the statistics store: HMAC-SHA256 of the NIR
//! with a secret only the daemon holds (stable across cases, so a person can be followed, and
//! meaningless without the secret).

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::{Result, StoreError};

/// The length of the statistics secret generated on first start.
const SECRET_LEN: usize = 32;

/// The shortest secret accepted from a file: below 128 bits a pseudonym could be brute-forced.
const MIN_SECRET_LEN: usize = 16;

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
                    passerelle_sqlite::private::create_folder(dir).map_err(io)?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
