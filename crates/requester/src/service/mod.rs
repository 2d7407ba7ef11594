//! The requester adapter as a service: submit a selection (validate, store, group by
//! observatory, send in chunks), receive results and refusals (store, receipt), write the
//! ranked contact list, purge at the end of retention — and the daemon that does the receiving
//! and purging for as long as it runs.
//!
//! **Architecture invariant:** a request carries, per person, only the NIR, the former NIRs, sex,
//! birth year, residence commune and the risk factors the selection gave — never a name, an
//! address, an e-mail or a phone number (they stay in [`crate::store`]).
//!
//! **One results queue per branch.** The broker has one results queue per body code, so every
//! office of a branch that runs a requester reads the same queue. A result for a case this
//! store does not know is dead-lettered with its reason (visible to operators, never silently
//! lost), so in this version a deployment runs **one requester store per branch**: one office's
//! `run` daemon (several `submit`s may share that store). A result for a case this store purged
//! is a late copy: acknowledged and dropped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use indicatif::ProgressBar;
use passerelle_access_log::{daemon_actor, AccessEntry, AccessKind, Accesses};
use passerelle_bus::{Bus, BusError, Consumer, Handler, Outgoing, Queue};
use passerelle_protocol::rules::Clock;
use passerelle_protocol::territory::Territories;
use passerelle_selection::UnusableFile;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::export::{self, ExportError, OutputPaths, Summary, Written};
use crate::ranking::Scorer;
use crate::settings::{RequesterSettings, SettingsError};
use crate::store::{CaseRecord, CaseState, Store, StoreError, SubmissionRecord};

mod receive;
mod rights;
mod submit;
mod worklist;

pub use rights::{answer_expires_at, LATE_ANSWER_WINDOW};
pub use submit::{SubmitRequest, Submitted, MAX_SERVICE_CHARS};
pub use worklist::{ContactsPage, NewOutcome, WorklistCursor, WorklistPage};

/// How often a waiting `submit`, or the daemon, looks at the store for changes another process
/// made (a daemon and a submit share the store): short enough to feel immediate.
const STORE_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How often the daemon purges expired cases and retries pending receipts and result files.
pub const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(3600);

/// How long `submit` keeps waiting past the latest respond-by of its cases: the observatory
/// returns a (partial) result at the deadline, so this only covers transit and clock skew.
pub const WAIT_GRACE: Duration = Duration::from_secs(3600);

/// A requester failure. The CLI maps them to exit codes (usage 2, runtime 4).
#[derive(Debug, thiserror::Error)]
pub enum RequesterError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// Bad arguments (categories, service text, deadline).
    #[error("{0}")]
    Usage(String),
    #[error("cannot open the selection file {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("the selection file {path} cannot be used: {source}")]
    Unusable { path: PathBuf, source: UnusableFile },
    #[error("cannot read the selection file: {0}")]
    Read(std::io::Error),
    /// `--strict` and some records were rejected: nothing was stored or sent.
    #[error("{rejected} record(s) rejected and --strict given: nothing was sent")]
    Strict { rejected: u64 },
    /// No valid record at all: nothing was stored or sent.
    #[error("no valid record in the selection ({rejected} rejected): nothing was sent")]
    NothingValid { rejected: u64 },
    #[error("no case {0} in this requester's store")]
    UnknownCase(String),
    /// No person on that line of an answered case's contact list (unknown, refused, or purged).
    #[error("line {line} of case {case} is in no contact list of this requester (see the worklist)")]
    NotListed { case: Uuid, line: u64 },
    /// The person accepted the offer: their file exists at the social service, so this
    /// requester records no other outcome for them.
    #[error(
        "line {line} of case {case} accepted the offer on {date}: their file is now at the social service, so a \
         change (declined, no reply) goes through the social service, under the person's rights there, not \
         through a new outcome here"
    )]
    AlreadyAccepted { case: Uuid, line: u64, date: chrono::NaiveDate },
    #[error("case {case} has no result yet (it is {state})")]
    NotSettled { case: Uuid, state: CaseState },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The daemon's access log (`data_dir/access.db`) cannot be opened or written.
    #[error("cannot open the access log: {0}")]
    AccessLog(#[from] passerelle_access_log::AccessLogError),
    /// A rights request that is not to be answered (not from an observatory of the deployment,
    /// not for this party, malformed): the notice reason and why — never its NIR or values.
    #[error("rights request refused: {1}")]
    RightsRefused(passerelle_bus::NoticeReason, String),
}

/// The daemon's name in the access log: machine actions are `daemon:requester`'s.
pub const DAEMON: &str = "requester";

