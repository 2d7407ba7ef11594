//! The social service's archive (CNIL norm 43, "DUREE DE CONSERVATION"; DESIGN §7.2): after
//! the 18 months a file is kept in the live store, and unless the person refused it, the file
//! may be kept **at most 3 years in a separate logical environment**, for evaluating the
//! service's schemes, readable only by agents habilitated **jointly** by the director and the
//! médecin-conseil, for a closed list of purposes.
//!
//! - a separate store, `archive.db`, in a folder of its own (`archive_dir`), opened by this
//!   crate only: the live store's code (`passerelle-social-service`'s `store`) has no path that
//!   reads it — the daemon gives files in ([`Archive::admit`]) and erases them by id
//!   ([`Archive::erase`]), and only [`Archive::read`] gives content out, under a grant;
//! - [`grant`]: an `archive-reader`'s grant, valid once a director's delegate and a médecin-conseil
//!   (two distinct agents) have each signed it;
//! - every read names its [`Purpose`] from the norm's list and is recorded here (the daemon
//!   writes its access-log entry);
//! - a file leaves the archive at its `delete_at` ([`Archive::erase_due`]) or at once on a
//!   refusal of the archive or an upheld objection ([`Archive::erase`]); erased means
//!   unreadable on disk (secure delete, then the base's rebuild: [`passerelle_sqlite`]).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use passerelle_social_file::v1;
use passerelle_sqlite::{Database, Migration};

/// The archive's database file in `archive_dir`.
pub const DB_FILE: &str = "archive.db";

/// Why an archive operation failed. No message carries a stored value.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Db(#[from] passerelle_sqlite::Error),
    #[error("the archived file {0} cannot be decoded: the archive is damaged")]
    Corrupt(String),
    /// The reader holds no grant signed by both a director's delegate and a médecin-conseil
    /// (or it expired, or was revoked).
    #[error("{0}")]
    NoGrant(String),
    /// A signature that breaks the co-signature rule (same agent twice, same role twice, a
    /// grant already complete), said in words.
    #[error("{0}")]
    Signature(String),
    #[error("no grant {0}: `social-service archive grants` lists them")]
    NoSuchGrant(String),
    #[error("no archived file {0}")]
    NoFile(String),
}

pub type Result<T> = std::result::Result<T, ArchiveError>;

/// The purposes the norm lists for reading the archive ("dans le cadre du pilotage, de la
/// gestion du risque, du contrôle interne, du contentieux, du recours contre tiers, de la
/// lutte contre la fraude et des activités du service médical"). Nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    Steering,
    RiskManagement,
    InternalControl,
    Litigation,
    RecourseAgainstThirdParties,
    Fraud,
    MedicalService,
}

impl Purpose {
    pub const ALL: [Purpose; 7] = [
        Purpose::Steering,
        Purpose::RiskManagement,
        Purpose::InternalControl,
        Purpose::Litigation,
        Purpose::RecourseAgainstThirdParties,
        Purpose::Fraud,
        Purpose::MedicalService,
    ];

    /// The purpose's name on the command line, in the API and in the records.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Steering => "steering",
            Purpose::RiskManagement => "risk-management",
            Purpose::InternalControl => "internal-control",
            Purpose::Litigation => "litigation",
            Purpose::RecourseAgainstThirdParties => "recourse-against-third-parties",
            Purpose::Fraud => "fraud",
            Purpose::MedicalService => "medical-service",
        }
    }

    /// The norm's words.
    pub fn label_fr(self) -> &'static str {
        match self {
            Purpose::Steering => "pilotage",
            Purpose::RiskManagement => "gestion du risque",
            Purpose::InternalControl => "contrôle interne",
            Purpose::Litigation => "contentieux",
            Purpose::RecourseAgainstThirdParties => "recours contre tiers",
            Purpose::Fraud => "lutte contre la fraude",
            Purpose::MedicalService => "activités du service médical",
        }
    }
}

impl std::str::FromStr for Purpose {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Purpose, String> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = Purpose::ALL.iter().map(|p| p.as_str()).collect();
            format!("not a purpose of the norm's list; the purposes are {}", known.join(", "))
        })
    }
}

/// Which of the two signatures a grant needs an agent gives (the API checked the agent holds
/// the matching role: `director-delegate`, `medical-officer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignerRole {
    /// The director of the body, or the agent holding the director's delegation.
    DirectorDelegate,
    /// The médecin-conseil responsible for the local level of the medical service (or the MSA's
    /// chief médecin-conseil).
    MedicalOfficer,
}

/// One signature: who signed, as which role (the API checked the role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub agent: String,
    pub role: SignerRole,
}

/// What enters the archive: the file as it was at the end of its 18 months, with its actions
/// (purposes, dates, contacts by channel and date; the offers' ids left behind: they name
/// other persons' files).
#[derive(Clone)]
pub struct ArchivedFile {
    /// The file's id in the live store (kept: an erasure names it).
    pub id: String,
    pub office: String,
    pub opened_at: SystemTime,
    /// The day the 18 months started (the end of the last action, or the last activity).
    pub retention_start: v1::Date,
    pub file: v1::SocialFile,
    pub actions: Vec<v1::Action>,
    /// The live store's keyed hash of the person's NIR (no NIR): given back by
    /// [`Archive::erase`], so that an objection upheld while the file is archived can keep the
    /// person from new offers without the daemon reading the archive.
    pub person: [u8; 32],
}

impl std::fmt::Debug for ArchivedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchivedFile").field("id", &self.id).finish_non_exhaustive()
    }
}

