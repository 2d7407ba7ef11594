//! A party's trails anchored at its witness (`passerelle-trails`): every daemon checkpoints its
//! access log, the observatory its audit trail too ([`ObservatoryAuditTrail`]); the service gets
//! a [`TrailsBus`], so its consumer of the party's notices queue also serves the witness
//! messages.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use passerelle_access_log::Accesses;
use passerelle_observatory::AuditTrail;
use passerelle_observatory_store::audit::{Action, AuditEntry};
use passerelle_protocol::calendar::LegalCalendar;
use passerelle_protocol::rules::Clock;
use passerelle_trails::{
    AccessLogTrail, ChainFinding, DaemonTrails, Trail, TrailError, TrailsBus, TrailsSetup, YearHead,
};

use crate::{PartyError, PartySettings};

/// The observatory's audit trail as a [`Trail`].
#[derive(Debug, Clone)]
pub struct ObservatoryAuditTrail {
    pub trail: AuditTrail,
    pub calendar: LegalCalendar,
    /// `observatory:<code>`, the actor of the entry saying a year was dropped.
    pub actor: String,
}

impl Trail for ObservatoryAuditTrail {
    fn name(&self) -> &str {
        "observatory:audit"
    }

    fn heads(&self) -> Result<Vec<YearHead>, TrailError> {
        let heads = self.trail.heads().map_err(TrailError::from_error)?;
        Ok(heads.into_iter().map(|(year, count, head)| YearHead { year, count: count.max(0) as u64, head }).collect())
    }

    fn hash_at(&self, year: i32, rank: u64) -> Result<Option<String>, TrailError> {
        self.trail.hash_at(year, rank as i64).map_err(TrailError::from_error)
    }

    fn check_chain(&self) -> Result<Vec<ChainFinding>, TrailError> {
        let verification = self.trail.verify().map_err(TrailError::from_error)?;
        let mut years: Vec<i32> = verification.years.clone();
        let broken_year = verification.broken.as_ref().and_then(|b| b.entry.split('#').next()?.parse::<i32>().ok());
        years.extend(broken_year);
        years.sort_unstable();
        years.dedup();
        Ok(years
            .into_iter()
            .map(|year| ChainFinding {
                year,
                problem: verification.broken.as_ref().filter(|_| broken_year == Some(year)).map(|b| b.to_string()),
            })
            .collect())
    }

    fn drop_year(&self, year: i32, now: SystemTime) -> Result<(), TrailError> {
        if year >= self.calendar.oldest_retained_year(now) {
            return Err(TrailError(format!("the audit trail's year {year} is still retained")));
        }
        let entries = self.trail.delete_year(year).map_err(TrailError::from_error)?;
        let detail = serde_json::json!({ "entries": entries, "year": year });
        let entry = AuditEntry::new(now, Action::AuditRetention, None, &self.actor, detail);
        self.trail.append(&entry).map(drop).map_err(TrailError::from_error)
    }

    fn purges(&self) -> u64 {
        0
    }
}

/// Starts the party's trails: its access log (and the observatory's audit trail) checkpointed
/// to its witness, the witness messages of `bus` routed to them.
pub async fn start(
    settings: &PartySettings,
    accesses: &Accesses,
    audit: Option<AuditTrail>,
    bus: &TrailsBus,
    clock: Arc<dyn Clock>,
) -> Result<DaemonTrails, PartyError> {
    let calendar = settings.trails().time_zone;
    let party = settings.role().code().to_owned();
    let mut trails: Vec<Arc<dyn Trail>> =
        vec![Arc::new(AccessLogTrail::new(accesses.clone(), settings.kind().command()))];
    if let Some(trail) = audit {
        trails.push(Arc::new(ObservatoryAuditTrail { trail, calendar, actor: format!("observatory:{party}") }));
    }
    let setup = TrailsSetup {
        party: &party,
        witness: settings.witness(),
        data_dir: settings.data_dir(),
        calendar,
        interval: Duration::from_secs(settings.trails().checkpoint_interval_s),
    };
    DaemonTrails::start(setup, trails, bus, clock)
        .await
        .map_err(|e| PartyError::Runtime(anyhow::anyhow!(e).context("the trails cannot start")))
}

/// The checkpointer's totals as metrics: `passerelle_trails_checkpoints_{sent,accepted,refused}_total`.
pub fn register_metrics(
    registry: &passerelle_metrics::MetricsRegistry,
    checkpointer: Arc<passerelle_trails::Checkpointer>,
) {
    use passerelle_metrics::{SnapshotCollector, SnapshotFamily};
    let collector = SnapshotCollector::new(move || {
        let counts = checkpointer.counts();
        vec![
            SnapshotFamily::counter(
                "checkpoints_sent",
                "Checkpoints of this daemon's trails sent to its witness",
                counts.sent,
            ),
            SnapshotFamily::counter("checkpoints_accepted", "Checkpoints the witness said it keeps", counts.accepted),
            SnapshotFamily::counter(
                "checkpoints_refused",
                "Checkpoints the witness refused: a trail no longer extends what the witness holds (run `verify`)",
                counts.refused,
            ),
        ]
    });
    registry.register_in("trails", |r| r.register_collector(collector));
}
