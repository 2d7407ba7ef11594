//! Case keys: every payload of a case (persons, answers, outbox messages) is sealed with a key of
//! the case's own, and the case's purge destroys the key (*crypto-shredding*). Whatever copy of
//! a purged payload a crash leaves in the case store's WAL, free pages or a backup, it is
//! ciphertext whose key no longer exists: "purged" holds at the purge's commit, before the
//! rebuild that then only gives the space back.
//!
//! The keys are not in the case store: a key deleted from a SQLite file would stay readable in
//! that file's WAL or free pages, which is the very problem. They are in a small flat file
//! beside it (`<store>.keys`) that SQLite never touches:
//! - a new key is **appended** as one record and synced before any payload sealed with it is
//!   written (a torn last record, from a crash during the append, is ignored: its key sealed
//!   nothing that committed);
//! - destroying keys **rewrites the file whole** (a new file with the live keys, synced, renamed
//!   over the old one, the folder synced): from the rename on, no file holds a destroyed key —
//!   no journal, no free page, no stale record. A purge's keys are destroyed together, at the
//!   end of its transaction and before its commit ([`KeyScope::finish`]).
//!
//! A record: the case id's length (one byte), the case id, the 32-byte key, and the first 8
//! bytes of the SHA-256 of the rest (which finds a torn record).
//!
//! Payloads are sealed with ChaCha20-Poly1305: a random 96-bit nonce per payload (a case seals
//! far fewer than the 2³² payloads a random nonce allows per key), and the row's identity as
//! associated data, so a sealed payload moved to another row or case does not open.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use passerelle_sqlite::private;

use crate::{Result, StoreError};

/// Bytes of a key (ChaCha20-Poly1305: 256 bits).
const KEY_LEN: usize = 32;
/// Bytes of a nonce, stored before each sealed payload.
const NONCE_LEN: usize = 12;
/// Bytes a sealed payload has beyond its plaintext: the nonce and the 16-byte tag.
pub(crate) const SEAL_OVERHEAD: usize = NONCE_LEN + 16;
/// Bytes of a record's checksum.
const CHECK_LEN: usize = 8;

/// The keys file of the case store at `store`: `observatory.db` → `observatory.keys`.
pub fn keys_path(store: &Path) -> PathBuf {
    store.with_extension("keys")
}

/// The case keys of one case store, cached in memory and kept in their file.
pub(crate) struct Keyring {
    path: PathBuf,
    keys: Mutex<HashMap<String, [u8; KEY_LEN]>>,
    /// The file ended with a torn record when it was read: it is written anew before the next
    /// append goes after it ([`Keyring::repair`]).
    torn: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Keyring {
    /// Without the keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("path", &self.path).finish_non_exhaustive()
    }
}

/// One case's key, ready to seal and open payloads.
pub(crate) struct CaseKey(ChaCha20Poly1305);

impl Keyring {
    /// Loads the keys file at `path` (none yet: no key).
    pub(crate) fn open(path: &Path) -> Result<Keyring> {
        let (keys, torn) = read_keys(path)?;
        Ok(Keyring { path: path.to_owned(), keys: Mutex::new(keys), torn: torn.into() })
    }

