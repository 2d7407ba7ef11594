//! The keyed pseudonym that stands for a NIR in the statistics store: HMAC-SHA256 of the NIR
//! with a secret only the daemon holds (stable across cases, so a person can be followed, and
//! meaningless without the secret).
//!
//! Two sides: [`Pseudonymiser`] (the key, for the observatory daemon alone, which turns the NIRs
//! of a purged case into pseudonyms) and [`parse_pseudonym`] (for the statistics views, which
//! take a pseudonym as the store shows it and refuse a NIR: nothing outside the daemon turns a
//! NIR into a pseudonym).

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

/// The length of a pseudonym: 64 hexadecimal digits (an HMAC-SHA256), lowercase in the store.
pub const PSEUDONYM_LEN: usize = 64;

/// Why a text given as a pseudonym is refused. No message repeats the text: it may be a NIR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAPseudonym {
    /// A NIR where a pseudonym was expected.
    #[error(
        "this is a NIR, not a pseudonym: the statistics never take a NIR, and only the observatory daemon, \
         which alone holds the pseudonym key, turns a NIR into a pseudonym; give the person's pseudonym \
         as the statistics show it (64 hexadecimal digits)"
    )]
    Nir,
    /// Anything else that is not 64 hexadecimal digits.
    #[error("a pseudonym is 64 hexadecimal digits, as the statistics show it; this text has {length} characters{}",
        if *.hexadecimal { "" } else { ", not all hexadecimal digits" })]
    Shape { length: usize, hexadecimal: bool },
}

/// A pseudonym as the store holds it (lowercase), from the text an analyst gives; a NIR, with or
/// without its key, spaced or not, is refused as such ([`NotAPseudonym::Nir`]).
pub fn parse_pseudonym(text: &str) -> Result<String, NotAPseudonym> {
    let text = text.trim();
    if is_pseudonym(&text.to_ascii_lowercase()) {
        return Ok(text.to_ascii_lowercase());
    }
    let packed: String = text.chars().filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-' | '_')).collect();
    if crate::contains_nir(&packed) || looks_like_nir_without_key(&packed) {
        return Err(NotAPseudonym::Nir);
    }
    Err(NotAPseudonym::Shape { length: text.chars().count(), hexadecimal: text.chars().all(|c| c.is_ascii_hexdigit()) })
}

/// Whether `text` is a pseudonym exactly as the store writes it: 64 lowercase hexadecimal digits.
pub fn is_pseudonym(text: &str) -> bool {
    text.len() == PSEUDONYM_LEN && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// 13 or 15 characters shaped as a NIR (sex 1 or 2, then digits, Corsica's `2A`/`2B` allowed),
/// whether or not its key checks: a mistyped NIR is a NIR all the same.
fn looks_like_nir_without_key(text: &str) -> bool {
    let bytes = text.to_ascii_uppercase().into_bytes();
    if !matches!(bytes.len(), 13 | 15) || !matches!(bytes[0], b'1' | b'2' | b'3' | b'4' | b'7' | b'8') {
        return false;
    }
    bytes
        .iter()
        .enumerate()
        .all(|(i, b)| b.is_ascii_digit() || (i == 6 && matches!(b, b'A' | b'B') && bytes[5] == b'2'))
}

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

    /// Reads the secret (hex) from `path`, or creates it (random, mode 0600) if absent. A file
    /// group or others can access is refused, as a store is: the key is the daemon's alone.
    pub fn load_or_create(path: &Path) -> Result<Pseudonymiser> {
        let io = |source| StoreError::Io { path: path.to_owned(), source };
        passerelle_sqlite::private::check_store(path)?;
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let key = hex::decode(text.trim()).map_err(|_| {
                    StoreError::Corrupt(format!("the pseudonym key {} is not hexadecimal", path.display()))
                })?;
                if key.len() < MIN_SECRET_LEN {
                    return Err(StoreError::Corrupt(format!(
                        "the pseudonym key {} is shorter than {MIN_SECRET_LEN} bytes",
                        path.display()
                    )));
                }
                Ok(Pseudonymiser { key })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    passerelle_sqlite::private::create_folder(dir).map_err(io)?;
                }
                let mut key = vec![0u8; SECRET_LEN];
                rand::rngs::OsRng.fill_bytes(&mut key);
                let mut file = passerelle_sqlite::private::create_file(path).map_err(io)?;
                file.write_all(hex::encode(&key).as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                tracing::info!(path = %path.display(), "generated the pseudonym key of the statistics");
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
    fn a_pseudonym_is_taken_as_the_store_shows_it_and_a_nir_is_refused_without_being_repeated() {
        let p = Pseudonymiser::new(b"0123456789abcdef0123456789abcdef");
        let nir = passerelle_protocol::nir::with_key("2500513055001").unwrap();
        let pseudonym = p.pseudonym(nir.as_str());
        assert!(is_pseudonym(&pseudonym));
        assert_eq!(parse_pseudonym(&pseudonym).unwrap(), pseudonym);
        assert_eq!(parse_pseudonym(&format!(" {} ", pseudonym.to_uppercase())).unwrap(), pseudonym);
        let spaced = format!("{} {} {}", &nir.as_str()[..1], &nir.as_str()[1..7], &nir.as_str()[7..]);
        for text in [nir.as_str(), &nir.as_str()[..13], &spaced, "1 84 12 2A 123 456 78", "184057512345625"] {
            let refused = parse_pseudonym(text).unwrap_err();
            assert_eq!(refused, NotAPseudonym::Nir, "{text}");
            let message = refused.to_string();
            assert!(!message.contains(&nir.as_str()[..13]) && message.contains("NIR"), "{message}");
        }
        assert_eq!(parse_pseudonym("abc").unwrap_err(), NotAPseudonym::Shape { length: 3, hexadecimal: true });
        let refused = parse_pseudonym(&"z".repeat(64)).unwrap_err();
        assert!(refused.to_string().contains("64 characters, not all hexadecimal"), "{refused}");
    }

    #[test]
    fn the_secret_is_created_once_with_mode_600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/statistics.key");
        let first = Pseudonymiser::load_or_create(&path).unwrap();
        let again = Pseudonymiser::load_or_create(&path).unwrap();
        assert_eq!(first.pseudonym("x"), again.pseudonym("x"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let refused = Pseudonymiser::load_or_create(&path).unwrap_err().to_string();
        assert!(refused.contains("chmod 600"), "{refused}");
    }
}
