//! A person as the access log knows them: HMAC-SHA256 of their NIR under a key only the daemon
//! reads (a file, 0600, created on first start), so that a rights request finds the person's
//! entries and the log alone says nothing of who they are.
//!
//! The key is the access log's own, not the statistics' pseudonym key: dropping one never
//! exposes the other, and a person's access log hash does not link them in the statistics.

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use passerelle_protocol::nir::Nir;
use rand::RngCore;
use sha2::Sha256;

use crate::{AccessLogError, Result};

/// The length of the key generated on first start.
const KEY_LEN: usize = 32;

/// The shortest key accepted from a file: below 128 bits a hash could be brute-forced.
const MIN_KEY_LEN: usize = 16;

/// Bound into every hash, so that the same key used elsewhere by mistake gives other values.
const DOMAIN: &[u8] = b"passerelle access log person v1\0";

/// A person's keyed hash (32 bytes), shown as 64 lowercase hexadecimal digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonRef([u8; 32]);

impl std::fmt::Debug for PersonRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PersonRef({})", self.to_hex())
    }
}

impl PersonRef {
    pub fn from_bytes(bytes: [u8; 32]) -> PersonRef {
        PersonRef(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// From 64 hexadecimal digits, as [`PersonRef::to_hex`] shows it.
    pub fn from_hex(text: &str) -> Option<PersonRef> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(PersonRef(bytes.try_into().ok()?))
    }
}

/// The key that turns a NIR into a [`PersonRef`]. `Debug` does not show it.
#[derive(Clone)]
pub struct PersonKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonKey(…)")
    }
}

impl PersonKey {
    /// From a key held in memory (tests, or a secret manager).
    pub fn new(key: &[u8]) -> PersonKey {
        PersonKey { key: key.to_vec() }
    }

    /// Reads the key (hex) from `path`, or creates it (random, mode 0600, folder 0700) if
    /// absent. A file group or others can access is refused: the key is the daemon's alone.
    pub fn load_or_create(path: &Path) -> Result<PersonKey> {
        let io = |source| AccessLogError::Io { path: path.to_owned(), source };
        let problem = |problem: String| AccessLogError::Key { path: path.to_owned(), problem };
        passerelle_sqlite::private::check_store(path)?;
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let key = hex::decode(text.trim()).map_err(|_| problem("it is not hexadecimal".into()))?;
                if key.len() < MIN_KEY_LEN {
                    return Err(problem(format!(
                        "it is shorter than {MIN_KEY_LEN} bytes; remove it to have a new one made \
                         (the persons' entries logged so far can then no longer be found)"
                    )));
                }
                Ok(PersonKey { key })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    passerelle_sqlite::private::create_folder(dir).map_err(io)?;
                }
                let mut key = vec![0u8; KEY_LEN];
                rand::rngs::OsRng.fill_bytes(&mut key);
                let mut file = passerelle_sqlite::private::create_file(path).map_err(io)?;
                file.write_all(hex::encode(&key).as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                tracing::info!(path = %path.display(), "generated the access log's person key");
                Ok(PersonKey { key })
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The person's keyed hash: HMAC-SHA256 of the NIR (15 characters, with its key).
    pub fn person(&self, nir: &Nir) -> PersonRef {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(DOMAIN);
        mac.update(nir.as_str().as_bytes());
        PersonRef(mac.finalize().into_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_person_hash_is_stable_per_key_and_differs_across_keys() {
        let a = PersonKey::new(b"0123456789abcdef0123456789abcdef");
        let b = PersonKey::new(b"another key, of enough length...");
        let nir = passerelle_protocol::nir::with_key("2500513055001").unwrap();
        assert_eq!(a.person(&nir), a.person(&nir));
        assert_ne!(a.person(&nir), b.person(&nir));
        let shown = a.person(&nir).to_hex();
        assert_eq!(PersonRef::from_hex(&shown), Some(a.person(&nir)));
        assert_eq!(PersonRef::from_hex(nir.as_str()), None);
        assert_eq!(format!("{a:?}"), "PersonKey(…)");
    }

    #[test]
    fn the_key_is_created_once_0600_and_refused_once_others_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/access-log.key");
        let nir = passerelle_protocol::nir::with_key("1840575123456").unwrap();
        let first = PersonKey::load_or_create(&path).unwrap();
        let again = PersonKey::load_or_create(&path).unwrap();
        assert_eq!(first.person(&nir), again.person(&nir));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(dir.path().join("keys")).unwrap().permissions().mode() & 0o777, 0o700);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let refused = PersonKey::load_or_create(&path).unwrap_err().to_string();
        assert!(refused.contains("chmod 600"), "{refused}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "abcd").unwrap();
        let refused = PersonKey::load_or_create(&path).unwrap_err().to_string();
        assert!(refused.contains("shorter than 16 bytes"), "{refused}");
    }
}
