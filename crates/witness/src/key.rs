//! The writer's checkpoint key on disk: 32 random bytes in hexadecimal, generated on first use
//! in a file only the daemon's account can read (0600, folder 0700), and refused when group or
//! others could read it, as a store is ([`passerelle_sqlite::private`]). Its public half is what
//! the witness's settings name ([`public_key_hex`], [`parse_public_key`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey, PUBLIC_KEY_LENGTH, SECRET_KEY_LENGTH};
use rand::RngCore;

/// Why the checkpoint key cannot be used. No message shows the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot access the checkpoint key {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// Group or others may read the key: anyone who can could sign checkpoints as the daemon.
    #[error(
        "the checkpoint key {path} has mode {mode:04o}: only the daemon's account may read it; run `chmod 600 {path}` \
         and, since others could read it, generate a new one (remove the file) and give its public key to the witness"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("the checkpoint key {path} is not 64 hexadecimal digits (an Ed25519 secret key): restore it from a backup, or remove it to generate a new one and give its public key to the witness")]
    NotAKey { path: PathBuf },
    #[error(
        "a public key is {} hexadecimal digits (Ed25519, as `passerelle` prints it); this text has {length} characters{}",
        PUBLIC_KEY_LENGTH * 2, if *.hexadecimal { "" } else { ", not all hexadecimal digits" }
    )]
    NotAPublicKey { length: usize, hexadecimal: bool },
}

/// Reads the signing key from `path`, or creates it (random, mode 0600) if absent; refuses a
/// file group or others can access.
pub fn load_or_create_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let io = |source| KeyError::Io { path: path.to_owned(), source };
    passerelle_sqlite::private::check_store(path).map_err(|e| match e {
        passerelle_sqlite::Error::Exposed { path, mode } => KeyError::Exposed { path, mode },
        passerelle_sqlite::Error::Io { path, source } => KeyError::Io { path, source },
        other => KeyError::Io { path: path.to_owned(), source: std::io::Error::other(other.to_string()) },
    })?;
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).map_err(|_| KeyError::NotAKey { path: path.to_owned() })?;
            let seed = <[u8; SECRET_KEY_LENGTH]>::try_from(bytes.as_slice())
                .map_err(|_| KeyError::NotAKey { path: path.to_owned() })?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                passerelle_sqlite::private::create_folder(dir).map_err(io)?;
            }
            let mut seed = [0u8; SECRET_KEY_LENGTH];
            rand::rngs::OsRng.fill_bytes(&mut seed);
            let mut file = passerelle_sqlite::private::create_file(path).map_err(io)?;
            file.write_all(hex::encode(seed).as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            let key = SigningKey::from_bytes(&seed);
            tracing::info!(path = %path.display(), public_key = %public_key_hex(&key.verifying_key()),
                "generated the checkpoint key; give its public key to the witness");
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}

/// The public key as the witness's settings hold it: 64 lowercase hexadecimal digits (the 32
/// bytes of RFC 8032).
pub fn public_key_hex(key: &VerifyingKey) -> String {
    hex::encode(key.as_bytes())
}

/// A public key from its hexadecimal form (either case, surrounding spaces ignored).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let text = text.trim();
    let shape = || KeyError::NotAPublicKey {
        length: text.chars().count(),
        hexadecimal: text.chars().all(|c| c.is_ascii_hexdigit()),
    };
    let bytes = hex::decode(text).map_err(|_| shape())?;
    let bytes = <[u8; PUBLIC_KEY_LENGTH]>::try_from(bytes.as_slice()).map_err(|_| shape())?;
    // A point off the curve is not a key, whatever its length.
    VerifyingKey::from_bytes(&bytes).map_err(|_| shape())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_key_is_generated_0600_once_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/checkpoint.key");
        let created = load_or_create_signing_key(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("keys")), 0o700);
        let read = load_or_create_signing_key(&path).unwrap();
        assert_eq!(created.to_bytes(), read.to_bytes(), "the second start reads the same key");
        let public = public_key_hex(&read.verifying_key());
        assert_eq!(parse_public_key(&format!(" {} ", public.to_uppercase())).unwrap(), read.verifying_key());
    }

    #[test]
    fn a_key_others_can_read_is_refused_naming_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.key");
        load_or_create_signing_key(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let refused = load_or_create_signing_key(&path).unwrap_err();
        assert!(matches!(refused, KeyError::Exposed { mode: 0o640, .. }), "{refused:?}");
        assert!(refused.to_string().contains(&format!("chmod 600 {}", path.display())), "{refused}");
    }

    #[test]
    fn a_file_that_is_not_a_key_and_a_bad_public_key_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.key");
        passerelle_sqlite::private::create_file(&path).unwrap();
        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(load_or_create_signing_key(&path), Err(KeyError::NotAKey { .. })));
        let refused = parse_public_key("abcd").unwrap_err().to_string();
        assert!(refused.contains("64 hexadecimal digits") && refused.contains("4 characters"), "{refused}");
    }
}
