//! The office's transfers as its agents and operators see them: the list (both directions,
//! newest first, a cursor), one transfer (for one awaiting this office's confirmation, the
//! person's identity I.1–I.3, a `read` in the access log), and the counts (no person).

use std::collections::BTreeMap;
use std::time::Duration;

use passerelle_access_log::{agent_actor, AccessEntry, AccessKind};

use super::transfer_views::*;
use super::transfers::refused;
use super::{Result, SocialService, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use crate::store::rfc3339;
use crate::store::transfers::{self as t, Listed};

/// How far back the summary counts refusals.
const REFUSALS_WINDOW: Duration = Duration::from_secs(30 * 86_400);

impl SocialService {
    /// The office's transfers, sent (`direction = Some("out")`), received (`Some("in")`) or both,
    /// newest first, from the cursor `after`.
    pub fn transfers(
        &self,
        _agent: &str,
        direction: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<TransferList> {
        if !matches!(direction, None | Some("in") | Some("out")) {
            return Err(refused("direction: out or in"));
        }
        let limit = if limit == 0 { DEFAULT_LIST_LIMIT } else { limit.min(MAX_LIST_LIMIT) };
        let mut rows = self.store().reading(|tx| t::list(tx, direction, after, limit + 1))?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(|r| r.id().to_owned()) } else { None };
        let transfers = rows
            .iter()
            .map(|r| match r {
                Listed::Out(o) => self.out_view(o),
                Listed::In(i) => self.in_view(i),
            })
            .collect();
        Ok(TransferList { format: TRANSFERS_FORMAT.to_owned(), office: self.office().to_owned(), transfers, next })
    }

    /// One transfer; the person's identity when it awaits this office's confirmation (a `read`).
    pub fn transfer(&self, agent: &str, id: &str) -> Result<IncomingTransferView> {
        if let Some(out) = self.store().out_transfer(id)? {
            return Ok(IncomingTransferView {
                format: TRANSFERS_FORMAT.to_owned(),
                transfer: self.out_view(&out),
                person: None,
            });
        }
        let known = self
            .store()
            .in_transfer(id)?
            .ok_or_else(|| refused(format!("no transfer {} in this office", super::shown_id(id))))?;
        let mut person = None;
        if known.state == "awaiting_attachment" {
            let assembled = self.assemble(&known.id).map_err(|p| refused(format!("transfer {}: {p}", known.id)))?;
            let entry = AccessEntry::new(self.now(), agent_actor(agent), AccessKind::Read, &known.id);
            let entry = match self.log_person(&assembled.file) {
                Some(p) => entry.about(p),
                None => entry,
            };
            self.record(&[entry])?;
            let identity = assembled.file.identity.clone().unwrap_or_default();
            person = Some(TransferredPerson {
                nir: identity.nir,
                family_name: identity.family_name,
                usage_name: identity.usage_name,
                given_names: identity.given_names,
                birth_date: identity.birth_date.as_ref().map(Self::date_text),
            });
        }
        Ok(IncomingTransferView { format: TRANSFERS_FORMAT.to_owned(), transfer: self.in_view(&known), person })
    }

    /// Counts for operators (`ctl status`, metrics): no person, no file id.
    pub fn transfer_summary(&self) -> Result<TransferSummary> {
        let since = self.now().checked_sub(REFUSALS_WINDOW).unwrap_or(std::time::UNIX_EPOCH);
        let counts = self.store().transfer_counts(since)?;
        let mut summary = TransferSummary {
            format: TRANSFERS_FORMAT.to_owned(),
            oldest_in_flight: counts.oldest_in_flight.map(|at| rfc3339(passerelle_sqlite::time::to_ms(at))),
            ..Default::default()
        };
        let mut refused_by_reason = BTreeMap::new();
        for (direction, state, refusal, n) in counts.by_state {
            match (direction.as_str(), state.as_str()) {
                ("out", "sending" | "sent") => summary.out_in_flight += n,
                ("out", "accepted") => summary.accepted_out += n,
                ("in", "receiving" | "awaiting_attachment") => summary.in_awaiting += n,
                ("in", "accepted") => summary.accepted_in += n,
                (_, "refused") => {
                    if let Some(code) = refusal {
                        *refused_by_reason.entry(code).or_insert(0) += n;
                    }
                }
                _ => {}
            }
        }
        summary.refused_by_reason = refused_by_reason;
        Ok(summary)
    }
}
