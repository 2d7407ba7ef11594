//! Read-only queries for the anonymisation of the steering statistics (`crate::steering`):
//! the files by pages of their id, each with only what the statistics count — office, state,
//! dates, sex, birth date, risks, actions' dates, offers' kinds and attendance. Memory holds
//! one page, whatever the store's size; each page is one read transaction.

use std::time::SystemTime;

use passerelle_social_file::v1;
use passerelle_sqlite::params;
use prost::Message;

use super::{FileState, Store, StoreError};

/// The part of an encoded `v1::SocialFile` the statistics read: identity (I.2 sex, I.3 birth
/// date) and risk (I.12). Decoding skips every other category.
#[derive(Clone, PartialEq, Message)]
struct CountedPart {
    #[prost(message, optional, tag = "1")]
    identity: Option<v1::SocialIdentity>,
    #[prost(message, optional, tag = "9")]
    risk: Option<v1::RiskConcerned>,
}

/// What the statistics count of one file. No NIR, no name, no file id leaves this module.
#[derive(Debug, Clone, PartialEq)]
pub struct CountedFile {
    pub office: String,
    pub state: FileState,
    pub opened_at: SystemTime,
    pub last_activity_at: SystemTime,
    /// `v1::Sex`, if recorded.
    pub sex: Option<i32>,
    pub birth_date: Option<v1::Date>,
    /// `v1::Risk` values (I.12).
    pub risks: Vec<i32>,
    /// Each action's start and end, `YYYY-MM-DD`.
    pub actions: Vec<(String, Option<String>)>,
    pub offers: Vec<CountedOffer>,
}

/// One offer the file takes part in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedOffer {
    /// `v1::OfferKind`.
    pub kind: i32,
    pub created_at: SystemTime,
    /// The person is among the attendees of at least one of its sessions.
    pub attended: bool,
}

impl Store {
    /// The page of files after the id `after`, at most `limit`, with the id of the last one
    /// (the next page's cursor; `None` after the last page).
    pub fn counted_files(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<CountedFile>, Option<String>), StoreError> {
        self.db.read(|tx| {
            let heads = tx.query_all(
                "SELECT id, office, state, opened_at, last_activity_at, file FROM files WHERE id > ?1 ORDER BY id \
                 LIMIT ?2",
                params![after.unwrap_or(""), limit as i64],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Vec<u8>>(5)?,
                    ))
                },
            )?;
            let (Some(first), Some(last)) = (heads.first(), heads.last()) else { return Ok((Vec::new(), None)) };
            let (first, last) = (first.0.clone(), last.0.clone());
            let mut actions: std::collections::HashMap<String, Vec<(String, Option<String>)>> = Default::default();
            for (file, start, end) in tx.query_all(
                "SELECT file, start, end FROM actions WHERE file >= ?1 AND file <= ?2",
                params![first, last],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?)),
            )? {
                actions.entry(file).or_default().push((start, end));
            }
            let mut offers: std::collections::HashMap<String, Vec<CountedOffer>> = Default::default();
            for (file, kind, created_at, attended) in tx.query_all(
                "SELECT p.file, o.kind, o.created_at, EXISTS (SELECT 1 FROM session_attendees s WHERE s.offer = \
                 p.offer AND s.file = p.file) FROM offer_participants p JOIN offers o ON o.id = p.offer \
                 WHERE p.file >= ?1 AND p.file <= ?2",
                params![first, last],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i32>(1)?, r.get::<_, i64>(2)?, r.get::<_, bool>(3)?)),
            )? {
                let created_at = passerelle_sqlite::time::from_ms(created_at);
                offers.entry(file).or_default().push(CountedOffer { kind, created_at, attended });
            }
            let mut files = Vec::with_capacity(heads.len());
            for (id, office, state, opened_at, last_activity_at, bytes) in heads {
                let part = CountedPart::decode(bytes.as_slice()).map_err(|_| StoreError::Corrupt(id.clone()))?;
                let identity = part.identity.unwrap_or_default();
                files.push(CountedFile {
                    office,
                    state: FileState::parse(&state),
                    opened_at: passerelle_sqlite::time::from_ms(opened_at),
                    last_activity_at: passerelle_sqlite::time::from_ms(last_activity_at),
                    sex: identity.sex,
                    birth_date: identity.birth_date,
                    risks: part.risk.map(|r| r.risks).unwrap_or_default(),
                    actions: actions.remove(&id).unwrap_or_default(),
                    offers: offers.remove(&id).unwrap_or_default(),
                });
            }
            Ok((files, Some(last)))
        })
    }
}