    /// Writes the file anew if it ended with a torn record (a crash during an append), so that
    /// the next append does not follow the torn bytes. For the daemon at start only: a tool
    /// beside it could take an append in progress for a torn one.
    pub(crate) fn repair(&self) -> Result<()> {
        if self.torn.load(std::sync::atomic::Ordering::SeqCst) {
            self.write_file()?;
            self.torn.store(false, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, [u8; KEY_LEN]>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key of `case_id`, made (and durably appended) if it has none.
    pub(crate) fn key_or_new(&self, case_id: &str) -> Result<CaseKey> {
        let mut keys = self.lock();
        if let Some(key) = keys.get(case_id) {
            return Ok(CaseKey::new(key));
        }
        if case_id.is_empty() || case_id.len() > usize::from(u8::MAX) {
            return Err(StoreError::Corrupt(format!("a case id of {} bytes cannot be given a key", case_id.len())));
        }
        let mut key = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        self.append(case_id, &key)?;
        keys.insert(case_id.to_owned(), key);
        Ok(CaseKey::new(&key))
    }

    /// The key of `case_id`, if it has one (as of when the store was opened, or made since by
    /// this process: only the observatory daemon seals payloads).
    pub(crate) fn key(&self, case_id: &str) -> Result<Option<CaseKey>> {
        Ok(self.lock().get(case_id).map(CaseKey::new))
    }

    /// The case ids that have a key.
    pub(crate) fn case_ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Takes the keys of `case_ids` out of the cache (the file still has them until
    /// [`Keyring::write_file`]); returns those it had.
    fn take(&self, case_ids: &[String]) -> Vec<(String, [u8; KEY_LEN])> {
        let mut keys = self.lock();
        case_ids.iter().filter_map(|id| keys.remove(id).map(|k| (id.clone(), k))).collect()
    }

    /// Puts keys taken by [`Keyring::take`] back (their transaction failed).
    fn put_back(&self, taken: Vec<(String, [u8; KEY_LEN])>) {
        let mut keys = self.lock();
        keys.extend(taken);
    }

    /// Appends one record and syncs it (the folder too, when the file is new).
    fn append(&self, case_id: &str, key: &[u8; KEY_LEN]) -> Result<()> {
        let io = |source| StoreError::Io { path: self.path.clone(), source };
        let new = !self.path.exists();
        let mut file = private::file_options().create(true).append(true).open(&self.path).map_err(io)?;
        file.write_all(&record(case_id, key)).map_err(io)?;
        file.sync_data().map_err(io)?;
        if new {
            sync_folder(&self.path)?;
        }
        Ok(())
    }

    /// Writes the file again from the cache: a new file, synced, renamed over the old one.
    fn write_file(&self) -> Result<()> {
        let keys = self.lock();
        let mut work = self.path.clone().into_os_string();
        work.push(".new");
        let work = PathBuf::from(work);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Io { path, source }
        };
        let mut bytes = Vec::with_capacity(keys.len() * 80);
        for (case_id, key) in keys.iter() {
            bytes.extend(record(case_id, key));
        }
        let mut file =
            private::file_options().write(true).create(true).truncate(true).open(&work).map_err(io(&work))?;
        // A `.new` left by a crash keeps its mode when opened: set it.
        private::restrict(&work).map_err(io(&work))?;
        file.write_all(&bytes).map_err(io(&work))?;
        file.sync_all().map_err(io(&work))?;
        drop(file);
        std::fs::rename(&work, &self.path).map_err(io(&self.path))?;
        sync_folder(&self.path)
    }
}

/// Syncs the folder of `path`, so that a created or renamed file survives a crash.
fn sync_folder(path: &Path) -> Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| StoreError::Io { path: dir.to_owned(), source }),
        None => Ok(()),
    }
}

fn record(case_id: &str, key: &[u8; KEY_LEN]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + case_id.len() + KEY_LEN + CHECK_LEN);
    out.push(case_id.len() as u8);
    out.extend_from_slice(case_id.as_bytes());
    out.extend_from_slice(key);
    let check = Sha256::digest(&out);
    out.extend_from_slice(&check[..CHECK_LEN]);
    out
}

/// The keys of the file at `path` (the last record of a case wins), and whether it ends with a
/// torn record (ignored). A file group or others can access is refused, as a store is.
fn read_keys(path: &Path) -> Result<(HashMap<String, [u8; KEY_LEN]>, bool)> {
    private::check_store(path)?;
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => return Err(StoreError::Io { path: path.to_owned(), source }),
    };
    let mut keys = HashMap::new();
    let mut torn = false;
    let mut rest = bytes.as_slice();
    while let Some((&len, after)) = rest.split_first() {
        let len = usize::from(len);
        let whole = 1 + len + KEY_LEN + CHECK_LEN;
        if rest.len() < whole
            || Sha256::digest(&rest[..whole - CHECK_LEN])[..CHECK_LEN] != rest[whole - CHECK_LEN..whole]
        {
            if rest.len() > whole {
                return Err(StoreError::Corrupt(format!("{} holds a damaged key record", path.display())));
            }
            // A torn last record: its append never returned, so nothing was sealed with it.
            torn = true;
            break;
        }
        let case_id = std::str::from_utf8(&after[..len])
            .map_err(|_| StoreError::Corrupt(format!("{} holds a case id that is not text", path.display())))?;
        let mut key = [0u8; KEY_LEN];
        key.copy_from_slice(&after[len..len + KEY_LEN]);
        keys.insert(case_id.to_owned(), key);
        rest = &rest[whole..];
    }
    Ok((keys, torn))
}

impl CaseKey {
    fn new(key: &[u8; KEY_LEN]) -> CaseKey {
        CaseKey(ChaCha20Poly1305::new(Key::from_slice(key)))
    }

    /// `plain` sealed, bound to `row` (the row's identity): the nonce, then the ciphertext and
    /// its tag.
    pub(crate) fn seal(&self, row: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .0
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad: row })
            .expect("ChaCha20-Poly1305 seals any payload under 256 GiB");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend(sealed);
        out
    }

    /// What [`CaseKey::seal`] sealed for `row`; an error if it was altered or sealed for
    /// another row or key.
    pub(crate) fn open(&self, row: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        let refused = || StoreError::Corrupt("a sealed payload does not open with its case's key".into());
        if sealed.len() < NONCE_LEN {
            return Err(refused());
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.0.decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: row }).map_err(|_| refused())
    }
}

