//! The running responder: consumes the body's solicitation queue, answers each chunk from the
//! data source and publishes the response to the observatory that asked.
//!
//! One delivery is one solicitation chunk. The handler
//! 1. refuses a message that is not a solicitation for this body or has no `respond_by`: the bus
//!    rejects it (the broker dead-letters it) and tells the observatory why (a notice);
//! 2. splits the asked categories into answerable and declined ([`crate::answer::plan`]);
//! 3. looks the whole chunk up in one call to the source;
//! 4. records the chunk in the daemon's access log ([`Accesses`]: kind `export`, actor
//!    `daemon:responder`, object the case id; one entry per chunk, never per person) before the
//!    response leaves: a redelivered chunk may be recorded twice, an answered one never zero
//!    times. A failure to write the log is transient: the chunk is retried, never answered
//!    untraced;
//! 5. publishes the response (routing key: the observatory's code, the solicitation's `sender`;
//!    expiry: [`crate::answer::response_expiry`]) and acknowledges only once the broker confirmed
//!    it. A source or broker failure leaves the delivery unacknowledged, retried with backoff;
//!    a response whose expiry has already passed is not sent (the observatory has closed the
//!    case) and the solicitation is acknowledged.
//!
//! It also reads the body's notices queue: each notice (the observatory refused one of its
//! responses) is logged as a warning with its reason code.
//!
//! Nothing is remembered between deliveries: a redelivered chunk or a reminder is answered again
//! in full, from the data as it is then.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use passerelle_access_log::{AccessKind, AccessLogError, Accesses};
use passerelle_bus::{Bus, BusError, Delivery, Handler, Message, NoticeReason, Outgoing, Queue, Verdict};
use passerelle_protocol::rules::{Clock, SystemClock};
use passerelle_protocol::untrusted::{is_identifier, Shown, REASON_CHARS};
use passerelle_protocol::v1::{self, Category, PersonStatus};
use tracing::Instrument;

use crate::answer::{self, Plan};
use crate::settings::{ResponderSettings, SettingsError, SourceSettings};
use crate::source::extract::ExtractSource;
use crate::source::postgres::{PostgresSettingsError, PostgresSource};
use crate::source::{DataSource, SourceError, Subject};

