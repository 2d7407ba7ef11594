//! The daemon's periodic work, run by its loop (`crates/party`): for now the steering
//! statistics' anonymisation of the months that closed.

use super::{Result, SocialService};

impl SocialService {
    /// One round of the periodic work; blocking (the store), so the loop runs it off the async
    /// workers. Safe to run at any time and as often as wanted: a step with nothing to do
    /// returns at once.
    pub fn housekeeping(&self) -> Result<()> {
        self.anonymise_closed_months()?;
        Ok(())
    }
}
