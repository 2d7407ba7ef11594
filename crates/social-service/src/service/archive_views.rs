//! The archive's answers and requests as JSON (docs/JSON.md): a grant, the grants, a page of
//! archived files, one archived file read for a purpose.

use passerelle_social_archive::Grant;
pub use passerelle_social_archive::{Purpose, SignerRole};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::views::ActionView;
use crate::store::rfc3339;

pub const ARCHIVE_GRANT_FORMAT: &str = "passerelle.social-service-archive-grant/1";
pub const ARCHIVE_GRANTS_FORMAT: &str = "passerelle.social-service-archive-grants/1";
pub const ARCHIVE_FILES_FORMAT: &str = "passerelle.social-service-archive-files/1";
pub const ARCHIVE_FILE_FORMAT: &str = "passerelle.social-service-archive-file/1";

pub(crate) fn time(at: std::time::SystemTime) -> String {
    rfc3339(passerelle_sqlite::time::to_ms(at))
}

/// `POST /v1/archive/grants`: the reader to habilitate, the grant's last day (12 months at
/// most; 12 months by default), and which role the caller signs as when it holds both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRequest {
    pub reader: String,
    /// `YYYY-MM-DD`, the last day the grant is valid (in the body's legal time zone).
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default, rename = "as")]
    pub as_role: Option<SignerRole>,
}

/// `POST /v1/archive/grants/{id}/sign` and `…/revoke`: which role the caller acts as when it
/// holds both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignRequest {
    #[serde(default, rename = "as")]
    pub as_role: Option<SignerRole>,
}

/// One signature of a grant: who, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureView {
    pub agent: String,
    pub signed_at: String,
}

/// A grant, with where it stands now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    pub format: String,
    pub grant: String,
    pub reader: String,
    /// `awaiting-director-delegate`, `awaiting-medical-officer`, `valid`, `expired`, `revoked`.
    pub state: String,
    pub created_at: String,
    /// The end of its validity (the end of its last day in the body's legal time zone).
    pub until: String,
    pub director_delegate: Option<SignatureView>,
    pub medical_officer: Option<SignatureView>,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
}

impl GrantView {
    pub(crate) fn of(g: &Grant, now: std::time::SystemTime) -> GrantView {
        let signature = |s: &Option<(String, std::time::SystemTime)>| {
            s.as_ref().map(|(agent, at)| SignatureView { agent: agent.clone(), signed_at: time(*at) })
        };
        GrantView {
            format: ARCHIVE_GRANT_FORMAT.to_owned(),
            grant: g.id.clone(),
            reader: g.reader.clone(),
            state: g.state(now).as_str().to_owned(),
            created_at: time(g.created_at),
            until: time(g.until),
            director_delegate: signature(&g.director),
            medical_officer: signature(&g.medical),
            revoked_at: g.revoked_at.map(time),
            revoked_by: g.revoked_by.clone(),
        }
    }
}

/// Every grant, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantList {
    pub format: String,
    pub grants: Vec<GrantView>,
}

/// An archived file's line: no content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedLine {
    pub file: String,
    pub office: String,
    pub entered_at: String,
    pub delete_at: String,
}

/// A page of the archive, listed for a purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveList {
    pub format: String,
    pub purpose: Purpose,
    pub files: Vec<ArchivedLine>,
    /// The cursor of the next page (`?after=`); none after the last.
    pub next: Option<String>,
}

/// One archived file, read for a purpose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchivedFileView {
    pub format: String,
    pub file: String,
    pub office: String,
    pub purpose: Purpose,
    pub opened_at: String,
    pub entered_at: String,
    pub delete_at: String,
    /// The day its 18 months in the live store started (`YYYY-MM-DD`).
    pub retention_start: String,
    /// The file's fields present, by catalogue path (`passerelle_social_file::file_json`).
    pub fields: Map<String, Value>,
    /// Its actions and contacts (the offers' ids stayed behind).
    pub actions: Vec<ActionView>,
}
