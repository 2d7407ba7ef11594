//! The social service: its store, its access log, and the requester office it reads the
//! worklist from. Every operation takes the acting agent's id (the API checked its roles) and
//! records its access to personal data in the access log **before** it answers — a read per
//! file (the person as the log's keyed hash), a create when a file opens, an update per change,
//! an export for a rights access. An entry that cannot be written fails the call.
//!
//! Errors name files by id and fields by path, never a value.

mod archive;
pub mod archive_views;
mod files;
pub mod housekeeping;
pub mod opposition;
pub mod overview;
pub mod retention;
pub mod retention_flagged;
mod rights;
pub mod steering;
mod transfer_amend;
mod transfer_consumer;
mod transfer_list;
mod transfer_outbox;
mod transfer_receipts;
mod transfer_receive;
mod transfer_send;
mod transfer_set_aside;
pub mod transfer_views;
pub mod transfers;
pub mod views;

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use passerelle_access_log::{agent_actor, AccessEntry, AccessKind, AccessLogError, Accesses, PersonKey, PersonRef};
use passerelle_local_api::ClientError;
use passerelle_protocol::nir::Nir;
use passerelle_protocol::rules::Clock;
use passerelle_protocol::value::{format_date, parse_date};
use passerelle_social_archive::Archive;
use passerelle_social_file::v1::{self, SocialFile};
use passerelle_social_file::UpdateError;

use crate::requester_client::RequesterClient;
use crate::settings::{SettingsError, SocialServiceSettings};
use crate::steering::Steering;
use crate::store::{FileRow, Store, StoreError};

/// The key of the files' person hash in `data_dir` (0600, the daemon's alone): a second
/// acceptance for the same person finds the file without a NIR in clear outside it.
pub const FILE_PERSON_KEY: &str = "file-person.key";

/// Largest page of a file list.
pub const MAX_LIST_LIMIT: usize = 1000;
/// Default page of a file list.
pub const DEFAULT_LIST_LIMIT: usize = 100;
/// The longest objection reasons kept (characters): a few paragraphs the person wrote.
pub const MAX_REASONS_CHARS: usize = 2000;

/// Why an operation failed. Messages name files by id and fields by path, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SocialServiceError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("archive: {0}")]
    Archive(passerelle_social_archive::ArchiveError),
    #[error("access log: {0}")]
    AccessLog(#[from] AccessLogError),
    /// No such file in this office (the same answer whether it exists elsewhere or not).
    #[error("no case file {0} in this office: `social-service list` shows the office's files")]
    NoFile(String),
    #[error(transparent)]
    Update(#[from] UpdateError),
    /// A request that breaks a rule (a date, a code, a state), said in words.
    #[error("{0}")]
    Refused(String),
    /// The requester daemon refused or failed the call.
    #[error("the requester daemon: {0}")]
    Requester(#[from] ClientError),
    /// The steering statistics' counts do not make a table (`steering.db` damaged).
    #[error("steering statistics: {0}")]
    Stats(passerelle_social_stats::TableError),
}

impl From<passerelle_social_archive::ArchiveError> for SocialServiceError {
    fn from(e: passerelle_social_archive::ArchiveError) -> Self {
        SocialServiceError::Archive(e)
    }
}

impl From<passerelle_sqlite::Error> for SocialServiceError {
    fn from(e: passerelle_sqlite::Error) -> Self {
        SocialServiceError::Store(StoreError::Db(e))
    }
}

pub(crate) type Result<T> = std::result::Result<T, SocialServiceError>;

struct Inner {
    settings: SocialServiceSettings,
    store: Store,
    accesses: Accesses,
    file_key: PersonKey,
    requester: RequesterClient,
    archive: Archive,
    steering: Steering,
    clock: Arc<dyn Clock>,
    /// Held through a round of housekeeping: the hourly round and an operator's run one at a time.
    rounds: std::sync::Mutex<()>,
    /// The transfers' outbox wake-up and membership source.
    transfers: transfers::TransferState,
}

/// The social service. Cheap to clone (shared state).
#[derive(Clone)]
pub struct SocialService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SocialService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocialService")
            .field("body", &self.inner.settings.body)
            .field("office", &self.inner.settings.office)
            .finish_non_exhaustive()
    }
}

impl SocialService {
    /// Validates the settings, opens the store, the access log and the files' person key in
    /// `data_dir`. Connects to nothing (the requester is called per request).
    pub fn build(settings: SocialServiceSettings, clock: Arc<dyn Clock>) -> Result<SocialService> {
        let membership = match &settings.transfers.membership {
            Some(source) => Some(Arc::from(
                crate::membership::open(source)
                    .map_err(|e| SocialServiceError::Refused(format!("[transfers.membership]: {e}")))?,
            )),
            None => None,
        };
        Self::build_with_membership(settings, clock, membership)
    }

    /// [`SocialService::build`] with the membership source given (`None`: a social worker
    /// confirms each received transfer) instead of opened from `[transfers.membership]`: the
    /// tests' and the demo's.
    pub fn build_with_membership(
        settings: SocialServiceSettings,
        clock: Arc<dyn Clock>,
        membership: Option<Arc<dyn crate::membership::Membership>>,
    ) -> Result<SocialService> {
        settings.validate()?;
        passerelle_sqlite::private::create_folder(&settings.data_dir)
            .map_err(|source| passerelle_sqlite::Error::Io { path: settings.data_dir.clone(), source })?;
        let store = Store::open(&settings.data_dir)?;
        let accesses = Accesses::open_in(&settings.data_dir, settings.trails.time_zone)?;
        let file_key = PersonKey::load_or_create(&settings.data_dir.join(FILE_PERSON_KEY))?;
        let requester = RequesterClient::new(&settings.requester.socket);
        let archive = Archive::open(&settings.archive_dir()).map_err(SocialServiceError::Archive)?;
        let steering = Steering::open(&settings.data_dir)?;
        let inner = Inner {
            settings,
            store,
            accesses,
            file_key,
            requester,
            archive,
            steering,
            clock,
            rounds: Default::default(),
            transfers: transfers::TransferState::new(membership),
        };
        Ok(SocialService { inner: Arc::new(inner) })
    }