struct Inner {
    settings: RequesterSettings,
    store: Store,
    /// The daemon's access log (`data_dir/access.db`): one handle per process.
    accesses: Accesses,
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
    scorer: Scorer,
    territories: Territories,
    /// Woken whenever a result or refusal is stored by this process.
    changed: Notify,
    /// Serialises receipts, so the handler that completes a case and the daemon's retry of
    /// pending receipts never send the same one twice (a duplicate would be harmless: the
    /// observatory's receipt handling is idempotent; this only keeps the traffic clean).
    receipts: tokio::sync::Mutex<()>,
}

/// The requester adapter. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Requester {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Requester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Requester")
            .field("body", &self.inner.settings.body)
            .field("office", &self.inner.settings.office)
            .finish_non_exhaustive()
    }
}

/// What a purge removed: the submissions whose retention ended by `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purge {
    /// The cut-off: every submission whose retention ended by then went.
    pub at: SystemTime,
    /// The retention the settings give new submissions (each keeps the end computed when it
    /// was submitted).
    pub retention_days: u32,
    pub submissions: Vec<crate::store::PurgedSubmission>,
}

impl Requester {
    /// Validates the settings and opens the store. Does not touch the broker.
    pub fn build(
        settings: RequesterSettings,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
    ) -> Result<Requester, RequesterError> {
        settings.validate()?;
        let territories = settings.territories()?;
        let store = Store::open(&settings.data_dir)?;
        let accesses = Accesses::open_in(&settings.data_dir, settings.trails.time_zone)?;
        let scorer = Scorer::new(&settings.ranking);
        Ok(Requester {
            inner: Arc::new(Inner {
                settings,
                store,
                accesses,
                bus,
                clock,
                scorer,
                territories,
                changed: Notify::new(),
                receipts: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// A requester without a broker, for the commands that only read or purge the store
    /// (`status`, `fetch`, `purge`): anything that would publish or consume fails with
    /// [`BusError::Closed`].
    pub fn offline(settings: RequesterSettings, clock: Arc<dyn Clock>) -> Result<Requester, RequesterError> {
        Requester::build(settings, Arc::new(OfflineBus), clock)
    }

    pub fn settings(&self) -> &RequesterSettings {
        &self.inner.settings
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The daemon's access log and person key (every access to personal data is recorded
    /// there; the API's refusals too).
    pub fn accesses(&self) -> &Accesses {
        &self.inner.accesses
    }

    /// The access entry of `actor` doing `kind` to `object`, now (by the requester's clock).
    pub fn access_entry(&self, actor: &str, kind: AccessKind, object: &str) -> AccessEntry {
        AccessEntry::new(self.now(), actor, kind, object)
    }

    /// The access entries of `actor` doing `kind` to each of `cases`, now.
    pub fn case_entries(&self, actor: &str, kind: AccessKind, cases: &[Uuid]) -> Vec<AccessEntry> {
        cases.iter().map(|case| self.access_entry(actor, kind, &case.to_string())).collect()
    }

    /// Records `kind` by `actor` on each of `cases`, in one transaction of the access log.
    fn record_cases(&self, actor: &str, kind: AccessKind, cases: &[Uuid]) -> Result<(), StoreError> {
        Ok(self.inner.accesses.record_all(&self.case_entries(actor, kind, cases))?)
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    // ----- results -----

    fn submission_of(&self, case: &CaseRecord) -> Result<SubmissionRecord, RequesterError> {
        self.inner
            .store
            .submission(case.submission_id)?
            .ok_or_else(|| RequesterError::Store(StoreError::Corrupt(format!("case {} has no submission", case.id))))
    }

    /// Where a submission's result goes: its `--out`, or `out_dir/<submission id>`.
    pub fn output_paths(&self, submission: &SubmissionRecord) -> OutputPaths {
        match &submission.out_path {
            Some(out) => OutputPaths::for_out(out),
            None => OutputPaths::in_dir(&self.inner.settings.out_dir, &submission.id.to_string()),
        }
    }

    /// Writes a submission's consolidated, ranked result (every case of it) and its summary.
    pub fn write_result(&self, submission: Uuid) -> Result<(Written, Summary), RequesterError> {
        let record = self
            .inner
            .store
            .submission(submission)?
            .ok_or_else(|| RequesterError::UnknownCase(submission.to_string()))?;
        let cases = self.inner.store.cases_of(submission)?;
        let paths = self.output_paths(&record);
        self.write_cases(&record, &cases, &paths)
    }

    /// Writes one case's result again (`requester fetch`): to `out`, or `out_dir/<case id>`.
    pub fn write_case(&self, case_id: Uuid, out: Option<&Path>) -> Result<(Written, Summary), RequesterError> {
        let case = self.inner.store.case(case_id)?.ok_or_else(|| RequesterError::UnknownCase(case_id.to_string()))?;
        if !matches!(case.state, CaseState::Answered | CaseState::Refused) {
            return Err(RequesterError::NotSettled { case: case_id, state: case.state });
        }
        let record = self.submission_of(&case)?;
        let paths = match out {
            Some(out) => OutputPaths::for_out(out),
            None => OutputPaths::in_dir(&self.inner.settings.out_dir, &case_id.to_string()),
        };
        self.write_cases(&record, std::slice::from_ref(&case), &paths)
    }

    fn write_cases(
        &self,
        record: &SubmissionRecord,
        cases: &[CaseRecord],
        paths: &OutputPaths,
    ) -> Result<(Written, Summary), RequesterError> {
        let written = export::write_result(&self.inner.store, &self.inner.scorer, record, cases, paths)?;
        // The files hold names and contacts: the purge deletes them with the case.
        // A single case written again (`fetch`) is not the submission's consolidated result.
        let whole = cases.len() == self.inner.store.cases_of(record.id)?.len();
        self.inner.store.mark_written(record.id, &written.files, self.now(), whole)?;
        let summary = Summary::build(&self.inner.store, record, cases, written.persons, paths)?;
        Ok((written, summary))
    }

    /// Where the person `nir` stands in a settled case's contact list (`requester person`).
    pub fn person_in_case(
        &self,
        case_id: Uuid,
        nir: &passerelle_protocol::nir::Nir,
    ) -> Result<export::PersonLookup, RequesterError> {
        let case = self
            .inner
            .store
            .case(case_id)?
            .filter(|c| c.state != CaseState::Purged)
            .ok_or_else(|| RequesterError::UnknownCase(case_id.to_string()))?;
        if !matches!(case.state, CaseState::Answered | CaseState::Refused) {
            return Err(RequesterError::NotSettled { case: case_id, state: case.state });
        }
        let record = self.submission_of(&case)?;
        Ok(export::person_in_case(&self.inner.store, &self.inner.scorer, &record, &case, nir)?)
    }

    // ----- status and purge -----

    /// Every case with its submission, oldest first.
    pub fn status(&self) -> Result<Vec<(CaseRecord, SubmissionRecord)>, RequesterError> {
        let mut out = Vec::new();
        for case in self.inner.store.cases()? {
            let submission = self.submission_of(&case)?;
            out.push((case, submission));
        }
        Ok(out)
    }

    /// A case's summary (state, declines, refusals with their reasons).
    pub fn case_summary(&self, case: &CaseRecord) -> Result<export::CaseSummary, RequesterError> {
        Ok(export::CaseSummary::build(&self.inner.store, case)?)
    }

    /// Purges every submission whose retention has ended: its persons, results, refusals and
    /// result files; the store's files are scrubbed. Says what went, and the cut-off. The
    /// daemon's own purge: each case purged is recorded as a `delete` by `daemon:requester`.
    pub fn purge(&self) -> Result<Purge, RequesterError> {
        self.purge_as(&daemon_actor(DAEMON))
    }

    /// [`Requester::purge`] on behalf of `actor` (`agent:<id>` for `requester purge`): one
    /// `delete` entry per case purged, written before the purge commits (a crash between the
    /// two leaves an entry for a purge not done, never a purge without its entry). Then drops
    /// the person hashes of the access log's entries older than the retention
    /// ([`Requester::drop_person_hashes`]).
    pub fn purge_as(&self, actor: &str) -> Result<Purge, RequesterError> {
        let at = self.now();
        let record = |cases: &[Uuid]| self.record_cases(actor, AccessKind::Delete, cases);
        let purged = self.inner.store.purge_due_recorded(at, &record)?;
        let mut submissions = Vec::new();
        for submission in purged {
            let id = submission.id;
            for f in &submission.files {
                match std::fs::remove_file(f) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(submission = %id, file = %f.display(), error = %e, "cannot delete a purged result file")
                    }
                }
            }
            tracing::info!(submission = %id, "submission purged (retention ended)");
            submissions.push(submission);
        }
        self.drop_person_hashes(at)?;
        Ok(Purge { at, retention_days: self.inner.settings.retention_days, submissions })
    }

    /// Drops, from the access log, the person hashes of the entries made before `now` minus
    /// the retention (what `retention_days` gives, 24 months at most): whoever an entry
    /// concerned, the requester's cap for that person's data has passed by then (the data of a
    /// submission goes at its submission + the retention, and every access to it comes after
    /// its submission). The entries stay, and the chain still verifies.
    pub fn drop_person_hashes(&self, now: SystemTime) -> Result<u64, RequesterError> {
        let cutoff = now.checked_sub(self.inner.settings.retention()).unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(self.inner.accesses.log().drop_person_hashes_before(cutoff)?)
    }

    // ----- the daemon -----

    /// One round of the daemon's housekeeping: purge what is due, send what a crashed `submit`
    /// left unsent, retry pending receipts, write the result files of settled submissions.
    pub async fn housekeeping(&self) -> Result<(), RequesterError> {
        self.purge()?;
        let unsent: Vec<Uuid> = self.inner.store.unsent_cases()?.iter().map(|c| c.id).collect();
        if !unsent.is_empty() {
            self.send(&unsent, &ProgressBar::hidden()).await?;
        }
        self.write_pending()?;
        for case in self.inner.store.cases_awaiting_receipt()? {
            self.send_receipt(case.id).await?;
        }
        Ok(())
    }

    /// Writes the result files of every settled submission not written yet; returns them.
    pub fn write_pending(&self) -> Result<Vec<(Written, Summary)>, RequesterError> {
        let mut out = Vec::new();
        for id in self.inner.store.submissions_to_write()? {
            let (written, summary) = self.write_result(id)?;
            tracing::info!(submission = %id, persons = written.persons, refused = written.refused, "result written");
            out.push((written, summary));
        }
        Ok(out)
    }

    /// The daemon (`requester run`): listens for results and refusals (and logs the
    /// observatory's notices), answers rights requests ([`Requester::answer_rights`]), writes result files as
    /// submissions settle, sends receipts, purges at the end of retention — until `shutdown`
    /// resolves. Then stops consuming and lets in-flight deliveries finish.
    pub async fn run_until_stopped(
        &self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), RequesterError> {
        self.run_until_stopped_with_ready(shutdown, || {}).await
    }

    /// As [`Requester::run_until_stopped`], calling `ready` once its consumer is registered
    /// (the daemon's `/health` says serving from then on, not before).
    pub async fn run_until_stopped_with_ready(
        &self,
        shutdown: impl std::future::Future<Output = ()>,
        ready: impl FnOnce(),
    ) -> Result<(), RequesterError> {
        let consumer = self.listen().await?;
        // The observatory's notices (why it refused one of this branch's requests or receipts)
        // go to the log.
        let queue = self.inner.settings.role().notices_queue();
        let notices = match self.inner.bus.consume(queue, std::sync::Arc::new(passerelle_bus::NoticeLogger)).await {
            Ok(notices) => notices,
            Err(e) => {
                consumer.stop().await;
                return Err(e.into());
            }
        };
        // The persons' rights (decree art. 6): the party's rights requests, answered beside its
        // results. A party that cannot read its rights queue does not start: a person's request
        // would wait unanswered past the legal month.
        let rights = match self.listen_rights().await {
            Ok(rights) => rights,
            Err(e) => {
                consumer.stop().await;
                notices.stop().await;
                return Err(e);
            }
        };
        ready();
        tokio::pin!(shutdown);
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        // After a failed write (an out_dir gone or full), result files wait for the next
        // housekeeping round instead of failing again every poll.
        let mut writes_blocked = false;
        loop {
            let notified = self.inner.changed.notified();
            tokio::select! {
                _ = &mut shutdown => break,
                _ = housekeeping.tick() => {
                    writes_blocked = false;
                    if let Err(e) = self.housekeeping().await {
                        writes_blocked = true;
                        tracing::error!(error = %e, "housekeeping failed; retried at the next round");
                    }
                }
                _ = tokio::time::timeout(STORE_POLL_INTERVAL, notified), if !writes_blocked => {
                    if let Err(e) = self.write_pending() {
                        writes_blocked = true;
                        tracing::error!(error = %e, "cannot write a result; retried at the next housekeeping round");
                    }
                }
            }
        }
        consumer.stop().await;
        notices.stop().await;
        if let Some(rights) = rights {
            rights.stop().await;
        }
        Ok(())
    }
}

/// The bus of an offline requester: every operation fails.
#[derive(Debug)]
struct OfflineBus;

#[async_trait::async_trait]
impl Bus for OfflineBus {
    async fn publish(&self, _: Vec<Outgoing>) -> Result<(), BusError> {
        Err(BusError::Closed)
    }
    async fn consume(&self, _: Queue, _: Arc<dyn Handler>) -> Result<Consumer, BusError> {
        Err(BusError::Closed)
    }
}
