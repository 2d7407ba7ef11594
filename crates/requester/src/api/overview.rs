//! `GET /v1/overview`: the requester daemon at a glance for its `operator` and its
//! `requester-admin` (the web console's status page, DESIGN §7.4): how many cases stand in each
//! state, how many submissions are kept, how long the oldest unanswered case has waited, how
//! many results and receipts are pending, and when the next purge falls due. Counts, ages and
//! times only — no case or submission id, no service, no category, no NIR, name or value — so
//! the operator, who may see no personal datum (DESIGN §7.1), may read it, and it writes no
//! access-log entry (it gives no personal data; a refused call is recorded by the daemon's
//! trail like any other).

use axum::extract::State;
use axum::Json;
use passerelle_agents::Role;
use passerelle_local_api::{ApiError, Caller};
use serde::{Deserialize, Serialize};

use super::blocking;
use crate::export::rfc3339;
use crate::service::Requester;
use crate::store::CaseState;

/// The states a case goes through, in order.
const STATES: [CaseState; 5] =
    [CaseState::Prepared, CaseState::Sent, CaseState::Answered, CaseState::Refused, CaseState::Purged];

/// The daemon at a glance: counts only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewAnswer {
    /// The office this requester serves.
    pub office: String,
    /// Cases per state, every state listed (purged ones included), in the states' order.
    pub cases: Vec<StateCount>,
    /// Submissions not purged yet.
    pub submissions: u64,
    /// How long the oldest case not answered yet (prepared or sent) has waited since its
    /// submission, in seconds; `None` when none waits.
    pub oldest_waiting_seconds: Option<u64>,
    /// Cases not fully sent yet (the daemon's housekeeping sends them).
    pub unsent: u64,
    /// Submissions settled whose result files are not written yet.
    pub results_to_write: u64,
    /// Answered cases whose receipt the observatory has not confirmed.
    pub receipts_pending: u64,
    /// When the next submission's retention ends (RFC 3339), `None` when nothing is kept; the
    /// daemon purges it at its first housekeeping after that.
    pub next_purge_due: Option<String>,
    pub retention_days: u32,
}

/// How many cases stand in `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCount {
    pub state: CaseState,
    pub cases: u64,
}

pub(super) async fn overview(
    State(requester): State<Requester>,
    caller: Caller,
) -> Result<Json<OverviewAnswer>, ApiError> {
    caller.require(&[Role::Operator, Role::RequesterAdmin])?;
    let answer = blocking(move || {
        let store = requester.store();
        let now = requester.now();
        let cases = store.cases()?;
        let counts = STATES
            .iter()
            .map(|state| StateCount { state: *state, cases: cases.iter().filter(|c| c.state == *state).count() as u64 })
            .collect();
        let oldest_waiting_seconds = cases
            .iter()
            .filter(|c| matches!(c.state, CaseState::Prepared | CaseState::Sent))
            .map(|c| c.submitted_at)
            .min()
            .map(|t| now.duration_since(t).map_or(0, |d| d.as_secs()));
        let kept: Vec<_> = store.submissions()?.into_iter().filter(|s| s.purged_at.is_none()).collect();
        Ok(OverviewAnswer {
            office: requester.settings().office.clone(),
            cases: counts,
            submissions: kept.len() as u64,
            oldest_waiting_seconds,
            unsent: store.unsent_cases()?.len() as u64,
            results_to_write: store.submissions_to_write()?.len() as u64,
            receipts_pending: store.cases_awaiting_receipt()?.len() as u64,
            next_purge_due: kept.iter().map(|s| s.purge_after).min().map(rfc3339),
            retention_days: requester.settings().retention_days,
        })
    })
    .await?;
    tracing::info!(agent = %caller.agent().id, "overview read");
    Ok(Json(answer))
}
