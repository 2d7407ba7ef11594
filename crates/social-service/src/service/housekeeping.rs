//! The daemon's periodic work, run by its loop (`crates/party`) at start and every hour: the
//! steering statistics' anonymisation of the months that closed, then the retention pass
//! ([`super::retention`]), then the received transfers whose missing chunks will never come.

use serde::{Deserialize, Serialize};

use super::retention::RetentionReport;
use super::{Result, SocialService};

/// How often the daemon's loop runs a round ([`SocialService::housekeeping`]: the steering
/// statistics of the months that closed, the retention pass): a month closes at midnight, a
/// retention period is months, and within the hour is soon enough; a round with nothing to do
/// costs a few index reads.
pub const HOUSEKEEPING_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// What a round of housekeeping did (each step's report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Housekeeping {
    pub retention: RetentionReport,
}

impl SocialService {
    /// One round of the periodic work; blocking (the store), so the loop runs it off the async
    /// workers. Safe to run at any time and as often as wanted: a step with nothing to do
    /// returns at once; one round at a time (the hourly one and `retention run`'s wait for
    /// each other). The months are counted before the pass erases anything; the pass runs
    /// even when counting failed (the erasure is the law's, the statistics wait for the next
    /// round), and the first failure is returned.
    pub fn housekeeping(&self) -> Result<Housekeeping> {
        let _round = self.rounds();
        let counted = self.anonymise_closed_months();
        let retention = self.retention_pass()?;
        let expired = self.expire_incomplete_transfers()?;
        if expired > 0 {
            tracing::warn!(expired, "received transfers missing chunks for 30 days refused (file malformed)");
        }
        counted?;
        Ok(Housekeeping { retention })
    }
}
