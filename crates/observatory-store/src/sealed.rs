//! Sealing payloads with their case's key ([`crate::keys`]): what [`crate::persons`],
//! [`crate::answers`] and [`crate::outbox`] write and read through, the varint codec of their
//! plaintexts, the sweep of spent keys, and the migration that seals the payloads of a file
//! written before payloads were sealed.
//!
//! What is sealed (every column that holds personal data): a person's identifiers, sex, birth
//! year, département and risk factors (one sealed blob per person); a response chunk's answers;
//! an outbox message's encoded body. What stays in the clear is metadata: case ids, refs, body
//! codes, message ids, counts and times (the NIR is never a lookup key: duplicates are found
//! from memory, [`Tx::person_nirs`]).

use std::path::Path;

use crate::keys::{keys_path, CaseKey, Keyring};
use crate::{Result, StoreError, Tx};

/// The row identity a sealed payload is bound to: its table and its key columns.
pub(crate) fn row_id(table: &str, parts: &[&str]) -> Vec<u8> {
    let mut id = table.as_bytes().to_vec();
    for part in parts {
        id.push(0);
        id.extend_from_slice(part.as_bytes());
    }
    id
}

impl Tx<'_> {
    /// The key that seals the payloads written for `case_id` (made if the case has none).
    pub(crate) fn sealing_key(&self, case_id: &str) -> Result<CaseKey> {
        self.keys.ring().key_or_new(case_id)
    }

    /// The key that opens the payloads of `case_id`, if it has one: none once its purge
    /// destroyed it. Payloads without their key are read as absent (as good as purged; a purge
    /// a crash undid after destroying the key deletes them when it is done again).
    pub(crate) fn case_key(&self, case_id: &str) -> Result<Option<CaseKey>> {
        self.keys.ring().key(case_id)
    }

    /// Marks the key of `case_id` for destruction when this transaction ends (its purge).
    pub(crate) fn destroy_case_key(&self, case_id: &str) {
        self.keys.doom(case_id);
    }

    /// Destroys, with this transaction, the keys of the cases that have no payload row left:
    /// a key made by a transaction that failed, or for a refusal since published. Returns how
    /// many.
    pub fn forget_spent_keys(&self) -> Result<usize> {
        let mut spent = 0;
        for case_id in self.keys.ring().case_ids() {
            let used = self.tx.exists("SELECT 1 FROM persons WHERE case_id = ?1", [&case_id])?
                || self.tx.exists("SELECT 1 FROM answer_chunks WHERE case_id = ?1", [&case_id])?
                || self.tx.exists("SELECT 1 FROM outbox WHERE case_id = ?1", [&case_id])?;
            if !used {
                self.keys.doom(&case_id);
                spent += 1;
            }
        }
        Ok(spent)
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn take_varint(input: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for (i, &byte) in input.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *input = &input[i + 1..];
            return Some(v);
        }
    }
    None
}

/// Appends a length-prefixed byte string.
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Takes a length-prefixed byte string.
pub(crate) fn take_bytes<'a>(input: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(take_varint(input)?).ok()?;
    let (bytes, rest) = (input.get(..len)?, input.get(len..)?);
    *input = rest;
    Some(bytes)
}