/// The keys one transaction of the case store uses: it makes keys as payloads are sealed, and
/// destroys the keys of the cases it purges when it ends ([`KeyScope::finish`]).
pub(crate) struct KeyScope<'k> {
    ring: &'k Keyring,
    doomed: RefCell<Vec<(String, [u8; KEY_LEN])>>,
}

impl std::fmt::Debug for KeyScope<'_> {
    /// Without the keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyScope").field("doomed", &self.doomed.borrow().len()).finish_non_exhaustive()
    }
}

impl<'k> KeyScope<'k> {
    pub(crate) fn new(ring: &'k Keyring) -> KeyScope<'k> {
        KeyScope { ring, doomed: RefCell::new(Vec::new()) }
    }

    pub(crate) fn ring(&self) -> &Keyring {
        self.ring
    }

    /// Marks a case's key for destruction at the end of the transaction. From now on the case
    /// has no key: a payload sealed later in the same transaction (a refusal queued after a
    /// purge) gets a new one, which survives.
    pub(crate) fn doom(&self, case_id: &str) {
        let taken = self.ring.take(&[case_id.to_owned()]);
        self.doomed.borrow_mut().extend(taken);
    }

    /// Ends the transaction's use of the keys: on success, the doomed keys are destroyed
    /// (before the commit: a crash after this leaves only payloads nobody can open, which the
    /// purge, done again, deletes); on failure they are put back, since the payloads stay.
    pub(crate) fn finish(self, succeeded: bool) -> Result<()> {
        let doomed = self.doomed.into_inner();
        if doomed.is_empty() {
            return Ok(());
        }
        if succeeded {
            let written = self.ring.write_file();
            if written.is_err() {
                // The transaction rolls back: its payloads stay, so do their keys.
                self.ring.put_back(doomed);
            }
            return written;
        }
        self.ring.put_back(doomed);
        // A key made for the same case in the failed transaction is replaced by the old one.
        self.ring.write_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_a_reopen_and_destroyed_ones_are_in_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.keys");
        let ring = Keyring::open(&path).unwrap();
        let sealed = ring.key_or_new("case-a").unwrap().seal(b"row 1", b"1500513100001 secret");
        ring.key_or_new("case-b").unwrap();
        let a = std::fs::read(&path).unwrap();
        let reopened = Keyring::open(&path).unwrap();
        let key = reopened.key("case-a").unwrap().expect("kept");
        assert_eq!(key.open(b"row 1", &sealed).unwrap(), b"1500513100001 secret");
        assert!(key.open(b"row 2", &sealed).is_err(), "bound to its row");
        let key_bytes = &a[1 + 6..1 + 6 + KEY_LEN];
        let scope = KeyScope::new(&reopened);
        scope.doom("case-a");
        scope.finish(true).unwrap();
        let after = std::fs::read(&path).unwrap();
        assert!(!after.windows(KEY_LEN).any(|w| w == key_bytes), "the destroyed key is gone from the file");
        assert!(Keyring::open(&path).unwrap().key("case-a").unwrap().is_none());
        assert!(Keyring::open(&path).unwrap().key("case-b").unwrap().is_some());
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(files, ["o.keys"], "no work file left");
    }

    #[test]
    fn the_file_is_0600_and_refused_when_others_can_read_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.keys");
        Keyring::open(&path).unwrap().key_or_new("case-a").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o604)).unwrap();
        let refused = Keyring::open(&path).expect_err("refused");
        assert!(refused.to_string().contains("chmod 600"), "{refused}");
    }

    #[test]
    fn a_torn_last_record_is_ignored_and_a_damaged_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.keys");
        let ring = Keyring::open(&path).unwrap();
        ring.key_or_new("case-a").unwrap();
        ring.key_or_new("case-b").unwrap();
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, &whole[..whole.len() - 5]).unwrap();
        let torn = Keyring::open(&path).unwrap();
        assert_eq!(torn.case_ids(), ["case-a"]);
        torn.repair().unwrap();
        torn.key_or_new("case-c").unwrap();
        let mut ids = Keyring::open(&path).unwrap().case_ids();
        ids.sort();
        assert_eq!(ids, ["case-a", "case-c"], "an append after a repaired tear reads back");
        let mut damaged = whole.clone();
        std::fs::write(&path, &whole).unwrap();
        damaged[3] ^= 1;
        std::fs::write(&path, &damaged).unwrap();
        assert!(matches!(Keyring::open(&path), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn a_failed_transaction_keeps_its_doomed_keys() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open(&dir.path().join("o.keys")).unwrap();
        let sealed = ring.key_or_new("case-a").unwrap().seal(b"r", b"payload");
        let scope = KeyScope::new(&ring);
        scope.doom("case-a");
        ring.key_or_new("case-a").unwrap();
        scope.finish(false).unwrap();
        let reopened = Keyring::open(&dir.path().join("o.keys")).unwrap();
        assert_eq!(reopened.key("case-a").unwrap().unwrap().open(b"r", &sealed).unwrap(), b"payload");
    }
}
