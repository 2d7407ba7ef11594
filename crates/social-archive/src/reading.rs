//! Grants and reads: proposing, signing and revoking an `archive-reader`'s grant (the rules are
//! [`crate::grant`]'s), and the only way content leaves the archive — [`Archive::list`] and
//! [`Archive::read`], each checking the reader's grant and recording the read with its purpose
//! in one transaction.

use std::time::SystemTime;

use passerelle_sqlite::time::{from_ms, opt_from_ms, opt_to_ms, to_ms};
use passerelle_sqlite::{Row, Tx};

use crate::grant::{self, Grant, Signer};
use crate::records::{decode_action, decode_file, parse_date, person};
use crate::{Archive, ArchiveError, ArchivedFile, ArchivedRecord, ArchivedSummary, Purpose, Result};

/// A read recorded in the archive: who, when, under which grant, which file (`None` for a
/// list), for which purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveRead {
    pub at: SystemTime,
    pub reader: String,
    pub grant: String,
    pub file: Option<String>,
    pub purpose: String,
}

/// What a `reads.file` holds for a list.
const LIST: &str = "list";

const GRANT_COLUMNS: &str =
    "id, reader, created_at, until, director, director_at, medical, medical_at, revoked_at, revoked_by";

fn grant_row(r: &Row<'_>) -> passerelle_sqlite::rusqlite::Result<Grant> {
    let signature = |agent: Option<String>, at: Option<i64>| agent.zip(at.map(from_ms));
    Ok(Grant {
        id: r.get(0)?,
        reader: r.get(1)?,
        created_at: from_ms(r.get(2)?),
        until: from_ms(r.get(3)?),
        director: signature(r.get(4)?, r.get(5)?),
        medical: signature(r.get(6)?, r.get(7)?),
        revoked_at: opt_from_ms(r.get(8)?),
        revoked_by: r.get(9)?,
    })
}