/// Why the responder cannot be built or run.
#[derive(Debug, thiserror::Error)]
pub enum ResponderError {
    #[error("invalid settings: {0}")]
    Settings(#[from] SettingsError),
    #[error("invalid PostgreSQL settings: {0}")]
    Postgres(#[from] PostgresSettingsError),
    #[error("the data source is not ready")]
    Source(#[from] SourceError),
    #[error("cannot consume the solicitation queue")]
    Bus(#[from] BusError),
    #[error("cannot open the access log")]
    AccessLog(#[from] AccessLogError),
}

/// The responder's name as the actor of its machine actions in the access log (`daemon:responder`).
pub const DAEMON: &str = "responder";

/// Running totals, for the demo, the benchmark and tests (no personal data).
#[derive(Debug, Default)]
pub struct ResponderStats {
    /// Chunks answered (responses confirmed by the broker).
    pub chunks: AtomicU64,
    /// Persons answered, found or not.
    pub persons: AtomicU64,
    /// Persons answered *found*.
    pub found: AtomicU64,
    /// Deliveries refused (dead-lettered).
    pub refused: AtomicU64,
}

/// A snapshot of [`ResponderStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    pub chunks: u64,
    pub persons: u64,
    pub found: u64,
    pub refused: u64,
}

impl ResponderStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            chunks: self.chunks.load(Ordering::Relaxed),
            persons: self.persons.load(Ordering::Relaxed),
            found: self.found.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

/// A responder, built and ready to consume.
pub struct Responder {
    handler: Arc<SolicitationHandler>,
    bus: Arc<dyn Bus>,
    consumers: usize,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder").field("handler", &self.handler).finish_non_exhaustive()
    }
}

impl Responder {
    /// Validates the settings, opens the access log in `data_dir` (the daemon's one handle on
    /// it) and builds the data source (no connection yet for PostgreSQL; an extract source must
    /// have an index for this body already: `passerelle responder load`).
    pub async fn build(settings: &ResponderSettings, bus: Arc<dyn Bus>) -> Result<Responder, ResponderError> {
        let held = settings.validate()?;
        let accesses = Accesses::open_in(&settings.data_dir, settings.trails.time_zone)?;
        let source: Arc<dyn DataSource> = match &settings.source {
            SourceSettings::Extract(_) => {
                let source = ExtractSource::new(settings.index_path(), settings.body.clone());
                let info = source.info().await?;
                tracing::info!(body = %settings.body, extract = %info.extract_id, persons = info.persons, "extract index open");
                Arc::new(source)
            }
            SourceSettings::Postgres(pg) => Arc::new(PostgresSource::new(pg)?),
        };
        Ok(Responder::with_source(settings.body.clone(), held, source, bus, accesses)
            .with_consumers(settings.consumers))
    }

    /// A responder over any source, recording the chunks it answers in `accesses`.
    pub fn with_source(
        body: String,
        held: Vec<Category>,
        source: Arc<dyn DataSource>,
        bus: Arc<dyn Bus>,
        accesses: Accesses,
    ) -> Responder {
        let handler = Arc::new(SolicitationHandler {
            body,
            held,
            source,
            bus: Arc::clone(&bus),
            accesses,
            clock: Arc::new(SystemClock),
            stats: Arc::new(ResponderStats::default()),
        });
        Responder { handler, bus, consumers: crate::settings::DEFAULT_CONSUMERS }
    }

    /// Sets how many chunks are answered at once (at least one).
    pub fn with_consumers(mut self, consumers: usize) -> Responder {
        self.consumers = consumers.max(1);
        self
    }

    /// Replaces the clock (expiry of responses), for tests.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Responder {
        Arc::get_mut(&mut self.handler).expect("not running yet").clock = clock;
        self
    }

    /// The body this responder answers for.
    pub fn body(&self) -> &str {
        &self.handler.body
    }

    /// The categories it answers.
    pub fn held(&self) -> &[Category] {
        &self.handler.held
    }

    /// The daemon's access log: the handle the running handler writes with, shared with the
    /// local API (its loads and refusals), so one process holds one handle on the file.
    pub fn accesses(&self) -> &Accesses {
        &self.handler.accesses
    }

    /// Running totals, shared with the running handler.
    pub fn stats(&self) -> Arc<ResponderStats> {
        Arc::clone(&self.handler.stats)
    }

    /// Consumes the solicitation queue until `shutdown` completes, then stops consuming and lets
    /// the chunks in flight finish (answered and acknowledged, or left for redelivery).
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ResponderError> {
        self.run_until_stopped_with_ready(shutdown, || {}).await
    }

    /// As [`Responder::run_until_stopped`], calling `ready` once every consumer is registered
    /// (the daemon's `/health` says serving from then on, not before).
    pub async fn run_until_stopped_with_ready(
        self,
        shutdown: impl std::future::Future<Output = ()>,
        ready: impl FnOnce(),
    ) -> Result<(), ResponderError> {
        let queue = Queue::BodySolicitations(self.handler.body.clone());
        let mut consumers = Vec::with_capacity(self.consumers);
        for _ in 0..self.consumers {
            match self.bus.consume(queue.clone(), Arc::clone(&self.handler) as Arc<dyn Handler>).await {
                Ok(consumer) => consumers.push(consumer),
                Err(error) => {
                    for consumer in consumers {
                        consumer.stop().await;
                    }
                    return Err(error.into());
                }
            }
        }
        // The observatory's notices (why it refused one of this body's responses) go to the log.
        match self
            .bus
            .consume(Queue::BodyNotices(self.handler.body.clone()), Arc::new(passerelle_bus::NoticeLogger))
            .await
        {
            Ok(consumer) => consumers.push(consumer),
            Err(error) => {
                for consumer in consumers {
                    consumer.stop().await;
                }
                return Err(error.into());
            }
        }
        tracing::info!(
            body = %self.handler.body,
            held = self.handler.held.len(),
            consumers = self.consumers,
            "responder consuming solicitations"
        );
        ready();
        shutdown.await;
        tracing::info!(body = %self.handler.body, "responder stopping: finishing the chunks in flight");
        for consumer in consumers {
            consumer.stop().await;
        }
        Ok(())
    }
}

/// The handler of one solicitation chunk (module docs).
struct SolicitationHandler {
    body: String,
    held: Vec<Category>,
    source: Arc<dyn DataSource>,
    bus: Arc<dyn Bus>,
    /// Where each chunk answered is recorded before its response is published.
    accesses: Accesses,
    clock: Arc<dyn Clock>,
    stats: Arc<ResponderStats>,
}

impl std::fmt::Debug for SolicitationHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SolicitationHandler")
            .field("body", &self.body)
            .field("held", &self.held)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Handler for SolicitationHandler {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        let Message::Solicitation(solicitation) = delivery.message else {
            return self
                .refuse(NoticeReason::WrongType, format!("a {:?} on a solicitation queue", delivery.message.kind()));
        };
        let span = tracing::info_span!(
            "solicitation",
            case_id = %Shown::id(&solicitation.case_id),
            solicitation_id = %Shown::id(&solicitation.solicitation_id),
            observatory = %Shown::id(&solicitation.sender),
            chunk = solicitation.chunk_index,
            chunks = solicitation.chunk_count,
            reminder = solicitation.reminder,
            redelivered = delivery.redelivered,
        );
        self.answer(solicitation).instrument(span).await
    }
}

impl SolicitationHandler {
    fn refuse(&self, code: NoticeReason, reason: String) -> Verdict {
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(reason = %Shown::text(&reason).at_most(REASON_CHARS), "solicitation refused");
        Verdict::dead_letter(code, reason)
    }