/// Migration 5: seals the payloads a file holds in the clear (the open cases of a file written
/// before payloads were sealed), giving each case a key. The cleartext left in the WAL and free
/// pages goes with the rebuild the observatory runs at every start.
pub(crate) fn seal_existing_payloads(tx: &passerelle_sqlite::Tx<'_>) -> passerelle_sqlite::Result<()> {
    let file: String = tx.query_row("SELECT file FROM pragma_database_list WHERE name = 'main'", [], |r| r.get(0))?;
    let ring = Keyring::open(&keys_path(Path::new(&file))).map_err(unusable)?;
    tx.execute_batch(
        "ALTER TABLE persons RENAME TO persons_in_the_clear;
         CREATE TABLE persons (
             case_id TEXT NOT NULL,
             person_ref INTEGER NOT NULL,
             sealed BLOB NOT NULL,
             PRIMARY KEY (case_id, person_ref)
         );",
    )?;
    {
        let mut read = tx.prepare(
            "SELECT case_id, person_ref, nir, former_nirs, sex, birth_year, departement, risk_factors \
             FROM persons_in_the_clear",
        )?;
        let mut write = tx.prepare("INSERT INTO persons (case_id, person_ref, sealed) VALUES (?1, ?2, ?3)")?;
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let case_id: String = r.get(0)?;
            let person = crate::StoredPerson {
                person_ref: r.get::<_, i64>(1)? as u64,
                nir: r.get(2)?,
                former_nirs: r.get::<_, String>(3)?.split('|').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                sex: r.get(4)?,
                birth_year: r.get(5)?,
                departement: r.get(6)?,
                risk_factors: r.get(7)?,
            };
            let key = ring.key_or_new(&case_id).map_err(unusable)?;
            let sealed = crate::persons::seal_person(&key, &case_id, &person);
            write.execute(rusqlite::params![case_id, person.person_ref as i64, sealed])?;
        }
    }
    tx.execute_batch("DROP TABLE persons_in_the_clear;")?;
    let answers: Vec<(i64, String, i64, String)> =
        tx.query_all("SELECT rowid, case_id, first_ref, body FROM answer_chunks", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    for (rowid, case_id, first_ref, body) in answers {
        let plain: Vec<u8> =
            tx.query_row("SELECT answers FROM answer_chunks WHERE rowid = ?1", [rowid], |r| r.get(0))?;
        let key = ring.key_or_new(&case_id).map_err(unusable)?;
        let sealed = key.seal(&crate::answers::row(&case_id, first_ref as u64, &body), &plain);
        tx.execute("UPDATE answer_chunks SET answers = ?2 WHERE rowid = ?1", rusqlite::params![rowid, sealed])?;
    }
    let messages: Vec<(i64, String, String)> =
        tx.query_all("SELECT id, case_id, message_id FROM outbox", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    for (id, case_id, message_id) in messages {
        let plain: Vec<u8> = tx.query_row("SELECT payload FROM outbox WHERE id = ?1", [id], |r| r.get(0))?;
        let key = ring.key_or_new(&case_id).map_err(unusable)?;
        let sealed = key.seal(&crate::outbox::row(&case_id, &message_id), &plain);
        tx.execute("UPDATE outbox SET payload = ?2 WHERE id = ?1", rusqlite::params![id, sealed])?;
    }
    Ok(())
}

fn unusable(e: StoreError) -> passerelle_sqlite::Error {
    match e {
        StoreError::Database(e) => e,
        other => passerelle_sqlite::Error::Unusable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use passerelle_sqlite::Database;

    use crate::store::MIGRATIONS;
    use crate::CaseStore;

    #[test]
    fn the_migration_seals_the_payloads_of_an_older_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        let nir = passerelle_protocol::nir::with_key("2480313055123").unwrap().as_str().to_owned();
        {
            // A file of schema 4: payloads in the clear.
            let db = Database::open(&path, "case store", &MIGRATIONS[..4]).unwrap();
            db.write(|tx| {
                tx.execute(
                    "INSERT INTO persons (case_id, person_ref, nir, former_nirs, sex, birth_year, departement, \
                     risk_factors) VALUES ('c1', 0, ?1, '', 2, 1948, '13', x'0102')",
                    [&nir],
                )?;
                tx.execute(
                    "INSERT INTO answer_chunks (case_id, first_ref, body, persons, answers) \
                     VALUES ('c1', 0, 'cnav', 1, x'000103070809')",
                    [],
                )?;
                tx.execute(
                    "INSERT INTO outbox (case_id, kind, routing_key, message_id, expires_at, payload, created_at) \
                     VALUES ('c1', 'passerelle.v1.Solicitation', 'cnav', 'm1', 0, CAST(?1 AS BLOB), 0)",
                    [&nir],
                )?;
                Ok::<_, passerelle_sqlite::Error>(())
            })
            .unwrap();
        }
        let store = CaseStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 7);
        let persons = store.read(|tx| tx.persons("c1", 0..1)).unwrap();
        assert_eq!(
            (persons[0].nir.as_str(), persons[0].birth_year, &persons[0].risk_factors[..]),
            (&*nir, 1948, &[1u8, 2][..])
        );
        let answers = store.read(|tx| tx.answers("c1", 0..1)).unwrap();
        assert_eq!((answers[0].status, &answers[0].values[..]), (1, &[7u8, 8, 9][..]));
        let outbox = store.read(|tx| tx.outbox_pending(None, 10, usize::MAX)).unwrap();
        assert_eq!(outbox[0].entry.payload, nir.as_bytes());
        store.reclaim().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend(std::fs::read(dir.path().join("o.db-wal")).unwrap_or_default());
        assert!(!bytes.windows(nir.len()).any(|w| w == nir.as_bytes()), "no NIR in the clear after the rebuild");
        // Purged: the key goes, and the rows with it.
        let now = SystemTime::now();
        store.write(|tx| tx.purge_case_payloads("c1", now)).unwrap();
        assert!(store.read(|tx| tx.case_key("c1")).unwrap().is_none());
    }

    /// A crash between the key's destruction and the purge's commit: the rows remain, without
    /// their key. They read as absent, never block a reader, and the purge done again deletes them.
    #[test]
    fn payloads_whose_key_is_gone_read_as_absent_and_are_purged_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = CaseStore::open(&dir.path().join("o.db")).unwrap();
        let now = SystemTime::now();
        let person = crate::StoredPerson {
            person_ref: 0,
            nir: passerelle_protocol::nir::with_key("1480313055123").unwrap().as_str().to_owned(),
            former_nirs: vec![],
            sex: 1,
            birth_year: 1948,
            departement: "13".into(),
            risk_factors: vec![],
        };
        let entry = |case: &str| crate::OutboxEntry {
            case_id: case.into(),
            kind: "passerelle.v1.Result".into(),
            routing_key: "cnaf".into(),
            message_id: format!("m-{case}"),
            expires_at: now,
            payload: vec![1, 2, 3],
        };
        store
            .write(|tx| {
                tx.insert_person("gone", &person)?;
                tx.enqueue(&entry("gone"), now)?;
                tx.enqueue(&entry("kept"), now)?;
                Ok::<_, crate::StoreError>(())
            })
            .unwrap();
        store
            .write(|tx| {
                tx.destroy_case_key("gone");
                Ok::<_, crate::StoreError>(())
            })
            .unwrap();
        assert!(store.read(|tx| tx.persons("gone", 0..10)).unwrap().is_empty());
        let pending = store.read(|tx| tx.outbox_pending(None, 10, usize::MAX)).unwrap();
        assert_eq!(pending.iter().map(|r| r.entry.case_id.as_str()).collect::<Vec<_>>(), ["kept"]);
        let counts = store.write(|tx| tx.purge_case_payloads("gone", now)).unwrap();
        assert_eq!((counts.persons, counts.outbox), (1, 1));
    }
}