fn load_grant(tx: &Tx<'_>, id: &str) -> Result<Grant> {
    tx.query_optional(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = ?1"), [id], grant_row)?
        .ok_or_else(|| ArchiveError::NoSuchGrant(shown(id)))
}

/// Writes a grant as the rules made it (a new one, or its new signature or revocation).
fn store_grant(tx: &Tx<'_>, g: &Grant) -> Result<()> {
    let sig = |s: &Option<(String, SystemTime)>| (s.as_ref().map(|s| s.0.clone()), s.as_ref().map(|s| to_ms(s.1)));
    let ((director, director_at), (medical, medical_at)) = (sig(&g.director), sig(&g.medical));
    tx.execute(
        "INSERT INTO grants (id, reader, created_at, until, director, director_at, medical, medical_at, revoked_at,
                             revoked_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (id) DO UPDATE SET director = ?5, director_at = ?6, medical = ?7, medical_at = ?8,
                                        revoked_at = ?9, revoked_by = ?10",
        (
            &g.id,
            &g.reader,
            to_ms(g.created_at),
            to_ms(g.until),
            director,
            director_at,
            medical,
            medical_at,
            opt_to_ms(g.revoked_at),
            &g.revoked_by,
        ),
    )?;
    Ok(())
}

/// The reader's valid grant at `now`, inside a transaction ([`grant::choose`]).
fn valid_in(tx: &Tx<'_>, reader: &str, now: SystemTime) -> Result<Grant> {
    let grants = tx.query_all(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE reader = ?1"), [reader], grant_row)?;
    grant::choose(&grants, reader, now)
}

fn record_read(tx: &Tx<'_>, at: SystemTime, reader: &str, grant: &Grant, file: &str, purpose: Purpose) -> Result<()> {
    tx.execute(
        "INSERT INTO reads (at, reader, grant_id, file, purpose) VALUES (?1, ?2, ?3, ?4, ?5)",
        (to_ms(at), reader, &grant.id, file, purpose.as_str()),
    )?;
    Ok(())
}

/// An id as the caller gave it, bounded and cleaned: it is echoed in a refusal.
fn shown(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect()
}

impl Archive {
    /// Proposes a grant for `reader`, valid until `until`, signed by its first signer.
    /// Refused ([`ArchiveError::Signature`]) when `until` is not after `at` or more than
    /// [`grant::MAX_MONTHS`] months after it, or when the signer is the reader.
    pub fn propose_grant(&self, reader: &str, signer: &Signer, at: SystemTime, until: SystemTime) -> Result<Grant> {
        let grant = grant::proposed(uuid::Uuid::now_v7().to_string(), reader, signer, at, until)?;
        self.db.write(|tx| store_grant(tx, &grant))?;
        Ok(grant)
    }

    /// The second signature: refused ([`ArchiveError::Signature`]) if the same agent signed
    /// already, if that role signed already, or if the grant is complete, expired or revoked.
    pub fn sign_grant(&self, grant: &str, signer: &Signer, at: SystemTime) -> Result<Grant> {
        self.db.write(|tx| {
            let signed = grant::signed(&load_grant(tx, grant)?, signer, at)?;
            store_grant(tx, &signed)?;
            Ok(signed)
        })
    }

    /// Revokes a grant (either signer's role may): reads under it are refused from `at`.
    pub fn revoke_grant(&self, grant: &str, signer: &Signer, at: SystemTime) -> Result<Grant> {
        self.db.write(|tx| {
            let revoked = grant::revoked(&load_grant(tx, grant)?, signer, at)?;
            store_grant(tx, &revoked)?;
            Ok(revoked)
        })
    }

    /// One grant by id.
    pub fn grant(&self, id: &str) -> Result<Grant> {
        self.db.read(|tx| load_grant(tx, id))
    }

    /// Every grant, newest first.
    pub fn grants(&self) -> Result<Vec<Grant>> {
        self.db.read(|tx| {
            Ok(tx.query_all(
                &format!("SELECT {GRANT_COLUMNS} FROM grants ORDER BY created_at DESC, id DESC"),
                [],
                grant_row,
            )?)
        })
    }

    /// The reader's valid grant at `now`, or [`ArchiveError::NoGrant`] saying why (none, one
    /// signature missing, expired, revoked).
    pub fn valid_grant(&self, reader: &str, now: SystemTime) -> Result<Grant> {
        self.db.read(|tx| valid_in(tx, reader, now))
    }

    /// A page of the archived files (by id, after `after`) for a reader with a valid grant,
    /// the listing recorded with its purpose. A file past its `delete_at` is not listed: the
    /// norm keeps it 3 years at most, whether or not the pass has erased it yet.
    pub fn list(
        &self,
        reader: &str,
        purpose: Purpose,
        after: Option<&str>,
        limit: usize,
        now: SystemTime,
    ) -> Result<Vec<ArchivedSummary>> {
        self.db.write(|tx| {
            let grant = valid_in(tx, reader, now)?;
            let page = tx.query_all(
                "SELECT id, office, entered_at, delete_at FROM archived WHERE id > ?1 AND delete_at > ?3
                 ORDER BY id LIMIT ?2",
                (after.unwrap_or(""), limit.max(1) as i64, to_ms(now)),
                |r| {
                    Ok(ArchivedSummary {
                        id: r.get(0)?,
                        office: r.get(1)?,
                        entered_at: from_ms(r.get(2)?),
                        delete_at: from_ms(r.get(3)?),
                    })
                },
            )?;
            record_read(tx, now, reader, &grant, LIST, purpose)?;
            Ok(page)
        })
    }

    /// One archived file for a reader with a valid grant, the read recorded (reader, grant,
    /// file, purpose, time) in the same transaction. A file past its `delete_at` is no file
    /// ([`ArchiveError::NoFile`]), even before the pass erases it.
    pub fn read(&self, reader: &str, id: &str, purpose: Purpose, now: SystemTime) -> Result<ArchivedRecord> {
        self.db.write(|tx| {
            let grant = valid_in(tx, reader, now)?;
            type Columns = (String, i64, i64, i64, String, Vec<u8>, Vec<u8>);
            let row: Option<Columns> = tx.query_optional(
                "SELECT office, opened_at, entered_at, delete_at, retention_start, file, person
                 FROM archived WHERE id = ?1 AND delete_at > ?2",
                (id, to_ms(now)),
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )?;
            let Some((office, opened_at, entered_at, delete_at, retention_start, file, hash)) = row else {
                return Err(ArchiveError::NoFile(shown(id)));
            };
            let actions = tx
                .query_all("SELECT action FROM archived_actions WHERE file = ?1 ORDER BY n", [id], |r| {
                    r.get::<_, Vec<u8>>(0)
                })?
                .iter()
                .map(|bytes| decode_action(id, bytes))
                .collect::<Result<Vec<_>>>()?;
            let archived = ArchivedFile {
                id: id.to_owned(),
                office,
                opened_at: from_ms(opened_at),
                retention_start: parse_date(id, &retention_start)?,
                file: decode_file(id, &file)?,
                actions,
                person: person(id, hash)?,
            };
            record_read(tx, now, reader, &grant, id, purpose)?;
            Ok(ArchivedRecord { archived, entered_at: from_ms(entered_at), delete_at: from_ms(delete_at) })
        })
    }

    /// Every read recorded, oldest first (for an audit; no content).
    pub fn reads(&self) -> Result<Vec<ArchiveRead>> {
        self.db.read(|tx| {
            Ok(tx.query_all("SELECT at, reader, grant_id, file, purpose FROM reads ORDER BY at, rowid", [], |r| {
                let file: String = r.get(3)?;
                Ok(ArchiveRead {
                    at: from_ms(r.get(0)?),
                    reader: r.get(1)?,
                    grant: r.get(2)?,
                    file: (file != LIST).then_some(file),
                    purpose: r.get(4)?,
                })
            })?)
        })
    }
}