    pub fn settings(&self) -> &SocialServiceSettings {
        &self.inner.settings
    }

    /// The social service's office.
    pub fn office(&self) -> &str {
        &self.inner.settings.office
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The daemon's access log and its person key.
    pub fn accesses(&self) -> &Accesses {
        &self.inner.accesses
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.settings.data_dir
    }

    /// The archive (a separate store): the retention pass admits and erases files there; only
    /// an archive reader's read, under a co-signed grant, takes content out.
    pub fn archive(&self) -> &Archive {
        &self.inner.archive
    }

    /// `steering.db`: the steering statistics' counts, anonymised beforehand.
    pub fn steering(&self) -> &Steering {
        &self.inner.steering
    }

    /// Held through a round of housekeeping ([`SocialService::housekeeping`]).
    pub(crate) fn rounds(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner.rounds.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn requester(&self) -> &RequesterClient {
        &self.inner.requester
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// Today in the body's legal time zone (`[trails] time_zone`), as the requester dates
    /// its outcomes: a date entered near midnight is the day the person lived it.
    pub(crate) fn today(&self) -> v1::Date {
        use chrono::Datelike;
        let zone = self.inner.settings.trails.time_zone.zone();
        let d = chrono::DateTime::<chrono::Utc>::from(self.now()).with_timezone(&zone).date_naive();
        v1::Date { year: d.year() as u32, month: d.month(), day: d.day() }
    }

    /// A date of a request, or today; a date after today is refused, naming `what`: an action's
    /// end, a contact, a session or an outcome dated in the future would stretch the 18 months
    /// a file is kept after its last activity.
    pub(crate) fn date_or_today(&self, text: Option<&str>, what: &str) -> Result<v1::Date> {
        let today = self.today();
        let Some(text) = text else { return Ok(today) };
        let date = parse_date(text)
            .ok_or_else(|| SocialServiceError::Refused(format!("the {what} is not a date YYYY-MM-DD")))?;
        if (date.year, date.month, date.day) > (today.year, today.month, today.day) {
            return Err(SocialServiceError::Refused(format!(
                "the {what} is after today ({}, in the body's legal time zone): give the day it happened",
                format_date(&today)
            )));
        }
        Ok(date)
    }

    pub(crate) fn date_text(d: &v1::Date) -> String {
        format_date(d)
    }

    /// The files' keyed hash of a NIR.
    pub(crate) fn file_person(&self, nir: &Nir) -> [u8; 32] {
        *self.inner.file_key.person(nir).as_bytes()
    }

    /// The access log's keyed hash of the file's person, if the file has a valid NIR.
    pub(crate) fn log_person(&self, file: &SocialFile) -> Option<PersonRef> {
        let nir = file.identity.as_ref()?.nir.as_deref()?;
        Nir::parse(nir).ok().map(|nir| self.inner.accesses.person(&nir))
    }

    /// The entry of `agent` doing `kind` to `object` now, about the file's person if any.
    pub(crate) fn entry(&self, agent: &str, kind: AccessKind, object: &str, file: Option<&SocialFile>) -> AccessEntry {
        let entry = AccessEntry::new(self.now(), agent_actor(agent), kind, object);
        match file.and_then(|f| self.log_person(f)) {
            Some(person) => entry.about(person),
            None => entry,
        }
    }

    pub(crate) fn record(&self, entries: &[AccessEntry]) -> Result<()> {
        Ok(self.inner.accesses.record_all(entries)?)
    }

    /// A file of this office, or [`SocialServiceError::NoFile`].
    pub(crate) fn file_row(&self, id: &str) -> Result<FileRow> {
        self.office_row(id, self.inner.store.file(id)?)
    }

    /// The file read for `id` if it is of this office, or [`SocialServiceError::NoFile`].
    pub(crate) fn office_row(&self, id: &str, row: Option<FileRow>) -> Result<FileRow> {
        match row {
            Some(row) if row.office == self.inner.settings.office => Ok(row),
            _ => Err(SocialServiceError::NoFile(shown_id(id))),
        }
    }

    /// An open file of this office, not frozen by a transfer.
    pub(crate) fn open_row(&self, id: &str) -> Result<FileRow> {
        let row = self.file_row(id)?;
        self.not_frozen(&row.id)?;
        if row.state != crate::store::FileState::Open {
            return Err(SocialServiceError::Refused(format!(
                "case file {id} is closed: its actions ended; it can be read and rectified, not followed"
            )));
        }
        Ok(row)
    }
}

impl SocialService {
    /// Refuses a change to a file a transfer froze (sent, or accepted by the new body): no new
    /// action, contact, offer or update; rectifications and the rights still apply.
    pub(crate) fn not_frozen(&self, id: &str) -> Result<()> {
        match self.inner.store.frozen_by(id)? {
            Some(transfer) => Err(SocialServiceError::Refused(format!(
                "case file {id} is frozen by its transfer {transfer} to another body (norm 43, A.3): no new action, \
                 contact, offer or update here; a rectification and the person's rights still apply"
            ))),
            None => Ok(()),
        }
    }
}

/// A file id as the caller typed it, bounded and cleaned: it is echoed in a refusal.
pub(crate) fn shown_id(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect()
}
