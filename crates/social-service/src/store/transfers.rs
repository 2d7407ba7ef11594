//! The store's side of a file's transfer between bodies (norm 43, A.3; migration 4): the
//! transfers sent (`transfers_out`) and received (`transfers_in`), the received chunks, the
//! releases of the medical opinions, and the freezing of a sent file. The functions take the
//! write transaction ([`Store::transact`]) so that the service composes one transaction per
//! step: a transfer queued with its file frozen, a file imported with its receipt queued.
//!
//! No row here holds a value of a file but `transfer_chunks.chunk` (the received chunks, deleted
//! once the transfer is decided).

use std::time::SystemTime;

use passerelle_sqlite::{params, Row, Tx};

use super::{ms, Store, StoreError};

/// A transfer this office sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutTransfer {
    pub id: String,
    pub file: String,
    pub to_body: String,
    pub to_office: String,
    /// `sending`, `sent`, `accepted`, `refused`.
    pub state: String,
    pub sent_at: SystemTime,
    pub requested_by: String,
    pub medical_released_by: Option<String>,
    pub assessment_released_by: Option<String>,
    /// Item codes (`medical-opinions`, `social-assessment`).
    pub withheld: Vec<String>,
    pub decided_at: Option<SystemTime>,
    pub refusal: Option<String>,
    pub amendments: u32,
    pub amendments_applied: u32,
}

/// A transfer sent to this office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InTransfer {
    pub id: String,
    /// `body.office`.
    pub from_party: String,
    pub to_party: String,
    /// `receiving`, `awaiting_attachment`, `accepted`, `refused`.
    pub state: String,
    pub received_at: SystemTime,
    pub sent_at: SystemTime,
    pub chunk_count: u32,
    pub withheld: Vec<String>,
    /// The imported file, once accepted.
    pub file: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<SystemTime>,
    pub refusal: Option<String>,
    pub amendments: u32,
    /// The encoded receipt, re-sent when the transfer is delivered again.
    pub receipt: Option<Vec<u8>>,
}

fn join(items: &[String]) -> String {
    items.join(",")
}

fn split(text: String) -> Vec<String> {
    text.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

const OUT_COLUMNS: &str = "id, file, to_body, to_office, state, sent_at, requested_by, medical_released_by, \
     assessment_released_by, withheld, decided_at, refusal, amendments, amendments_applied FROM transfers_out";

fn out_row(r: &Row<'_>) -> passerelle_sqlite::rusqlite::Result<OutTransfer> {
    Ok(OutTransfer {
        id: r.get(0)?,
        file: r.get(1)?,
        to_body: r.get(2)?,
        to_office: r.get(3)?,
        state: r.get(4)?,
        sent_at: passerelle_sqlite::time::from_ms(r.get(5)?),
        requested_by: r.get(6)?,
        medical_released_by: r.get(7)?,
        assessment_released_by: r.get(8)?,
        withheld: split(r.get(9)?),
        decided_at: passerelle_sqlite::time::opt_from_ms(r.get(10)?),
        refusal: r.get(11)?,
        amendments: r.get::<_, i64>(12)? as u32,
        amendments_applied: r.get::<_, i64>(13)? as u32,
    })
}

const IN_COLUMNS: &str = "id, from_party, to_party, state, received_at, sent_at, chunk_count, withheld, file, \
     decided_by, decided_at, refusal, amendments, receipt FROM transfers_in";

fn in_row(r: &Row<'_>) -> passerelle_sqlite::rusqlite::Result<InTransfer> {
    Ok(InTransfer {
        id: r.get(0)?,
        from_party: r.get(1)?,
        to_party: r.get(2)?,
        state: r.get(3)?,
        received_at: passerelle_sqlite::time::from_ms(r.get(4)?),
        sent_at: passerelle_sqlite::time::from_ms(r.get(5)?),
        chunk_count: r.get::<_, i64>(6)? as u32,
        withheld: split(r.get(7)?),
        file: r.get(8)?,
        decided_by: r.get(9)?,
        decided_at: passerelle_sqlite::time::opt_from_ms(r.get(10)?),
        refusal: r.get(11)?,
        amendments: r.get::<_, i64>(12)? as u32,
        receipt: r.get(13)?,
    })
}

impl Store {
    /// Runs `f` in one write transaction (the transfer steps compose the functions below).
    pub(crate) fn transact<T, E: From<passerelle_sqlite::Error>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.db.write(f)
    }

    /// Runs `f` in one read transaction.
    pub(crate) fn reading<T, E: From<passerelle_sqlite::Error>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.db.read(f)
    }

    /// A transfer this office sent.
    pub fn out_transfer(&self, id: &str) -> Result<Option<OutTransfer>, StoreError> {
        self.db.read(|tx| out_transfer(tx, id))
    }

    /// A transfer sent to this office.
    pub fn in_transfer(&self, id: &str) -> Result<Option<InTransfer>, StoreError> {
        self.db.read(|tx| in_transfer(tx, id))
    }

    /// The transfer that froze the file, if it is frozen.
    pub fn frozen_by(&self, file: &str) -> Result<Option<String>, StoreError> {
        self.db.read(|tx| {
            Ok(tx
                .query_optional("SELECT frozen_by FROM files WHERE id = ?1", params![file], |r| {
                    r.get::<_, Option<String>>(0)
                })?
                .flatten())
        })
    }

    /// `BODY/OFFICE` of the social service a received file came from.
    pub fn origin(&self, file: &str) -> Result<Option<String>, StoreError> {
        self.db.read(|tx| {
            Ok(tx
                .query_optional("SELECT origin FROM files WHERE id = ?1", params![file], |r| {
                    r.get::<_, Option<String>>(0)
                })?
                .flatten())
        })
    }

    /// The received chunks stored for a transfer (how many).
    pub fn chunks_stored(&self, transfer: &str) -> Result<u64, StoreError> {
        self.db.read(|tx| {
            Ok(tx.query_row("SELECT COUNT(*) FROM transfer_chunks WHERE transfer = ?1", params![transfer], |r| {
                r.get::<_, i64>(0)
            })? as u64)
        })
    }
}

