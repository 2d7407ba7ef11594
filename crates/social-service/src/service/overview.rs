//! What an `operator` reads of the service (`GET /v1/overview`): counts and times only — files
//! by state, what the last retention pass flagged, the transfers in flight, when the next
//! housekeeping round runs. No file id, no agent, no value: nothing of a person, so no entry of
//! the access log (as the metrics, which read the same counts).

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::housekeeping::HOUSEKEEPING_EVERY;
use super::transfer_views::TransferSummary;
use super::{Result, SocialService};
use crate::store::rfc3339;

/// `GET /v1/overview`'s format.
pub const OVERVIEW_FORMAT: &str = "passerelle.social-service-overview/1";

/// The service at a glance, counts only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub format: String,
    pub body: String,
    pub office: String,
    /// Files in the live store, every office of the store (as the metrics).
    pub files_open: u64,
    pub files_closed: u64,
    /// When the last retention pass ran (RFC 3339); none yet.
    pub last_pass_at: Option<String>,
    /// Files the last pass flagged for an idle action.
    pub flagged_idle: u64,
    /// Files the last pass left waiting for the director's decision on an objection.
    pub waiting_objection: u64,
    /// When the next housekeeping round (steering months, retention pass) runs at the latest
    /// (RFC 3339): the last pass plus the round's period; none before the first pass.
    pub next_pass_by: Option<String>,
    /// The round's period, in seconds.
    pub pass_every_seconds: u64,
    /// The transfers' counts (`GET /v1/transfers/summary`).
    pub transfers: TransferSummary,
}

fn time(at: SystemTime) -> String {
    rfc3339(passerelle_sqlite::time::to_ms(at))
}

impl SocialService {
    /// The counts of [`Overview`], read now.
    pub fn overview(&self) -> Result<Overview> {
        let (files_open, files_closed) = self.store().counts()?;
        let pass = self.store().last_pass()?;
        Ok(Overview {
            format: OVERVIEW_FORMAT.to_owned(),
            body: self.settings().body.clone(),
            office: self.office().to_owned(),
            files_open,
            files_closed,
            last_pass_at: pass.at.map(time),
            flagged_idle: pass.flagged_idle,
            waiting_objection: pass.waiting_objection,
            next_pass_by: pass.at.map(|at| time(at + HOUSEKEEPING_EVERY)),
            pass_every_seconds: HOUSEKEEPING_EVERY.as_secs(),
            transfers: self.transfer_summary()?,
        })
    }
}
