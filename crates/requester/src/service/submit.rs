//! Submitting a selection: read and validate it, store the persons, split them into one case
//! per competent observatory, and send each case in confirmed chunks.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Duration;

use indicatif::ProgressBar;
use passerelle_access_log::{daemon_actor, AccessKind};
use passerelle_bus::{Message, Outgoing, SCHEMA_VERSION};
use passerelle_protocol::commune::CommuneTable;
use passerelle_protocol::offered_service;
use passerelle_protocol::rules::{MAX_RESPOND_BY, OBSERVATORY_RETENTION_CAP};
use passerelle_protocol::v1::{self, Category, OfferedService};
use passerelle_protocol::value;
use passerelle_selection::{
    Checked, Column, Encoding, IdentityColumn, Person, Rejection, SelectionReader, SelectionRules, UnusableFile,
};
use uuid::Uuid;

use super::{Requester, RequesterError};
use crate::store::{CaseState, NewPerson, Store, SubmissionRecord};

/// The longest purpose, the service in words (art. 3: "le service qu'il souhaite proposer"): a
/// short title such as "Atelier prévention des chutes", not a letter. It travels to the
/// observatory only.
pub const MAX_SERVICE_CHARS: usize = 200;

/// Request chunks handed to the bus in one `publish` call: enough to keep the confirm window
/// busy, few enough that the progress bar moves smoothly.
const PUBLISH_BATCH: usize = 8;

/// What to submit.
#[derive(Debug, Clone)]
pub struct SubmitRequest {
    pub selection: PathBuf,
    pub encoding: Encoding,
    pub wanted: Vec<Category>,
    /// The service offered (art. 3), a code of the closed list (`--service`); `UNSPECIFIED` is
    /// refused.
    pub service: OfferedService,
    /// The service in words (`--purpose`); empty: the code's French label. Required for `other`.
    pub purpose: String,
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
impl Requester {
    // ----- submit -----

    /// Reads and validates the selection (each rejected record goes to `on_rejection`), stores
    /// the valid persons with their names and contact details, and splits them into one case
    /// per competent observatory. Nothing is sent yet. The whole file is read in one store
    /// transaction, so with `strict`, when no record is valid, or when the file turns out
    /// unusable anywhere (an encoding wrong for the file, found on its last line), nothing is
    /// stored — and so nothing can be sent.
    pub fn prepare(
        &self,
        request: &SubmitRequest,
        on_rejection: &mut dyn FnMut(&Rejection),
    ) -> Result<Submitted, RequesterError> {
        let file = std::fs::File::open(&request.selection)
            .map_err(|source| RequesterError::Open { path: request.selection.clone(), source })?;
        self.prepare_from(request, file, on_rejection)
    }

    /// [`Requester::prepare`] on a selection read from `input` (a file an agent streamed to the
    /// daemon); `request.selection` only names it in messages.
    pub fn prepare_from(
        &self,
        request: &SubmitRequest,
        input: impl std::io::Read,
        on_rejection: &mut dyn FnMut(&Rejection),
    ) -> Result<Submitted, RequesterError> {
        self.prepare_as(&daemon_actor(super::DAEMON), request, input, on_rejection)
    }

    /// [`Requester::prepare_from`] on behalf of `actor` (`agent:<id>` for a submission through
    /// the API): each case made is a `create` of `actor` in the access log, written before the
    /// store's transaction commits (an access log that cannot be written stores nothing).
    pub fn prepare_as(
        &self,
        actor: &str,
        request: &SubmitRequest,
        input: impl std::io::Read,
        on_rejection: &mut dyn FnMut(&Rejection),
    ) -> Result<Submitted, RequesterError> {
        let s = &self.inner.settings;
        if request.wanted.is_empty() {
            return Err(RequesterError::Usage("--want names no category: ask for at least one".into()));
        }
        let Some(offered) = offered_service::info(request.service) else {
            return Err(RequesterError::Usage(format!(
                "--service names the service offered (art. 3), one of {}",
                offered_service::codes().join(", ")
            )));
        };
        let service = match request.purpose.trim() {
            "" if request.service == OfferedService::Other => {
                return Err(RequesterError::Usage(
                    "--service other needs --purpose: say in a few words which service is offered".into(),
                ))
            }
            "" => offered.label,
            purpose => purpose,
        };
        if service.chars().count() > MAX_SERVICE_CHARS {
            return Err(RequesterError::Usage(format!(
                "--purpose must be a short text (at most {MAX_SERVICE_CHARS} characters) naming the service offered"
            )));
        }
        if request.respond_by > MAX_RESPOND_BY {
            return Err(RequesterError::Usage(format!(
                "--respond-by is at most {} days: the observatory must return the result well within its 30-day cap",
                MAX_RESPOND_BY.as_secs() / 86_400
            )));
        }
        let now = self.now();
        // Ages and the twelve months of hospital stays are counted on the day of submission, in
        // the body's legal time zone; known risk factors must be the requester's branch's.
        let today = s.trails.time_zone.date_of(now);
        let rules = SelectionRules::on(today, CommuneTable::official(), &self.inner.territories).for_branch(&s.body);
        let mut reader = SelectionReader::new(BufReader::new(input), request.encoding, rules)
            .map_err(|source| RequesterError::Unusable { path: request.selection.clone(), source })?;
        let columns: Vec<Column> = reader.columns().to_vec();
        let submission = SubmissionRecord {
            id: Uuid::now_v7(),
            submitted_at: now,
            purge_after: now + s.retention(),
            respond_by: now + request.respond_by,
            service: service.to_owned(),
            offered_service: request.service as i32,
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
                // A file found unusable midway (the wrong encoding, a record that never ends)
                // fails the whole transaction: nothing stored, nothing sent.
                let verdict = verdict.map_err(|e| match e {
                    UnusableFile::Io(e) => RequesterError::Read(e),
                    source => RequesterError::Unusable { path: request.selection.clone(), source },
                })?;
                match verdict {
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
            let ids: Vec<Uuid> = cases.values().map(|(id, _)| *id).collect();
            self.record_cases(actor, AccessKind::Create, &ids)?;
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
                    service: submission.offered_service,
                    schema_minor: passerelle_protocol::SCHEMA_MINOR,
                    basis: s.basis().unwrap_or(passerelle_protocol::legal::FRAGILITY_EXCHANGE) as i32,
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
