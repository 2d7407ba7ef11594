//! The sender's side of a receipt (norm 43, A.3): accepted — the file's open action closes at
//! the transfer date (the day it was sent, in the body's legal time zone), the file is closed
//! and stays frozen under its normal retention (rectifications and the rights still apply, and
//! are sent on); refused — the file is unfrozen and the reason shown. A receipt delivered again
//! changes nothing; a receipt of an amendment is recorded.

use passerelle_access_log::{daemon_actor, AccessEntry, AccessKind};
use passerelle_protocol::v1;
use passerelle_sqlite::params;

use super::transfer_send::system_time;
use super::transfers::refusal_code;
use super::{Result, SocialService, SocialServiceError};
use crate::store::ms;
use crate::store::transfers as t;

impl SocialService {
    /// Applies a receipt for one of this office's transfers (see the module doc).
    pub(crate) fn receive_receipt(&self, r: &v1::TransferReceipt) -> Result<()> {
        let Some(out) = self.store().out_transfer(&r.transfer_id)? else {
            tracing::warn!(transfer = %passerelle_protocol::untrusted::Shown::id(&r.transfer_id),
                "a receipt for no transfer of this office: ignored");
            return Ok(());
        };
        if r.sender != passerelle_bus::office::party(&out.to_body, &out.to_office) {
            tracing::warn!(transfer = %out.id, "a receipt from another party than the transfer's receiver: ignored");
            return Ok(());
        }
        if r.amendment > 0 {
            self.store().transact(|tx| t::amendment_applied(tx, &out.id, r.amendment))?;
            if !r.accepted {
                tracing::warn!(transfer = %out.id, amendment = r.amendment, "the receiver refused an amendment");
            }
            return Ok(());
        }
        let decided_at = system_time(r.decided_at.as_ref());
        let row = self.store().file(&out.file)?;
        let now = self.now();
        let moved = self.store().transact(|tx| {
            if r.accepted {
                if !t::move_out(tx, &out.id, &["sending", "sent"], "accepted", Some(decided_at), None)? {
                    return Ok(false);
                }
                // The action closes at the transfer date; the file is closed and stays frozen.
                let day = Self::date_text(&self.legal_day(out.sent_at));
                let closed = tx.execute(
                    "UPDATE files SET state = 'closed', last_activity_at = ?2 WHERE id = ?1",
                    params![out.file, ms(now)],
                )?;
                if closed == 1 {
                    tx.execute(
                        "UPDATE actions SET end = MAX(start, ?2) WHERE file = ?1 AND end IS NULL",
                        params![out.file, day],
                    )?;
                }
                // Rectifications made while the transfer travelled are sent on now.
                let fields: Vec<String> = tx.query_all(
                    "SELECT DISTINCT field FROM file_changes WHERE file = ?1 AND kind = 'rectification' AND at >= ?2 \
                     ORDER BY field",
                    params![out.file, ms(out.sent_at)],
                    |r| r.get(0),
                )?;
                if let (Some(row), false) = (&row, fields.is_empty()) {
                    let accepted = t::OutTransfer { state: "accepted".into(), ..out.clone() };
                    self.queue_rectification(tx, &accepted, &row.file, &fields)?;
                }
            } else {
                let code = v1::TransferRefusal::try_from(r.refusal).map_or("unspecified", refusal_code);
                if !t::move_out(tx, &out.id, &["sending", "sent"], "refused", Some(decided_at), Some(code))? {
                    return Ok(false);
                }
                t::unfreeze(tx, &out.file, &out.id)?;
            }
            let entry = AccessEntry::new(now, daemon_actor(crate::DAEMON), AccessKind::Update, &out.file);
            let entry = match row.as_ref().and_then(|row| self.log_person(&row.file)) {
                Some(p) => entry.about(p),
                None => entry,
            };
            self.record(&[entry])?;
            Ok::<_, SocialServiceError>(true)
        })?;
        if moved {
            tracing::info!(transfer = %out.id, file = %out.file, accepted = r.accepted, "transfer receipt applied");
            self.outbox_wake();
        }
        Ok(())
    }
}
