//! The steering statistics (norm 43, B): the anonymisation of closed months into
//! `steering.db` ([`crate::steering`]), the outcome counters, and the suppressed table a
//! `statistics-agent` reads — from `steering.db` only, never from the live store.

use passerelle_access_log::AccessKind;
use passerelle_social_stats::{Month, Table, Tabulation};

use super::{Result, SocialService, SocialServiceError};
use crate::requester_client::Outcome;
use crate::steering::{anonymise, month_of};

/// The longest period of a table (months): bounds its size, five years of figures.
pub const MAX_STATS_MONTHS: usize = 60;
/// The default period: the last twelve months anonymised.
pub const DEFAULT_STATS_MONTHS: usize = 12;

fn refused(message: impl Into<String>) -> SocialServiceError {
    SocialServiceError::Refused(message.into())
}

impl SocialService {
    /// The current month in the body's legal time zone.
    fn this_month(&self) -> Month {
        month_of(self.now(), &self.settings().trails.time_zone)
    }

    /// Anonymises every closed month not done yet (up to last month, in the legal time zone):
    /// one pass over the live store, counts written to `steering.db` and the months marked
    /// done, in one transaction. Returns the months done now (none when up to date).
    pub fn anonymise_closed_months(&self) -> Result<Vec<Month>> {
        let last_closed = self.this_month().previous();
        let done = self.steering().done_through()?;
        if done.is_some_and(|d| d >= last_closed) {
            return Ok(Vec::new());
        }
        let calendar = &self.settings().trails.time_zone;
        let (months, tally) = anonymise::tally(self.store(), calendar, done, last_closed)?;
        self.steering().record_months(&months, &tally, self.now())?;
        if let (Some(first), Some(last)) = (months.first(), months.last()) {
            tracing::info!(from = %first, to = %last, cells = tally.len(), "steering statistics: months anonymised");
        }
        Ok(months)
    }

    /// Counts an outcome of the offer recorded now, in this month: a counter, no person.
    pub(crate) fn count_outcome(&self, outcome: Outcome) -> Result<()> {
        let category = match outcome {
            Outcome::Accepted => "accepted",
            Outcome::Declined => "declined",
            Outcome::NoReply => "no-reply",
        };
        Ok(self.steering().count_outcome(self.office(), self.this_month(), category)?)
    }

    /// The suppressed table of the months `from` to `to` (`YYYY-MM`; by default the last 12
    /// months anonymised), at office and body level, for `agent` (a `statistics-agent`).
    /// Only anonymised months are served: a month still open would change under the reader's
    /// eyes, and two readings a day apart would tell one person's outcome.
    pub fn stats(&self, agent: &str, from: Option<&str>, to: Option<&str>) -> Result<Table> {
        let done = self.steering().done_through()?.ok_or_else(|| {
            refused("no month anonymised yet: a month's figures are made once it is over (the daemon does it)")
        })?;
        let month = |field: &str, text: &str| {
            Month::parse(text.trim()).ok_or_else(|| refused(format!("{field}: a month YYYY-MM")))
        };
        let to = match to {
            Some(text) => month("to", text)?,
            None => done,
        };
        if to > done {
            return Err(refused(format!("to: the last month anonymised is {done}; a month is served once it is over")));
        }
        let from = match from {
            Some(text) => month("from", text)?,
            None => (1..DEFAULT_STATS_MONTHS).fold(to, |m, _| m.previous()),
        };
        if from > to {
            return Err(refused("from: after `to`"));
        }
        if from.through(to).len() > MAX_STATS_MONTHS {
            return Err(refused(format!("from: a table covers at most {MAX_STATS_MONTHS} months")));
        }
        let mut offices = self.steering().offices()?;
        offices.insert(self.office().to_owned());
        let mut tabulation =
            Tabulation::new(&self.settings().body, offices, from, to).map_err(SocialServiceError::Stats)?;
        for count in self.steering().counts(from, to)? {
            tabulation.add(&count).map_err(SocialServiceError::Stats)?;
        }
        let table = tabulation.suppress().map_err(SocialServiceError::Stats)?;
        self.record(&[self.entry(agent, AccessKind::Export, "steering-statistics", None)])?;
        Ok(table)
    }
}
