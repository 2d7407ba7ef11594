//! The writer's side ([`Checkpointer`]): signs each trail's yearly heads and sends them to the
//! witness over the broker — at least every `checkpoint_interval_s` while a head moves, after
//! every purge, at every stop —, closes the years whose retention has run through a
//! `year-closed` checkpoint (the year is dropped only once the witness accepted it), and asks the
//! witness for the checkpoints it holds when an auditor verifies.
//!
//! A checkpoint the witness has not acknowledged is sent again at the next tick (a witness down
//! for a while gets them from its queue, or the next ones if the queue let them expire); one it
//! refused is an alarm: the trail no longer extends what the witness holds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use passerelle_bus::{Bus, BusError, Message, Outgoing, SCHEMA_VERSION};
use passerelle_protocol::calendar::LegalCalendar;
use passerelle_protocol::rules::Clock;
use passerelle_protocol::v1;
use passerelle_witness::{public_key_hex, Checkpoint, CheckpointKind, SigningKey};
use tokio::sync::oneshot;

use crate::convert::{kind_from_wire, to_wire};
use crate::{Trail, TrailError};

/// How long a checkpoint or a receipt may wait in the recipient's queue (its notices queue
/// keeps messages 7 days).
pub const WITNESS_MESSAGE_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why the checkpointer could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("reading the trail {trail}: {source}")]
    Trail { trail: String, source: TrailError },
    #[error("the checkpoint could not be signed: {0}")]
    Malformed(#[from] passerelle_witness::Malformed),
    #[error("sending to the witness {witness}: {source}")]
    Bus { witness: String, source: BusError },
    #[error("no witness is named for this daemon's trails (`[trails] witness`)")]
    NoWitness,
    #[error(
        "the witness {witness} did not answer within {seconds} s (is it running? its notices queue holds the question)"
    )]
    NoAnswer { witness: String, seconds: u64 },
}

/// The last state of one (trail, year) at the witness, as its receipts said.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WitnessState {
    /// Entries covered by the last checkpoint the witness accepted.
    pub accepted_count: u64,
    /// The last refusal's text, until a later checkpoint is accepted.
    pub refusal: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    /// The last head sent per (trail, year).
    sent: HashMap<(String, i32), (u64, String)>,
    /// What the witness said per (trail, year).
    witnessed: HashMap<(String, i32), WitnessState>,
    /// Queries waiting for their answer, by query id.
    queries: HashMap<String, oneshot::Sender<v1::WitnessedCheckpoints>>,
    /// The trails' purge counters at the last purge checkpoint.
    purges_seen: u64,
}

/// A daemon's checkpointer.
pub struct Checkpointer {
    party: String,
    witness: Option<String>,
    key: SigningKey,
    public_key: String,
    trails: Vec<Arc<dyn Trail>>,
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
    calendar: LegalCalendar,
    state: Mutex<State>,
    counts: Counts,
}

/// The checkpointer's running totals (`passerelle_trails_…` metrics).
#[derive(Debug, Default)]
struct Counts {
    sent: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
}

/// A snapshot of the checkpointer's totals since the daemon started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckpointCounts {
    /// Checkpoints sent to the witness.
    pub sent: u64,
    /// Receipts saying the witness kept one.
    pub accepted: u64,
    /// Receipts saying the witness refused one: the trail no longer extends what it holds.
    pub refused: u64,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer")
            .field("party", &self.party)
            .field("witness", &self.witness)
            .field("trails", &self.trails)
            .finish_non_exhaustive()
    }
}