pub(crate) fn out_transfer(tx: &Tx<'_>, id: &str) -> Result<Option<OutTransfer>, StoreError> {
    Ok(tx.query_optional(&format!("SELECT {OUT_COLUMNS} WHERE id = ?1"), params![id], out_row)?)
}

pub(crate) fn in_transfer(tx: &Tx<'_>, id: &str) -> Result<Option<InTransfer>, StoreError> {
    Ok(tx.query_optional(&format!("SELECT {IN_COLUMNS} WHERE id = ?1"), params![id], in_row)?)
}

/// The file's accepted transfer (the one its amendments are sent on to), the latest.
pub(crate) fn accepted_out_of_file(tx: &Tx<'_>, file: &str) -> Result<Option<OutTransfer>, StoreError> {
    Ok(tx.query_optional(
        &format!("SELECT {OUT_COLUMNS} WHERE file = ?1 AND state = 'accepted' ORDER BY id DESC LIMIT 1"),
        params![file],
        out_row,
    )?)
}

/// The file's transfer still in flight (`sending` or `sent`), if any.
pub(crate) fn in_flight_out_of_file(tx: &Tx<'_>, file: &str) -> Result<Option<OutTransfer>, StoreError> {
    Ok(tx.query_optional(
        &format!("SELECT {OUT_COLUMNS} WHERE file = ?1 AND state IN ('sending', 'sent') ORDER BY id DESC LIMIT 1"),
        params![file],
        out_row,
    )?)
}

pub(crate) fn insert_out(tx: &Tx<'_>, t: &OutTransfer) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO transfers_out (id, file, to_body, to_office, state, sent_at, requested_by, medical_released_by, \
         assessment_released_by, withheld) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            t.id,
            t.file,
            t.to_body,
            t.to_office,
            t.state,
            ms(t.sent_at),
            t.requested_by,
            t.medical_released_by,
            t.assessment_released_by,
            join(&t.withheld)
        ],
    )?;
    Ok(())
}

/// Moves a sent transfer from one of `from` to `to` (with the decision's time and refusal);
/// `false` when it was in none of them.
pub(crate) fn move_out(
    tx: &Tx<'_>,
    id: &str,
    from: &[&str],
    to: &str,
    decided_at: Option<SystemTime>,
    refusal: Option<&str>,
) -> Result<bool, StoreError> {
    let states: Vec<String> = from.iter().map(|s| format!("'{s}'")).collect();
    let n = tx.execute(
        &format!(
            "UPDATE transfers_out SET state = ?2, decided_at = COALESCE(?3, decided_at), refusal = COALESCE(?4, refusal) \
             WHERE id = ?1 AND state IN ({})",
            states.join(", ")
        ),
        params![id, to, decided_at.map(ms), refusal],
    )?;
    Ok(n == 1)
}

/// Counts one more amendment queued for a sent transfer; its number.
pub(crate) fn next_amendment(tx: &Tx<'_>, id: &str) -> Result<u32, StoreError> {
    tx.execute("UPDATE transfers_out SET amendments = amendments + 1 WHERE id = ?1", params![id])?;
    Ok(tx.query_row("SELECT amendments FROM transfers_out WHERE id = ?1", params![id], |r| r.get::<_, i64>(0))? as u32)
}

