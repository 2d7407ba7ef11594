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

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use indicatif::ProgressBar;
use passerelle_bus::{Bus, BusError, Consumer, Delivery, Handler, Message, Outgoing, Queue, Verdict, SCHEMA_VERSION};
use passerelle_protocol::commune::CommuneTable;
use passerelle_protocol::rules::{Clock, MAX_RESPOND_BY, OBSERVATORY_RETENTION_CAP};
use passerelle_protocol::territory::Territories;
use passerelle_protocol::v1::{self, Category};
use passerelle_protocol::value;
use passerelle_selection::{
    Checked, Column, Encoding, IdentityColumn, Person, Rejection, SelectionReader, SelectionRules, UnusableFile,
};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::export::{self, ExportError, OutputPaths, Summary, Written};
use crate::ranking::Scorer;
use crate::settings::{RequesterSettings, SettingsError};
use crate::store::{CaseRecord, CaseState, NewPerson, Store, StoreError, Stored, SubmissionRecord};

/// The longest service text (art. 3: "le service qu'il souhaite proposer"): a short title such
/// as "Atelier prévention des chutes", not a letter. It travels to the observatory only.
pub const MAX_SERVICE_CHARS: usize = 200;

/// Request chunks handed to the bus in one `publish` call: enough to keep the confirm window
/// busy, few enough that the progress bar moves smoothly.
const PUBLISH_BATCH: usize = 8;

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
    #[error("case {case} has no result yet (it is {state})")]
    NotSettled { case: Uuid, state: CaseState },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// What to submit.
#[derive(Debug, Clone)]
pub struct SubmitRequest {
    pub selection: PathBuf,
    pub encoding: Encoding,
    /// The year ages are computed in (`--year`, default the clock's current year).
    pub reference_year: Option<u32>,
    pub wanted: Vec<Category>,
    /// The service offered (art. 3).
    pub service: String,
    pub respond_by: Duration,
    /// Where the result goes (`--out`); default `out_dir/<submission id>.{csv,jsonl}`.
    pub out: Option<PathBuf>,
    /// Refuse the whole file when any record is rejected.
    pub strict: bool,
}

/// A submission stored (and, after [`Requester::send`], sent).
#[derive(Debug, Clone)]
pub struct Submitted {
    pub submission: Uuid,
    /// One case per competent observatory, with its observatory code and person count.
    pub cases: Vec<(Uuid, String, u64)>,
    /// The selection's counts (data records, valid, rejected).
    pub selection: passerelle_selection::Summary,
}

impl Submitted {
    pub fn case_ids(&self) -> Vec<Uuid> {
        self.cases.iter().map(|(id, _, _)| *id).collect()
    }
}

