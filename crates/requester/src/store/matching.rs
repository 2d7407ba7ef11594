//! Matching a result's (or a refusal's) persons with the stored ones: NIR → the person's id
//! within a case.
//!
//! A result chunk names its persons by NIR, in the observatory's order, and so does a refusal.
//! Looking each up in the (case, NIR) index costs a random index page per person — most of a
//! result chunk's storing
//! time once the answers stopped rewriting the persons' rows. So the first chunk of a case
//! reads the case's part of that index once, in order, into a sorted table of packed NIRs (16
//! bytes a person, plus a fence every [`BLOCK`] keys so that a search touches few cache lines),
//! and the next chunks are matched in memory.
//!
//! The table stays valid as long as the case is not purged: a case's persons are written in the
//! transaction that creates the case, and change no more until the purge (which a stored result
//! checks first). It is dropped when the case settles. At most [`MAX_INDEXED_PERSONS`] persons
//! are held: a case that does not fit beside the tables used in the last [`IDLE`] is matched
//! in the index, person by person, rather than evict a table that is still in use (evicting
//! would have two big cases read each other's table again at every chunk).

use std::time::{Duration, SystemTime};

use passerelle_sqlite::rusqlite::{self, params, OptionalExtension, Transaction};
use uuid::Uuid;

use super::StoreError;

/// How many persons the tables of all cases hold together at most (16 bytes each: 32 MiB), so
/// that a requester waiting for several big cases at once stays small. The case being matched
/// is always kept, whatever its size.
pub(super) const MAX_INDEXED_PERSONS: usize = 2_000_000;

/// A table unused this long may be evicted: a case's result chunks arrive seconds apart, so its
/// result has stopped (lost, or waiting for a redelivery) and the memory serves better elsewhere.
pub(super) const IDLE: Duration = Duration::from_secs(300);

/// Keys between two fences: a search is a binary search among the fences (about 1/64 of the
/// keys: they stay in the CPU's caches), then among 64 keys (8 cache lines).
const BLOCK: usize = 64;

/// A NIR packed into 60 bits: up to 15 characters among `0-9`, `A` and `B` (Corsica), 4 bits
/// each, `1 + value` so that no two strings pack alike. Anything else does not pack.
fn pack(nir: &str) -> Option<u64> {
    if nir.is_empty() || nir.len() > 15 {
        return None;
    }
    nir.bytes().try_fold(0u64, |acc, b| {
        let v = match b {
            b'0'..=b'9' => b - b'0',
            b'A' => 10,
            b'B' => 11,
            _ => return None,
        };
        Some(acc << 4 | u64::from(v + 1))
    })
}

/// One case's persons: packed NIRs, sorted, and the person id of each.
#[derive(Debug)]
struct CaseTable {
    case: Uuid,
    keys: Vec<u64>,
    ids: Vec<i64>,
    /// Every [`BLOCK`]th key.
    fences: Vec<u64>,
    /// When it last matched a chunk (the store's clock).
    used: SystemTime,
}

impl CaseTable {
    fn new(case: Uuid, mut by_nir: Vec<(u64, i64)>, now: SystemTime) -> CaseTable {
        by_nir.sort_unstable();
        let (keys, ids): (Vec<u64>, Vec<i64>) = by_nir.into_iter().unzip();
        let fences = keys.iter().step_by(BLOCK).copied().collect();
        CaseTable { case, keys, ids, fences, used: now }
    }

    fn get(&self, key: u64) -> Option<i64> {
        let block = self.fences.partition_point(|&f| f <= key).checked_sub(1)?;
        let start = block * BLOCK;
        let end = (start + BLOCK).min(self.keys.len());
        self.keys[start..end].binary_search(&key).ok().map(|i| self.ids[start + i])
    }

    fn len(&self) -> usize {
        self.keys.len()
    }
}

/// The tables of the cases being answered, most recently used last.
#[derive(Debug, Default)]
pub(super) struct PersonIndex {
    cases: Vec<CaseTable>,
}

