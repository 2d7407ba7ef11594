//! The observatory's machine actions in its access log (DESIGN §7.1): actor
//! `daemon:observatory`, one entry per chunk or per case, never per person, object the case id.
//!
//! | action | kind |
//! |---|---|
//! | a request chunk's persons stored | `create` |
//! | a case's solicitations built and queued, or a reminder's chunks queued again | `transfer`, one per body |
//! | a response chunk's answers stored | `create` |
//! | the result (or a refusal of some persons of a chunk) queued for the requester | `transfer` |
//! | a case's payloads purged (receipt, 30-day cap, or the case refused) | `delete` |
//!
//! A refused case gets no `create`: its refusal stores nothing about a person (a whole-case
//! refusal on the first chunk stores no person, a later one purges what the case held, logged
//! as its `delete`).
//!
//! Each entry is written **inside** the case-store transaction it describes, once that
//! transaction's writes are done and before its commit: a failure to write it rolls the
//! transaction back (the delivery is retried), and a crash between the two writes leaves the
//! entry without its commit — the action is then done again and logged twice, never zero times.

use passerelle_access_log::{daemon_actor, AccessEntry, AccessKind};
use passerelle_observatory_store::StoreError;

use crate::engine::Engine;

/// The observatory's name in its access log's actor, `daemon:observatory`.
pub(crate) const DAEMON: &str = "observatory";

impl Engine {
    /// Records `kind` on each of `case_ids` now, in one access-log transaction.
    pub(crate) fn record_machine<'a>(
        &self,
        kind: AccessKind,
        case_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let entries: Vec<AccessEntry> =
            case_ids.into_iter().map(|case_id| AccessEntry::new(now, daemon_actor(DAEMON), kind, case_id)).collect();
        if entries.is_empty() {
            return Ok(());
        }
        self.accesses.record_all(&entries).map_err(|e| StoreError::AccessLog(e.to_string()))
    }
}