/// An archived file as a reader receives it, with when it entered and when it goes.
#[derive(Debug, Clone)]
pub struct ArchivedRecord {
    pub archived: ArchivedFile,
    pub entered_at: SystemTime,
    pub delete_at: SystemTime,
}

/// An archived file's line in a list: no content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedSummary {
    pub id: String,
    pub office: String,
    pub entered_at: SystemTime,
    pub delete_at: SystemTime,
}

/// A grant as stored: the reader it habilitates, its two signatures (named and dated), its
/// validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    /// The `archive-reader` agent it habilitates.
    pub reader: String,
    pub created_at: SystemTime,
    /// `(agent, signed at)` of the director's delegate, once signed.
    pub director: Option<(String, SystemTime)>,
    /// `(agent, signed at)` of the médecin-conseil, once signed.
    pub medical: Option<(String, SystemTime)>,
    /// The end of its validity (set when it is proposed).
    pub until: SystemTime,
    pub revoked_at: Option<SystemTime>,
}

impl Grant {
    /// Signed by both, by two distinct agents, not revoked, not expired at `now`.
    pub fn valid_at(&self, now: SystemTime) -> bool {
        matches!((&self.director, &self.medical), (Some((d, _)), Some((m, _))) if d != m)
            && self.revoked_at.is_none()
            && now < self.until
    }
}

/// The archive store. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Archive {
    dir: PathBuf,
    #[allow(dead_code)]
    db: Database,
}

/// The archive's schema, in order (steps are only ever appended).
const MIGRATIONS: &[Migration] = &[Migration::sql("archived files", "CREATE TABLE archived (id TEXT PRIMARY KEY)")];

impl Archive {
    /// Opens (or creates: folder 0700, `archive.db` 0600) the archive in `dir`.
    pub fn open(dir: &Path) -> Result<Archive> {
        passerelle_sqlite::private::create_folder(dir)
            .map_err(|source| passerelle_sqlite::Error::Io { path: dir.to_owned(), source })?;
        let db = Database::open(&dir.join(DB_FILE), "social-archive", MIGRATIONS)?;
        Ok(Archive { dir: dir.to_owned(), db })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Admits a file at `at`, to be erased at `delete_at`. `false` (nothing written) when a
    /// file with that id is already there: the retention pass may be replayed after a crash
    /// between the admission and the live store's deletion.
    pub fn admit(&self, file: &ArchivedFile, at: SystemTime, delete_at: SystemTime) -> Result<bool> {
        let _ = (file, at, delete_at);
        todo!()
    }

    /// Whether a file with that id is archived (no content read): where a rights request finds it.
    pub fn contains(&self, id: &str) -> Result<bool> {
        let _ = id;
        todo!()
    }

    /// Erases a file now (a refusal of the archive, an upheld objection): its person hash if it
    /// was there, `None` if not. Unreadable on disk once this returns (secure delete, rebuild).
    pub fn erase(&self, id: &str) -> Result<Option<[u8; 32]>> {
        let _ = id;
        todo!()
    }

    /// Erases every file whose `delete_at` is at or before `now` (3 years after it entered, or
    /// less if the settings say so); their ids. Unreadable on disk once this returns.
    pub fn erase_due(&self, now: SystemTime) -> Result<Vec<String>> {
        let _ = now;
        todo!()
    }

    /// How many files the archive holds.
    pub fn count(&self) -> Result<u64> {
        todo!()
    }

    /// Proposes a grant for `reader`, valid until `until`, signed by its first signer.
    pub fn propose_grant(&self, reader: &str, signer: &Signer, at: SystemTime, until: SystemTime) -> Result<Grant> {
        let _ = (reader, signer, at, until);
        todo!()
    }

    /// The second signature: refused ([`ArchiveError::Signature`]) if the same agent signed
    /// already, if that role signed already, or if the grant is complete or revoked.
    pub fn sign_grant(&self, grant: &str, signer: &Signer, at: SystemTime) -> Result<Grant> {
        let _ = (grant, signer, at);
        todo!()
    }

    /// Revokes a grant (either signer's role may): reads under it are refused from `at`.
    pub fn revoke_grant(&self, grant: &str, signer: &Signer, at: SystemTime) -> Result<Grant> {
        let _ = (grant, signer, at);
        todo!()
    }

    /// Every grant, newest first.
    pub fn grants(&self) -> Result<Vec<Grant>> {
        todo!()
    }

    /// The reader's valid grant at `now`, or [`ArchiveError::NoGrant`] saying why (none, one
    /// signature missing, expired, revoked).
    pub fn valid_grant(&self, reader: &str, now: SystemTime) -> Result<Grant> {
        let _ = (reader, now);
        todo!()
    }

    /// A page of the archived files (by id, after `after`) for a reader with a valid grant,
    /// the listing recorded with its purpose.
    pub fn list(
        &self,
        reader: &str,
        purpose: Purpose,
        after: Option<&str>,
        limit: usize,
        now: SystemTime,
    ) -> Result<Vec<ArchivedSummary>> {
        let _ = (reader, purpose, after, limit, now);
        todo!()
    }

    /// One archived file for a reader with a valid grant, the read recorded (reader, grant,
    /// file, purpose, time) in the same transaction.
    pub fn read(&self, reader: &str, id: &str, purpose: Purpose, now: SystemTime) -> Result<ArchivedRecord> {
        let _ = (reader, id, purpose, now);
        todo!()
    }
}