/// Records the receiver's confirmation of amendment `n` (idempotent).
pub(crate) fn amendment_applied(tx: &Tx<'_>, id: &str, n: u32) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE transfers_out SET amendments_applied = MAX(amendments_applied, ?2) WHERE id = ?1",
        params![id, n as i64],
    )?;
    Ok(())
}

/// Freezes a file for `transfer`; `false` when it is frozen already.
pub(crate) fn freeze(tx: &Tx<'_>, file: &str, transfer: &str) -> Result<bool, StoreError> {
    Ok(tx.execute("UPDATE files SET frozen_by = ?2 WHERE id = ?1 AND frozen_by IS NULL", params![file, transfer])? == 1)
}

/// Unfreezes a file frozen by `transfer`.
pub(crate) fn unfreeze(tx: &Tx<'_>, file: &str, transfer: &str) -> Result<(), StoreError> {
    tx.execute("UPDATE files SET frozen_by = NULL WHERE id = ?1 AND frozen_by = ?2", params![file, transfer])?;
    Ok(())
}

/// Records a release of `item` of `file` for its next transfer to `to_party`.
pub(crate) fn release(
    tx: &Tx<'_>,
    file: &str,
    to_party: &str,
    item: &str,
    agent: &str,
    at: SystemTime,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO transfer_releases (file, to_party, item, agent, at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (file, to_party, item) DO UPDATE SET agent = ?4, at = ?5",
        params![file, to_party, item, agent, ms(at)],
    )?;
    Ok(())
}

/// Who released `item` of `file` for a transfer to `to_party`, if anyone.
pub(crate) fn released_by(tx: &Tx<'_>, file: &str, to_party: &str, item: &str) -> Result<Option<String>, StoreError> {
    Ok(tx.query_optional(
        "SELECT agent FROM transfer_releases WHERE file = ?1 AND to_party = ?2 AND item = ?3",
        params![file, to_party, item],
        |r| r.get(0),
    )?)
}

/// Consumes the releases of `file` for `to_party` (the transfer that used them is queued).
pub(crate) fn consume_releases(tx: &Tx<'_>, file: &str, to_party: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM transfer_releases WHERE file = ?1 AND to_party = ?2", params![file, to_party])?;
    Ok(())
}

/// Records a transfer sent to this office (its first chunk seen); `false` when known already.
pub(crate) fn insert_in(tx: &Tx<'_>, t: &InTransfer) -> Result<bool, StoreError> {
    let n = tx.execute(
        "INSERT INTO transfers_in (id, from_party, to_party, state, received_at, sent_at, chunk_count, withheld) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
        params![
            t.id,
            t.from_party,
            t.to_party,
            t.state,
            ms(t.received_at),
            ms(t.sent_at),
            t.chunk_count as i64,
            join(&t.withheld)
        ],
    )?;
    Ok(n == 1)
}

/// Updates a received transfer's withheld items (chunk 0 carries them).
pub(crate) fn set_in_withheld(tx: &Tx<'_>, id: &str, withheld: &[String]) -> Result<(), StoreError> {
    tx.execute("UPDATE transfers_in SET withheld = ?2 WHERE id = ?1", params![id, join(withheld)])?;
    Ok(())
}

/// Stores a received chunk once (a chunk delivered again is ignored).
pub(crate) fn store_chunk(tx: &Tx<'_>, transfer: &str, index: u32, chunk: &[u8]) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO transfer_chunks (transfer, idx, chunk) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        params![transfer, index as i64, chunk],
    )?;
    Ok(())
}

/// The stored chunks of a transfer, in order.
pub(crate) fn chunks(tx: &Tx<'_>, transfer: &str) -> Result<Vec<Vec<u8>>, StoreError> {
    Ok(tx.query_all("SELECT chunk FROM transfer_chunks WHERE transfer = ?1 ORDER BY idx", params![transfer], |r| {
        r.get(0)
    })?)
}

/// Deletes the chunks of a decided transfer (personal data no longer needed).
pub(crate) fn delete_chunks(tx: &Tx<'_>, transfer: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM transfer_chunks WHERE transfer = ?1", params![transfer])?;
    Ok(())
}

/// Moves a received transfer to `state` (`awaiting_attachment`).
pub(crate) fn await_attachment(tx: &Tx<'_>, id: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE transfers_in SET state = 'awaiting_attachment' WHERE id = ?1 AND state = 'receiving'",
        params![id],
    )?;
    Ok(())
}

/// The decision on a received transfer: accepted (with the imported file) or refused, the
/// receipt kept to be re-sent; its chunks deleted. `false` when it was decided already.
pub(crate) struct InDecision<'a> {
    pub id: &'a str,
    pub accepted: bool,
    pub file: Option<&'a str>,
    pub by: &'a str,
    pub at: SystemTime,
    pub refusal: Option<&'a str>,
    pub receipt: &'a [u8],
}