impl Checkpointer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        party: &str,
        witness: Option<String>,
        key: SigningKey,
        trails: Vec<Arc<dyn Trail>>,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
        calendar: LegalCalendar,
    ) -> Checkpointer {
        let public_key = public_key_hex(&key.verifying_key());
        let purges_seen = trails.iter().map(|t| t.purges()).sum();
        Checkpointer {
            party: party.to_owned(),
            witness,
            key,
            public_key,
            trails,
            bus,
            clock,
            calendar,
            state: Mutex::new(State { purges_seen, ..State::default() }),
            counts: Counts::default(),
        }
    }

    /// Its totals since the daemon started.
    pub fn counts(&self) -> CheckpointCounts {
        CheckpointCounts {
            sent: self.counts.sent.load(Ordering::Relaxed),
            accepted: self.counts.accepted.load(Ordering::Relaxed),
            refused: self.counts.refused.load(Ordering::Relaxed),
        }
    }

    pub fn party(&self) -> &str {
        &self.party
    }

    pub fn witness(&self) -> Option<&str> {
        self.witness.as_deref()
    }

    /// The public key (hex) the witness pins for this party.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    pub fn trails(&self) -> &[Arc<dyn Trail>] {
        &self.trails
    }

    pub fn trail(&self, name: &str) -> Option<&Arc<dyn Trail>> {
        self.trails.iter().find(|t| t.name() == name)
    }

    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// What the witness last said of `trail`'s `year`.
    pub fn witness_state(&self, trail: &str, year: i32) -> WitnessState {
        self.lock().witnessed.get(&(trail.to_owned(), year)).cloned().unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Signs and sends a checkpoint of every year's head. A `regular` one skips the heads the
    /// witness already acknowledged; the other kinds send every head. Returns how many went.
    pub async fn checkpoint(&self, kind: CheckpointKind) -> Result<usize, CheckpointError> {
        let Some(witness) = &self.witness else { return Ok(0) };
        let now = self.clock.now();
        let mut outgoing = Vec::new();
        let mut sending = Vec::new();
        for trail in &self.trails {
            let heads =
                trail.heads().map_err(|source| CheckpointError::Trail { trail: trail.name().to_owned(), source })?;
            for head in heads {
                let key = (trail.name().to_owned(), head.year);
                if kind == CheckpointKind::Regular {
                    let state = self.lock();
                    let acknowledged = state.witnessed.get(&key).is_some_and(|w| w.accepted_count == head.count)
                        && state.sent.get(&key).is_some_and(|(count, h)| *count == head.count && *h == head.head);
                    if acknowledged {
                        continue;
                    }
                }
                outgoing.push(self.outgoing(witness, trail.name(), head.year, head.count, &head.head, kind, now)?);
                sending.push((key, (head.count, head.head)));
            }
        }
        let sent = self.send(witness, outgoing).await?;
        if sent > 0 {
            self.lock().sent.extend(sending);
            tracing::debug!(witness = %witness, checkpoints = sent, kind = kind.as_str(), "checkpoints sent");
        }
        Ok(sent)
    }

    #[allow(clippy::too_many_arguments)]
    fn outgoing(
        &self,
        witness: &str,
        trail: &str,
        year: i32,
        count: u64,
        head: &str,
        kind: CheckpointKind,
        now: SystemTime,
    ) -> Result<Outgoing, CheckpointError> {
        let signed = Checkpoint::new(&self.party, trail, year, count, head, now, kind)?.sign(&self.key)?;
        let message = v1::Checkpoint {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: SCHEMA_VERSION,
            sender: self.party.clone(),
            recipient: witness.to_owned(),
            checkpoint: Some(to_wire(&signed, &self.public_key)),
        };
        Ok(Outgoing::new(Message::Checkpoint(message), witness, now + WITNESS_MESSAGE_LIFETIME))
    }

    /// Publishes `outgoing` checkpoints to the witness (confirmed); how many went.
    async fn send(&self, witness: &str, outgoing: Vec<Outgoing>) -> Result<usize, CheckpointError> {
        let sent = outgoing.len();
        if sent > 0 {
            self.bus
                .publish(outgoing)
                .await
                .map_err(|source| CheckpointError::Bus { witness: witness.to_owned(), source })?;
            self.counts.sent.fetch_add(sent as u64, Ordering::Relaxed);
        }
        Ok(sent)
    }

    /// Sends a `purge` checkpoint when a trail recorded or underwent a purge since the last one.
    pub async fn checkpoint_if_purged(&self) -> Result<usize, CheckpointError> {
        let purges: u64 = self.trails.iter().map(|t| t.purges()).sum();
        if purges == self.lock().purges_seen {
            return Ok(0);
        }
        let sent = self.checkpoint(CheckpointKind::Purge).await?;
        self.lock().purges_seen = purges;
        Ok(sent)
    }

    /// Sends a `year-closed` checkpoint for every year whose retention has run (the year is
    /// dropped when the witness accepts it, [`Checkpointer::on_receipt`]); without a witness,
    /// drops those years at once.
    pub async fn close_expired_years(&self) -> Result<usize, CheckpointError> {
        let now = self.clock.now();
        let oldest_kept = self.calendar.oldest_retained_year(now);
        let Some(witness) = &self.witness else {
            for trail in &self.trails {
                let heads = trail
                    .heads()
                    .map_err(|source| CheckpointError::Trail { trail: trail.name().to_owned(), source })?;
                for head in heads.into_iter().filter(|h| h.year < oldest_kept) {
                    trail
                        .drop_year(head.year, now)
                        .map_err(|source| CheckpointError::Trail { trail: trail.name().to_owned(), source })?;
                    tracing::info!(
                        trail = trail.name(),
                        year = head.year,
                        "dropped a year whose retention has run (no witness)"
                    );
                }
            }
            return Ok(0);
        };
        let mut outgoing = Vec::new();
        for trail in &self.trails {
            let heads =
                trail.heads().map_err(|source| CheckpointError::Trail { trail: trail.name().to_owned(), source })?;
            for head in heads.into_iter().filter(|h| h.year < oldest_kept) {
                let kind = CheckpointKind::YearClosed;
                outgoing.push(self.outgoing(witness, trail.name(), head.year, head.count, &head.head, kind, now)?);
            }
        }
        let sent = self.send(witness, outgoing).await?;
        if sent > 0 {
            tracing::info!(witness = %witness, years = sent, "asked the witness to close the years whose retention has run");
        }
        Ok(sent)
    }

    /// The witness's receipt: what it keeps, or why it refused; a year it closed is dropped.
    pub fn on_receipt(&self, receipt: &v1::CheckpointReceipt) {
        if Some(receipt.sender.as_str()) != self.witness.as_deref() {
            tracing::warn!(from = %passerelle_protocol::untrusted::Shown::id(&receipt.sender),
                "a checkpoint receipt from a party that is not this daemon's witness: ignored");
            return;
        }
        let Some(trail) = self.trails.iter().find(|t| t.name() == receipt.trail) else { return };
        let key = (trail.name().to_owned(), receipt.year);
        if !receipt.accepted {
            self.counts.refused.fetch_add(1, Ordering::Relaxed);
            let refusal = passerelle_bus::notice_text(&receipt.refusal, 400);
            tracing::error!(witness = %receipt.sender, trail = trail.name(), year = receipt.year, count = receipt.count,
                refusal = %refusal,
                "the witness REFUSED a checkpoint of this daemon's trail: the trail no longer extends what the witness \
                 holds (truncated, rewritten or restored from an older copy); an auditor should run `verify`");
            self.lock().witnessed.entry(key).or_default().refusal = Some(refusal);
            return;
        }
        self.counts.accepted.fetch_add(1, Ordering::Relaxed);
        {
            let mut state = self.lock();
            let witnessed = state.witnessed.entry(key).or_default();
            witnessed.accepted_count = witnessed.accepted_count.max(receipt.count);
            witnessed.refusal = None;
        }
        if kind_from_wire(receipt.kind) == Ok(CheckpointKind::YearClosed) {
            // Dropping rebuilds the store: off the async threads.
            let (trail, year, now) = (Arc::clone(trail), receipt.year, self.clock.now());
            tokio::task::spawn_blocking(move || drop_witnessed_year(trail.as_ref(), year, now));
        }
    }

    /// The witness's answer to a query: handed to whoever waits for it.
    pub fn on_answer(&self, answer: v1::WitnessedCheckpoints) {
        if Some(answer.sender.as_str()) != self.witness.as_deref() {
            return;
        }
        if let Some(waiting) = self.lock().queries.remove(&answer.query_id) {
            let _ = waiting.send(answer);
        }
    }

    /// Asks the witness for every checkpoint it holds of `trail`'s `year` (0: which years it
    /// holds), waiting at most `timeout`.
    pub async fn fetch(
        &self,
        trail: &str,
        year: i32,
        timeout: Duration,
    ) -> Result<v1::WitnessedCheckpoints, CheckpointError> {
        let witness = self.witness.clone().ok_or(CheckpointError::NoWitness)?;
        let query_id = uuid::Uuid::new_v4().to_string();
        let (answered, answer) = oneshot::channel();
        self.lock().queries.insert(query_id.clone(), answered);
        let query = v1::CheckpointQuery {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: SCHEMA_VERSION,
            sender: self.party.clone(),
            recipient: witness.clone(),
            query_id: query_id.clone(),
            trail: trail.to_owned(),
            year,
        };
        let expires = self.clock.now() + timeout.max(Duration::from_secs(1));
        let sent = self.bus.publish(vec![Outgoing::new(Message::CheckpointQuery(query), &witness, expires)]).await;
        if let Err(source) = sent {
            self.lock().queries.remove(&query_id);
            return Err(CheckpointError::Bus { witness, source });
        }
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(answer)) => Ok(answer),
            _ => {
                self.lock().queries.remove(&query_id);
                Err(CheckpointError::NoAnswer { witness, seconds: timeout.as_secs() })
            }
        }
    }

    /// One tick: close the years due, then a regular checkpoint of what moved.
    pub async fn tick(&self) {
        if let Err(e) = self.close_expired_years().await {
            tracing::warn!(error = %e, "the years due could not be closed at the witness; retried at the next tick");
        }
        if let Err(e) = self.checkpoint(CheckpointKind::Regular).await {
            tracing::warn!(error = %e, "checkpoint not sent; retried at the next tick");
        }
    }

    /// Runs until `stop` turns true: a regular tick every `interval` (the first right away), a
    /// purge checkpoint within `purge_poll` of a purge.
    pub async fn run(
        self: Arc<Self>,
        interval: Duration,
        purge_poll: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut regular = tokio::time::interval(interval);
        regular.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut purges = tokio::time::interval(purge_poll);
        purges.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = regular.tick() => self.tick().await,
                _ = purges.tick() => {
                    if let Err(e) = self.checkpoint_if_purged().await {
                        tracing::warn!(error = %e, "purge checkpoint not sent; retried");
                    }
                }
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
        }
    }
}

/// Drops `year` of `trail` once its witness took the year-closed checkpoint (logged either way).
fn drop_witnessed_year(trail: &dyn Trail, year: i32, now: SystemTime) {
    match trail.drop_year(year, now) {
        Ok(()) => tracing::info!(
            trail = trail.name(),
            year,
            "dropped a year whose retention has run: its year-closed checkpoint is witnessed"
        ),
        Err(e) => tracing::error!(trail = trail.name(), year, error = %e,
            "the witness closed the year but the trail could not drop it; retried at the next tick"),
    }
}