struct Inner {
    settings: RequesterSettings,
    store: Store,
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

impl Requester {
    /// Validates the settings and opens the store. Does not touch the broker.
    pub fn build(
        settings: RequesterSettings,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
    ) -> Result<Requester, RequesterError> {
        settings.validate()?;
        let territories = settings.territories()?;
        if settings.retention_clamped() {
            tracing::warn!(
                configured_days = settings.retention_days,
                "retention_days is above the 24 months of decree art. 5: lowered to 730"
            );
        }
        let store = Store::open(&settings.data_dir)?;
        let scorer = Scorer::new(&settings.ranking);
        Ok(Requester {
            inner: Arc::new(Inner {
                settings,
                store,
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

    fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    // ----- submit -----

    /// Reads and validates the selection (each rejected record goes to `on_rejection`), stores
    /// the valid persons with their names and contact details, and splits them into one case
    /// per competent observatory. Nothing is sent yet. With `strict`, or when no record is
    /// valid, nothing is stored.
    pub fn prepare(
        &self,
        request: &SubmitRequest,
        on_rejection: &mut dyn FnMut(&Rejection),
    ) -> Result<Submitted, RequesterError> {
        let s = &self.inner.settings;
        if request.wanted.is_empty() {
            return Err(RequesterError::Usage("--want names no category: ask for at least one".into()));
        }
        let service = request.service.trim();
        if service.is_empty() || service.chars().count() > MAX_SERVICE_CHARS {
            return Err(RequesterError::Usage(format!(
                "--service must be a short text (1 to {MAX_SERVICE_CHARS} characters) naming the service offered"
            )));
        }
        if request.respond_by > MAX_RESPOND_BY {
            return Err(RequesterError::Usage(format!(
                "--respond-by is at most {} days: the observatory must return the result well within its 30-day cap",
                MAX_RESPOND_BY.as_secs() / 86_400
            )));
        }
        let now = self.now();
        let reference_year = request.reference_year.unwrap_or_else(|| year_of(now));
        let file = std::fs::File::open(&request.selection)
            .map_err(|source| RequesterError::Open { path: request.selection.clone(), source })?;
        let rules = SelectionRules::new(reference_year, CommuneTable::official(), &self.inner.territories);
        let mut reader = SelectionReader::new(BufReader::new(file), request.encoding, rules)
            .map_err(|source| RequesterError::Unusable { path: request.selection.clone(), source })?;
        let columns: Vec<Column> = reader.columns().to_vec();
        let submission = SubmissionRecord {
            id: Uuid::now_v7(),
            submitted_at: now,
            purge_after: now + s.retention(),
            respond_by: now + request.respond_by,
            service: service.to_owned(),
            wanted: request.wanted.clone(),
            columns: columns.iter().map(|c| c.code().to_owned()).collect(),
            separator: reader.separator().as_byte(),
            encoding: reader.encoding().name().to_owned(),
            out_path: request.out.clone(),
            lines: 0,
            rejected: 0,
            written_at: None,
            purged_at: None,
        };
        let chunk_size = s.chunk_size;
        let (cases, summary) = self.inner.store.write(|tx| {
            Store::insert_submission(tx, &submission)?;
            // observatory → (case id, persons)
            let mut cases: BTreeMap<String, (Uuid, u64)> = BTreeMap::new();
            for verdict in &mut reader {
                match verdict.map_err(RequesterError::Read)? {
                    Checked::Valid(person) => {
                        let entry = match cases.get_mut(&person.observatory) {
                            Some(e) => e,
                            None => {
                                let id = Uuid::now_v7();
                                Store::insert_case(tx, id, submission.id, &person.observatory, now)?;
                                cases.entry(person.observatory.clone()).or_insert((id, 0))
                            }
                        };
                        entry.1 += 1;
                        Store::insert_person(tx, entry.0, &stored_person(&person, &columns))?;
                    }
                    Checked::Rejected(rejection) => on_rejection(&rejection),
                }
            }
            let summary = reader.summary();
            if request.strict && summary.rejected > 0 {
                return Err(RequesterError::Strict { rejected: summary.rejected });
            }
            if summary.valid == 0 {
                return Err(RequesterError::NothingValid { rejected: summary.rejected });
            }
            // A case for an observatory the deployment has no queue for could never be sent:
            // say so before anything leaves, rather than after the first cases went.
            let unreachable: Vec<String> = cases
                .iter()
                .filter(|(obs, _)| !s.broker.observatories.contains(obs))
                .map(|(obs, (_, n))| format!("{n} person(s) for {obs}"))
                .collect();
            if !unreachable.is_empty() {
                return Err(RequesterError::Usage(format!(
                    "the selection has {}, which this deployment does not reach (broker.observatories = [{}]): add \
                     the observatory to the settings or remove these persons; nothing was sent",
                    unreachable.join(", "),
                    s.broker.observatories.join(", ")
                )));
            }
            for (id, persons) in cases.values() {
                Store::set_case_counts(tx, *id, *persons, persons.div_ceil(chunk_size as u64) as u32)?;
            }
            Store::set_submission_counts(tx, submission.id, summary.lines, summary.rejected)?;
            Ok((cases, summary))
        })?;
        let cases = cases.into_iter().map(|(obs, (id, n))| (id, obs, n)).collect();
        Ok(Submitted { submission: submission.id, cases, selection: summary })
    }

    /// Sends every chunk of the given cases (each confirmed by the broker), advancing
    /// `progress` by persons sent. A case whose every chunk is confirmed becomes `sent`.
    pub async fn send(&self, cases: &[Uuid], progress: &ProgressBar) -> Result<(), RequesterError> {
        let s = &self.inner.settings;
        for &case_id in cases {
            let case =
                self.inner.store.case(case_id)?.ok_or_else(|| RequesterError::UnknownCase(case_id.to_string()))?;
            if case.state != CaseState::Prepared {
                continue;
            }
            let submission = self.submission_of(&case)?;
            let expires_at = self.now() + OBSERVATORY_RETENTION_CAP;
            let respond_by = prost_types::Timestamp::from(submission.respond_by);
            let mut batch = Vec::with_capacity(PUBLISH_BATCH);
            let mut batch_persons = 0u64;
            let mut after_line = 0;
            for index in 0..case.request_chunks {
                let (persons, last) = self.inner.store.request_persons(case_id, after_line, s.chunk_size)?;
                after_line = last;
                batch_persons += persons.len() as u64;
                let request = v1::Request {
                    schema_version: SCHEMA_VERSION,
                    sender: s.body.clone(),
                    requester_office: s.office.clone(),
                    case_id: case_id.to_string(),
                    observatory: case.observatory.clone(),
                    purpose: submission.service.clone(),
                    legal_basis: s.legal_basis.clone(),
                    wanted: submission.wanted.iter().map(|&c| c as i32).collect(),
                    respond_by: Some(respond_by),
                    chunk_index: index,
                    chunk_count: case.request_chunks,
                    persons,
                };
                batch.push(Outgoing::new(Message::Request(request), case.observatory.clone(), expires_at));
                if batch.len() == PUBLISH_BATCH || index + 1 == case.request_chunks {
                    self.inner.bus.publish(std::mem::take(&mut batch)).await?;
                    progress.inc(batch_persons);
                    batch_persons = 0;
                }
            }
            self.inner.store.mark_sent(case_id, self.now())?;
            tracing::info!(case_id = %case_id, observatory = %case.observatory, persons = case.persons, chunks = case.request_chunks, "case sent");
        }
        Ok(())
    }

    /// [`Requester::prepare`] then [`Requester::send`].
    pub async fn submit(
        &self,
        request: &SubmitRequest,
        on_rejection: &mut dyn FnMut(&Rejection),
        progress: &ProgressBar,
    ) -> Result<Submitted, RequesterError> {
        let submitted = self.prepare(request, on_rejection)?;
        progress.set_length(submitted.selection.valid);
        self.send(&submitted.case_ids(), progress).await?;
        Ok(submitted)
    }

    // ----- receiving -----

    /// Starts consuming this branch's results queue (results and refusals). Stop the returned
    /// consumer when done.
    pub async fn listen(&self) -> Result<Consumer, RequesterError> {
        let handler = Arc::new(ResultHandler { requester: self.clone() });
        Ok(self.inner.bus.consume(Queue::BodyResults(self.inner.settings.body.clone()), handler).await?)
    }

    /// Waits until every given case is answered or refused (or `deadline` passes, by the
    /// clock), showing progress: the bar's position is the number of settled cases. Needs a
    /// running [`Requester::listen`] (here or in a daemon sharing the store). Returns the cases
    /// as they stand.
    pub async fn wait_for_results(
        &self,
        cases: &[Uuid],
        progress: &ProgressBar,
        deadline: Option<SystemTime>,
    ) -> Result<Vec<CaseRecord>, RequesterError> {
        progress.set_length(cases.len() as u64);
        loop {
            let notified = self.inner.changed.notified();
            let records = cases
                .iter()
                .map(|id| self.inner.store.case(*id)?.ok_or_else(|| RequesterError::UnknownCase(id.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            let settled = records.iter().filter(|c| c.state.is_settled()).count();
            let chunks: u32 = records.iter().map(|c| c.result_chunks_received).sum();
            progress.set_position(settled as u64);
            progress.set_message(format!("case(s) settled, {chunks} result chunk(s) received"));
            if settled == records.len() || deadline.is_some_and(|d| self.now() >= d) {
                return Ok(records);
            }
            // Woken by our own handler, or polling for another process's writes.
            let _ = tokio::time::timeout(STORE_POLL_INTERVAL, notified).await;
        }
    }

    /// The latest time `submit` should wait until for these cases: their respond-by plus
    /// [`WAIT_GRACE`].
    pub fn wait_deadline(&self, submission: Uuid) -> Result<SystemTime, RequesterError> {
        let s = self
            .inner
            .store
            .submission(submission)?
            .ok_or_else(|| RequesterError::UnknownCase(submission.to_string()))?;
        Ok(s.respond_by + WAIT_GRACE)
    }

    async fn on_result(&self, result: v1::Result) -> Verdict {
        if let Some(v) = self.check_sender(&result.case_id, &result.sender) {
            return v;
        }
        let stored = self.inner.store.store_result(&result, self.now());
        self.after_store(&result.case_id, "result", stored).await
    }

    async fn on_refusal(&self, refusal: v1::Refusal) -> Verdict {
        if let Some(v) = self.check_sender(&refusal.case_id, &refusal.sender) {
            return v;
        }
        tracing::warn!(
            case_id = %refusal.case_id,
            whole_case = refusal.whole_case,
            refused_persons = refusal.persons.len(),
            "the observatory refused (part of) a case; `passerelle requester status` shows the reasons"
        );
        let stored = self.inner.store.store_refusal(&refusal, self.now());
        self.after_store(&refusal.case_id, "refusal", stored).await
    }

    /// A result or refusal must come from the observatory the case was sent to.
    fn check_sender(&self, case_id: &str, sender: &str) -> Option<Verdict> {
        let id = Uuid::parse_str(case_id).ok()?;
        match self.inner.store.case(id) {
            Ok(Some(case)) if case.observatory != sender => Some(Verdict::DeadLetter(format!(
                "case {case_id} was sent to observatory {}, not {sender}",
                case.observatory
            ))),
            Ok(_) => None,
            Err(e) => Some(Verdict::RetryLater(e.to_string())),
        }
    }

    async fn after_store(&self, case_id: &str, what: &str, stored: Result<Stored, StoreError>) -> Verdict {
        match stored {
            Ok(Stored::New { settled, unmatched }) => {
                if unmatched > 0 {
                    tracing::warn!(case_id, unmatched, "{what} names persons this case does not have: ignored");
                }
                self.inner.changed.notify_waiters();
                if settled {
                    if let Ok(id) = Uuid::parse_str(case_id) {
                        if let Err(e) = self.send_receipt(id).await {
                            // The daemon retries pending receipts; the data is safely stored.
                            tracing::warn!(case_id, error = %e, "receipt not sent yet; it will be retried");
                        }
                    }
                }
                Verdict::Ack
            }
            Ok(Stored::Duplicate) => Verdict::Ack,
            Ok(Stored::PurgedCase) => {
                tracing::info!(case_id, "{what} for a purged case: dropped");
                Verdict::Ack
            }
            Ok(Stored::UnknownCase) => Verdict::DeadLetter(format!(
                "{what} for case {case_id}, unknown to this requester's store (one requester store per branch)"
            )),
            Err(StoreError::Corrupt(reason)) => Verdict::DeadLetter(reason),
            Err(e) => Verdict::RetryLater(e.to_string()),
        }
    }

    /// Sends the receipt of an answered case (once its whole result is stored), so the
    /// observatory purges its copy (decree art. 5). A case whose 30-day cap has passed needs
    /// none: the observatory purged it already.
    pub async fn send_receipt(&self, case_id: Uuid) -> Result<(), RequesterError> {
        let _one_at_a_time = self.inner.receipts.lock().await;
        let case = self.inner.store.case(case_id)?.ok_or_else(|| RequesterError::UnknownCase(case_id.to_string()))?;
        if case.state != CaseState::Answered || case.receipt_sent_at.is_some() {
            return Ok(());
        }
        let now = self.now();
        let expires_at = case.sent_at.unwrap_or(case.submitted_at) + OBSERVATORY_RETENTION_CAP;
        if expires_at <= now {
            tracing::info!(case_id = %case_id, "receipt not needed: the observatory's 30-day cap has passed");
            self.inner.store.mark_receipt_sent(case_id, now)?;
            return Ok(());
        }
        let receipt = v1::Receipt {
            schema_version: SCHEMA_VERSION,
            sender: self.inner.settings.body.clone(),
            case_id: case_id.to_string(),
            chunks_received: case.result_chunks_received,
        };
        self.inner
            .bus
            .publish(vec![Outgoing::new(Message::Receipt(receipt), case.observatory.clone(), expires_at)])
            .await?;
        self.inner.store.mark_receipt_sent(case_id, self.now())?;
        tracing::info!(case_id = %case_id, chunks = case.result_chunks_received, "receipt sent");
        Ok(())
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
    /// result files; the store's files are scrubbed. Returns the purged submission ids.
    pub fn purge(&self) -> Result<Vec<Uuid>, RequesterError> {
        let purged = self.inner.store.purge_due(self.now())?;
        let mut ids = Vec::new();
        for (id, files) in purged {
            for f in files {
                match std::fs::remove_file(&f) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(submission = %id, file = %f.display(), error = %e, "cannot delete a purged result file")
                    }
                }
            }
            tracing::info!(submission = %id, "submission purged (retention ended)");
            ids.push(id);
        }
        Ok(ids)
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

    /// The daemon (`requester run`): listens for results and refusals, writes result files as
    /// submissions settle, sends receipts, purges at the end of retention — until `shutdown`
    /// resolves. Then stops consuming and lets in-flight deliveries finish.
    pub async fn run_until_stopped(
        &self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), RequesterError> {
        let consumer = self.listen().await?;
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
        Ok(())
    }
}

fn year_of(t: SystemTime) -> u32 {
    time::OffsetDateTime::from(t).year().max(0) as u32
}

/// What the store keeps of a valid person, the selection's cells in canonical form.
fn stored_person(p: &Person, columns: &[Column]) -> NewPerson {
    let cells = columns
        .iter()
        .map(|c| match c {
            Column::Identity(id) => match id {
                IdentityColumn::Nir => p.nir.as_str().to_owned(),
                IdentityColumn::FormerNirs => p.former_nirs.iter().map(|n| n.as_str()).collect::<Vec<_>>().join("|"),
                IdentityColumn::FamilyName => p.family_name.clone(),
                IdentityColumn::UsageName => p.usage_name.clone().unwrap_or_default(),
                IdentityColumn::GivenNames => p.given_names.clone(),
                IdentityColumn::Sex => value::sex_code(p.sex).to_owned(),
                IdentityColumn::BirthYear => p.birth_year.to_string(),
                IdentityColumn::CommuneCode => p.commune_code.clone(),
                IdentityColumn::PostalAddress => p.postal_address.clone().unwrap_or_default(),
                IdentityColumn::Email => p.email.clone().unwrap_or_default(),
                IdentityColumn::Phone => p.phone.clone().unwrap_or_default(),
            },
            Column::Category(cat) => p.known.get(*cat).map(|v| value::format(&v)).unwrap_or_default(),
        })
        .collect();
    NewPerson {
        line: p.line,
        nir: p.nir.as_str().to_owned(),
        former_nirs: p.former_nirs.iter().map(|n| n.as_str().to_owned()).collect(),
        sex: p.sex as i32,
        birth_year: p.birth_year,
        commune_code: p.commune_code.clone(),
        known: p.known.clone(),
        cells,
    }
}

/// The consumer of the branch's results queue.
struct ResultHandler {
    requester: Requester,
}

#[async_trait::async_trait]
impl Handler for ResultHandler {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        match delivery.message {
            Message::Result(r) => self.requester.on_result(r).await,
            Message::Refusal(r) => self.requester.on_refusal(r).await,
            other => Verdict::DeadLetter(format!(
                "a requester's results queue takes results and refusals, not {}",
                other.kind()
            )),
        }
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