    async fn answer(&self, solicitation: v1::Solicitation) -> Verdict {
        if solicitation.body != self.body {
            return self.refuse(
                NoticeReason::NotPermitted,
                format!("addressed to body `{}`, this responder is `{}`", Shown::id(&solicitation.body), self.body),
            );
        }
        let Some(respond_by) = solicitation.respond_by.as_ref().and_then(answer::system_time) else {
            return self.refuse(NoticeReason::Invalid, "no valid respond_by".to_owned());
        };
        // The case id names the chunk in the access log, which holds identifiers only.
        if !is_identifier(&solicitation.case_id) {
            return self.refuse(NoticeReason::Invalid, "its case id is not an identifier".to_owned());
        }
        let plan: Plan = answer::plan(&solicitation.wanted, &self.held);
        let subjects: Vec<Subject> = solicitation.persons.iter().map(Subject::from).collect();
        let found = match self.source.lookup(&subjects, &plan.answerable).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "data source unavailable: the chunk will be retried");
                return Verdict::RetryLater(error.to_string());
            }
        };
        let generation = found.generation.clone();
        let response = answer::build_response(&self.body, &solicitation, &plan, found);
        let persons = response.answers.len() as u64;
        let found_count = response.answers.iter().filter(|a| a.status == PersonStatus::Found as i32).count() as u64;
        let declined = response.declined.len();
        let now = self.clock.now();
        let expires_at = answer::response_expiry(respond_by, now);
        let outgoing = Outgoing::new(Message::Response(response), solicitation.sender.clone(), expires_at);
        if let Err(error) = self.record_export(now, &solicitation.case_id).await {
            tracing::warn!(error = %error, "cannot write the access log: the chunk will be retried");
            return Verdict::RetryLater(error);
        }
        // A development hook (never armed in production): a crash here leaves the chunk unacked,
        // so the broker delivers it again and it is answered again.
        passerelle_hooks::fault_point("responder.after_answer_before_publish");
        match self.bus.publish(vec![outgoing]).await {
            Ok(()) => {
                self.stats.chunks.fetch_add(1, Ordering::Relaxed);
                self.stats.persons.fetch_add(persons, Ordering::Relaxed);
                self.stats.found.fetch_add(found_count, Ordering::Relaxed);
                tracing::info!(
                    persons,
                    found = found_count,
                    declined,
                    extract = generation.as_deref(),
                    "chunk answered"
                );
                Verdict::Ack
            }
            Err(BusError::Expired { .. }) => {
                tracing::warn!("the response's deadline has passed: not sent, the solicitation is acknowledged");
                Verdict::Ack
            }
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "cannot publish the response: the chunk will be retried");
                Verdict::RetryLater(error.to_string())
            }
        }
    }
}

impl SolicitationHandler {
    /// Records the chunk of `case_id` answered (`export` by `daemon:responder`), durably, off
    /// the async workers (the write syncs the file); the error comes with its causes, on one line.
    async fn record_export(&self, at: std::time::SystemTime, case_id: &str) -> Result<(), String> {
        let (accesses, case_id) = (self.accesses.clone(), case_id.to_owned());
        let written =
            tokio::task::spawn_blocking(move || accesses.record_machine(at, DAEMON, AccessKind::Export, &case_id))
                .await;
        match written {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(error_chain(&e)),
            Err(e) => Err(format!("the access log write stopped: {e}")),
        }
    }
}

/// An error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