pub(crate) fn decide_in(tx: &Tx<'_>, d: &InDecision<'_>) -> Result<bool, StoreError> {
    let n = tx.execute(
        "UPDATE transfers_in SET state = ?2, file = ?3, decided_by = ?4, decided_at = ?5, refusal = ?6, receipt = ?7 \
         WHERE id = ?1 AND state IN ('receiving', 'awaiting_attachment')",
        params![d.id, if d.accepted { "accepted" } else { "refused" }, d.file, d.by, ms(d.at), d.refusal, d.receipt],
    )?;
    delete_chunks(tx, d.id)?;
    Ok(n == 1)
}

/// Received transfers still missing chunks, received before `before` (at most `limit`).
pub(crate) fn incomplete_before(tx: &Tx<'_>, before: SystemTime, limit: usize) -> Result<Vec<String>, StoreError> {
    Ok(tx.query_all(
        "SELECT id FROM transfers_in WHERE state = 'receiving' AND received_at < ?1 ORDER BY received_at LIMIT ?2",
        params![ms(before), limit as i64],
        |r| r.get(0),
    )?)
}

/// Counts one more amendment applied to a received transfer.
pub(crate) fn amendment_received(tx: &Tx<'_>, id: &str, n: u32) -> Result<(), StoreError> {
    tx.execute("UPDATE transfers_in SET amendments = ?2 WHERE id = ?1", params![id, n as i64])?;
    Ok(())
}

/// One line of the office's transfers list.
#[derive(Debug, Clone)]
pub enum Listed {
    Out(OutTransfer),
    In(InTransfer),
}

impl Listed {
    pub fn id(&self) -> &str {
        match self {
            Listed::Out(t) => &t.id,
            Listed::In(t) => &t.id,
        }
    }
}

/// The office's transfers, one direction or both, newest first (ids are UUID v7), after `after`.
pub(crate) fn list(
    tx: &Tx<'_>,
    direction: Option<&str>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Listed>, StoreError> {
    let after = after.unwrap_or("\u{10FFFF}");
    let mut rows = Vec::new();
    if direction != Some("in") {
        let outs = tx.query_all(
            &format!("SELECT {OUT_COLUMNS} WHERE id < ?1 ORDER BY id DESC LIMIT ?2"),
            params![after, limit as i64],
            out_row,
        )?;
        rows.extend(outs.into_iter().map(Listed::Out));
    }
    if direction != Some("out") {
        let ins = tx.query_all(
            &format!("SELECT {IN_COLUMNS} WHERE id < ?1 ORDER BY id DESC LIMIT ?2"),
            params![after, limit as i64],
            in_row,
        )?;
        rows.extend(ins.into_iter().map(Listed::In));
    }
    rows.sort_by(|a, b| b.id().cmp(a.id()));
    rows.truncate(limit);
    Ok(rows)
}

/// Counts for operators: (state, refusal, count) per direction, and the oldest in flight.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferCounts {
    /// `(direction, state, refusal)` → count.
    pub by_state: Vec<(String, String, Option<String>, u64)>,
    pub oldest_in_flight: Option<SystemTime>,
}

impl Store {
    /// Every transfer counted by direction, state and refusal (the metrics, `ctl status`).
    pub fn transfer_counts(&self, refused_since: SystemTime) -> Result<TransferCounts, StoreError> {
        self.db.read(|tx| {
            let mut by_state = tx.query_all(
                "SELECT 'out', state, CASE WHEN state = 'refused' AND decided_at >= ?1 THEN refusal END, COUNT(*) \
                 FROM transfers_out GROUP BY 1, 2, 3",
                params![ms(refused_since)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? as u64)),
            )?;
            by_state.extend(tx.query_all(
                "SELECT 'in', state, CASE WHEN state = 'refused' AND decided_at >= ?1 THEN refusal END, COUNT(*) \
                 FROM transfers_in GROUP BY 1, 2, 3",
                params![ms(refused_since)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? as u64)),
            )?);
            let oldest: Option<i64> = tx.query_row(
                "SELECT MIN(t) FROM (SELECT MIN(sent_at) AS t FROM transfers_out WHERE state IN ('sending', 'sent') \
                 UNION ALL SELECT MIN(received_at) FROM transfers_in WHERE state IN ('receiving', 'awaiting_attachment'))",
                [],
                |r| r.get(0),
            )?;
            Ok(TransferCounts { by_state, oldest_in_flight: passerelle_sqlite::time::opt_from_ms(oldest) })
        })
    }
}
