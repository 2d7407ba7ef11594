//! What the archive holds and gives back: a file as it entered, a record as a reader receives
//! it, a list's line; and their codecs (the file and each action as encoded protobuf, the
//! retention start as `YYYY-MM-DD`).

use std::time::SystemTime;

use passerelle_social_file::v1;
use prost::Message;

use crate::{ArchiveError, Result};

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
    /// [`crate::Archive::erase`], so that an objection upheld while the file is archived can
    /// keep the person from new offers without the daemon reading the archive.
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

/// An action as it is archived: its offers' ids left behind (they lead to other persons' files).
pub(crate) fn encode_action(action: &v1::Action) -> Vec<u8> {
    v1::Action { offer_ids: Vec::new(), ..action.clone() }.encode_to_vec()
}

pub(crate) fn decode_action(id: &str, bytes: &[u8]) -> Result<v1::Action> {
    v1::Action::decode(bytes).map_err(|_| ArchiveError::Corrupt(id.to_owned()))
}

pub(crate) fn decode_file(id: &str, bytes: &[u8]) -> Result<v1::SocialFile> {
    v1::SocialFile::decode(bytes).map_err(|_| ArchiveError::Corrupt(id.to_owned()))
}

pub(crate) fn date_text(d: &v1::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

pub(crate) fn parse_date(id: &str, text: &str) -> Result<v1::Date> {
    let corrupt = || ArchiveError::Corrupt(id.to_owned());
    let mut parts = text.splitn(3, '-').map(|p| p.parse::<u32>().map_err(|_| corrupt()));
    let (Some(year), Some(month), Some(day)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(corrupt());
    };
    Ok(v1::Date { year: year?, month: month?, day: day? })
}

pub(crate) fn person(id: &str, bytes: Vec<u8>) -> Result<[u8; 32]> {
    bytes.try_into().map_err(|_| ArchiveError::Corrupt(id.to_owned()))
}
