//! A daemon's trails anchored outside the writer (DESIGN §7.1, issue "access log and witness"):
//! the heads of its hash-chained trails — the access log ([`AccessLogTrail`]) and, at the
//! observatory, the audit trail — are signed into checkpoints ([`Checkpointer`]) and sent over
//! the broker to its **witness**, another party, which keeps them in a chained history and
//! refuses any that does not extend it ([`WitnessService`]); `verify` ([`verify`]) checks a trail
//! read-only against every checkpoint the witness holds.
//!
//! [`DaemonTrails`] is what a daemon runs: the witness messages of its notices queue routed to
//! it ([`TrailsBus`], the bus its service consumes that queue on), a checkpoint at least every
//! `[trails] checkpoint_interval_s` while a head moves, one within seconds of a purge, one at
//! the stop; the years whose retention has run closed at the witness, then dropped.
//!
//! **Threat covered:** whoever can write a daemon's store — and even read its checkpoint key —
//! cannot rewrite or truncate a trail before its last witnessed checkpoint unseen: the witness
//! holds the earlier checkpoints and refuses a fresh one that does not extend them. **Not
//! covered:** an attacker holding both the store and the witness's store.
#![forbid(unsafe_code)]

mod convert;
mod notices;
mod report;
mod trail;
mod witness_side;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use passerelle_bus::Bus;
use passerelle_protocol::calendar::LegalCalendar;
use passerelle_protocol::rules::Clock;
use passerelle_witness::{load_or_create_signing_key, CheckpointKind};

pub use notices::{NoticesHandler, TrailsBus, TrailsRoute};
pub use report::{verify, TrailReport, YearReport};
pub use trail::{AccessLogTrail, ChainFinding, Trail, TrailError, YearHead};
pub use witness_side::{WitnessService, WITNESS_FILE};
pub use writer::{CheckpointCounts, CheckpointError, Checkpointer, WitnessState, WITNESS_MESSAGE_LIFETIME};

/// The daemon's checkpoint signing key in its `data_dir` (0600, the daemon's alone).
pub const CHECKPOINT_KEY_FILE: &str = "checkpoint.key";

/// How often the checkpointer looks for a purge to checkpoint.
pub const PURGE_POLL: Duration = Duration::from_secs(2);

/// Why a daemon's trails could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Key(#[from] passerelle_witness::KeyError),
    #[error(transparent)]
    Witness(#[from] passerelle_witness::HistoryError),
}

/// What a daemon needs to anchor its trails.
#[derive(Debug, Clone)]
pub struct TrailsSetup<'a> {
    /// Its party code (a requester office's is `body.office`).
    pub party: &'a str,
    /// The party that witnesses its trails.
    pub witness: Option<String>,
    pub data_dir: &'a Path,
    pub calendar: LegalCalendar,
    pub interval: Duration,
}

/// A daemon's trails, running.
#[derive(Debug)]
pub struct DaemonTrails {
    checkpointer: Arc<Checkpointer>,
    witness: Arc<WitnessService>,
    stop: tokio::sync::watch::Sender<bool>,
    runner: tokio::task::JoinHandle<()>,
}

impl DaemonTrails {
    /// Loads (or makes) the checkpoint key, opens the witness's store, routes `bus`'s witness
    /// messages to them and starts checkpointing `trails` (published on the bus underneath).
    pub async fn start(
        setup: TrailsSetup<'_>,
        trails: Vec<Arc<dyn Trail>>,
        bus: &TrailsBus,
        clock: Arc<dyn Clock>,
    ) -> Result<DaemonTrails, StartError> {
        let key = load_or_create_signing_key(&setup.data_dir.join(CHECKPOINT_KEY_FILE))?;
        let publisher: Arc<dyn Bus> = bus.inner();
        let witness = Arc::new(WitnessService::open(
            setup.party,
            setup.data_dir,
            Arc::clone(&publisher),
            Arc::clone(&clock),
            setup.calendar,
        )?);
        let checkpointer = Arc::new(Checkpointer::new(
            setup.party,
            setup.witness.clone(),
            key,
            trails,
            publisher,
            clock,
            setup.calendar,
        ));
        match &setup.witness {
            Some(w) => tracing::info!(witness = %w, public_key = %checkpointer.public_key(),
                "the trails' checkpoints go to their witness (it pins this public key)"),
            None => tracing::warn!(
                "no witness is named (`[trails] witness`): the trails are not anchored outside this server"
            ),
        }
        bus.route_to(TrailsRoute { checkpointer: Arc::clone(&checkpointer), witness: Arc::clone(&witness) });
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let runner = tokio::spawn(Arc::clone(&checkpointer).run(setup.interval, PURGE_POLL, stopped));
        Ok(DaemonTrails { checkpointer, witness, stop, runner })
    }

    pub fn checkpointer(&self) -> &Arc<Checkpointer> {
        &self.checkpointer
    }

    pub fn witness(&self) -> &Arc<WitnessService> {
        &self.witness
    }

    /// Stops checkpointing and sends the `stop` checkpoint (its receipt is read at the next
    /// start if the service stopped consuming already).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.runner.await;
        if let Err(e) = self.checkpointer.checkpoint(CheckpointKind::Stop).await {
            tracing::warn!(error = %e, "the stop checkpoint could not be sent");
        }
    }
}