impl PersonIndex {
    /// The id of each person named by `nirs` in the case (`None` when the NIR is not one of
    /// its persons), and how many were not found.
    pub(super) fn ids<'a>(
        &mut self,
        tx: &Transaction<'_>,
        case: Uuid,
        case_key: &str,
        nirs: impl Iterator<Item = &'a str>,
        now: SystemTime,
    ) -> Result<(Vec<Option<i64>>, u64), StoreError> {
        let table = self.table(tx, case, case_key, now)?;
        let mut lookup = None;
        let mut ids = Vec::new();
        let mut unmatched = 0;
        for nir in nirs {
            let id = match (table, pack(nir)) {
                (Some(t), Some(key)) => t.get(key),
                // No table, or a NIR that does not pack: matched in the index, exactly as stored.
                _ => {
                    let stmt = match &mut lookup {
                        Some(stmt) => stmt,
                        None => {
                            lookup.insert(tx.prepare_cached("SELECT id FROM persons WHERE case_id = ?1 AND nir = ?2")?)
                        }
                    };
                    stmt.query_row(params![case_key, nir], |r| r.get::<_, i64>(0)).optional()?
                }
            };
            unmatched += u64::from(id.is_none());
            ids.push(id);
        }
        Ok((ids, unmatched))
    }

    /// Forgets a case (settled: nothing more to match).
    pub(super) fn forget(&mut self, case: Uuid) {
        self.cases.retain(|t| t.case != case);
    }

    /// The case's table, read from the store if it is not held; `None` if it does not fit (see
    /// the module's doc) or one of the case's stored NIRs does not pack: then every person is
    /// looked up in the index.
    fn table(
        &mut self,
        tx: &Transaction<'_>,
        case: Uuid,
        case_key: &str,
        now: SystemTime,
    ) -> Result<Option<&CaseTable>, StoreError> {
        if let Some(i) = self.cases.iter().position(|t| t.case == case) {
            self.cases[i].used = now;
            return Ok(Some(&self.cases[i]));
        }
        let persons: usize = tx.query_row("SELECT persons FROM cases WHERE id = ?1", params![case_key], |r| {
            r.get::<_, i64>(0).map(|n| n as usize)
        })?;
        // Idle tables go first, then the room left decides.
        self.cases.retain(|t| now.duration_since(t.used).map_or(true, |idle| idle < IDLE));
        let held: usize = self.cases.iter().map(CaseTable::len).sum();
        if !self.cases.is_empty() && held + persons > MAX_INDEXED_PERSONS {
            return Ok(None);
        }
        let Some(by_nir) = read_case(tx, case_key)? else {
            return Ok(None);
        };
        self.cases.push(CaseTable::new(case, by_nir, now));
        Ok(self.cases.last())
    }

    #[cfg(test)]
    pub(super) fn held(&self) -> Vec<Uuid> {
        self.cases.iter().map(|t| t.case).collect()
    }
}

/// A case's (packed NIR, id) pairs, sorted; `None` if a NIR does not pack. Reads the case's
/// part of the (case, NIR) index, which holds both.
fn read_case(tx: &Transaction<'_>, case_key: &str) -> Result<Option<Vec<(u64, i64)>>, StoreError> {
    let mut stmt = tx.prepare_cached("SELECT nir, id FROM persons WHERE case_id = ?1")?;
    let mut rows = stmt.query(params![case_key])?;
    let mut by_nir = Vec::new();
    while let Some(r) = rows.next()? {
        let Some(key) = pack(r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?) else {
            return Ok(None);
        };
        by_nir.push((key, r.get::<_, i64>(1)?));
    }
    Ok(Some(by_nir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nirs_pack_one_to_one() {
        assert_eq!(pack("150037500100154"), pack("150037500100154"));
        assert_ne!(pack("150037500100154"), pack("150037500100155"));
        // Corsica, and a leading zero is not dropped.
        assert_ne!(pack("2502A00100154"), pack("2502B00100154"));
        assert_ne!(pack("0"), pack("00"));
        assert!(pack("150037500100154").unwrap() < 1 << 60);
        for bad in ["", "1500375001001540", "2502a00100154", "15003 750010015"] {
            assert_eq!(pack(bad), None, "{bad:?}");
        }
    }
}
