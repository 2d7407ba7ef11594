//! The archive at the daemon (norm 43, DESIGN §7.2): the grants a `director-delegate` and a
//! `medical-officer` sign for an `archive-reader`, and that reader's reads, each naming a
//! purpose from the norm's list. The archive checks the grant and records the read in its own
//! store ([`passerelle_social_archive`]); this module writes the access log's entry before the
//! answer — a `read` about the person for a file read, a `read` of `archive:<purpose>` for a
//! list, a `refused` for an attempt without a valid grant or a purpose.
//!
//! The access log's objects: `archive:<file>:<purpose>` and `archive:<purpose>` for reads,
//! `archive:<file>` and `archive` for an attempt without a purpose, `archive-grant:<id>` for a
//! grant's proposal, signature and revocation, `archive-grants` for their list.

use passerelle_access_log::AccessKind;
use passerelle_protocol::value::parse_date;
use passerelle_social_archive::{ArchiveError, Purpose, Signer};
use passerelle_social_file::file_json;
use uuid::Uuid;

use super::archive_views::*;
use super::views::ActionView;
use super::{Result, SocialService, SocialServiceError, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};

fn refused(message: impl Into<String>) -> SocialServiceError {
    SocialServiceError::Refused(message.into())
}

/// An archived file's id as an access log's object part: the UUID, or a placeholder for what
/// cannot be one (the log takes identifiers only, and the caller's text is not repeated).
fn file_part(id: &str) -> String {
    Uuid::try_parse(id).map(|u| u.to_string()).unwrap_or_else(|_| "not-a-file-id".to_owned())
}

/// An agent id as a registry writes one (1 to 64 letters, digits, `-`, `_`, `.`).
fn is_agent_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl SocialService {
    /// The end of a grant whose last day is `until` (default: 12 months from today), checked:
    /// not before today, not beyond 12 months. The end is the start of the next day in the
    /// body's legal time zone.
    fn grant_end(&self, until: Option<&str>) -> Result<std::time::SystemTime> {
        use chrono::{NaiveDate, TimeZone};
        let today = self.today();
        let today = NaiveDate::from_ymd_opt(today.year as i32, today.month, today.day)
            .ok_or_else(|| refused("today is not a date"))?;
        let months = passerelle_social_archive::grant::MAX_MONTHS;
        let latest = today.checked_add_months(chrono::Months::new(months)).unwrap_or(today);
        let last_day = match until {
            None => latest,
            Some(text) => {
                let d = parse_date(text).ok_or_else(|| refused("until: the grant's last day is a date YYYY-MM-DD"))?;
                NaiveDate::from_ymd_opt(d.year as i32, d.month, d.day)
                    .ok_or_else(|| refused("until: the grant's last day is a date YYYY-MM-DD"))?
            }
        };
        if last_day < today {
            return Err(refused(format!("until: the grant's last day is before today ({today})")));
        }
        if last_day > latest {
            return Err(refused(format!(
                "until: a grant lasts {months} months at most: its last day is {latest} or earlier"
            )));
        }
        let next = last_day.succ_opt().unwrap_or(last_day).and_hms_opt(0, 0, 0).unwrap_or_default();
        let zone = self.settings().trails.time_zone.zone();
        let end = zone.from_local_datetime(&next).earliest().map(|t| t.with_timezone(&chrono::Utc));
        let end = end.ok_or_else(|| refused("until: the day after the grant's last day has no midnight here"))?;
        Ok(end.into())
    }

    /// A grant proposed by its first signer for `reader` (an `archive-reader`'s agent id).
    pub fn archive_propose(&self, signer: &Signer, reader: &str, until: Option<&str>) -> Result<GrantView> {
        if !is_agent_id(reader) {
            return Err(refused("reader: an agent id of the registry (letters, digits, `-`, `_`, `.`)"));
        }
        let end = self.grant_end(until)?;
        let now = self.now();
        let grant = self.archive().propose_grant(reader, signer, now, end).map_err(SocialServiceError::Archive)?;
        self.record(&[self.entry(&signer.agent, AccessKind::Create, &format!("archive-grant:{}", grant.id), None)])?;
        Ok(GrantView::of(&grant, now))
    }

    /// The second signature of a grant (the other role, another agent).
    pub fn archive_sign(&self, signer: &Signer, grant: &str) -> Result<GrantView> {
        let now = self.now();
        let grant = self.archive().sign_grant(grant, signer, now).map_err(SocialServiceError::Archive)?;
        self.record(&[self.entry(&signer.agent, AccessKind::Update, &format!("archive-grant:{}", grant.id), None)])?;
        Ok(GrantView::of(&grant, now))
    }

    /// Revokes a grant: its reader's reads are refused from now.
    pub fn archive_revoke(&self, signer: &Signer, grant: &str) -> Result<GrantView> {
        let now = self.now();
        let grant = self.archive().revoke_grant(grant, signer, now).map_err(SocialServiceError::Archive)?;
        self.record(&[self.entry(&signer.agent, AccessKind::Update, &format!("archive-grant:{}", grant.id), None)])?;
        Ok(GrantView::of(&grant, now))
    }

    /// Every grant, newest first, with where each stands now.
    pub fn archive_grants(&self, agent: &str) -> Result<GrantList> {
        self.record(&[self.entry(agent, AccessKind::Read, "archive-grants", None)])?;
        let now = self.now();
        let grants = self.archive().grants().map_err(SocialServiceError::Archive)?;
        Ok(GrantList {
            format: ARCHIVE_GRANTS_FORMAT.to_owned(),
            grants: grants.iter().map(|g| GrantView::of(g, now)).collect(),
        })
    }

    /// The purpose a read names, or the refusal naming the norm's list (recorded as `refused`
    /// of `object`).
    fn archive_purpose(&self, agent: &str, purpose: Option<&str>, object: &str) -> Result<Purpose> {
        let parsed = match purpose.map(str::trim).filter(|p| !p.is_empty()) {
            None => Err(format!(
                "purpose: a read of the archive names its purpose, one of the norm's list: {}",
                Purpose::names()
            )),
            Some(text) => text.parse::<Purpose>().map_err(|why| format!("purpose: {why}")),
        };
        match parsed {
            Ok(purpose) => Ok(purpose),
            Err(why) => {
                self.record(&[self.entry(agent, AccessKind::Refused, object, None)])?;
                Err(refused(why))
            }
        }
    }

    /// The access log's `refused` for a read the archive did not answer (no valid grant, or a
    /// damaged or failing store: the attempt is recorded whatever stopped it), then the error.
    fn archive_refusal<T>(&self, agent: &str, object: &str, e: ArchiveError) -> Result<T> {
        self.record(&[self.entry(agent, AccessKind::Refused, object, None)])?;
        Err(SocialServiceError::Archive(e))
    }

    /// The access log's `refused` for an attempt to read whose request the API could not parse
    /// (a malformed query): of `archive:<file>` for a file, of `archive` for a list.
    pub fn archive_malformed(&self, agent: &str, file: Option<&str>) -> Result<()> {
        let object = file.map_or_else(|| "archive".to_owned(), |id| format!("archive:{}", file_part(id)));
        self.record(&[self.entry(agent, AccessKind::Refused, &object, None)])
    }

    /// A page of the archive (by file id, after `after`) for `agent`'s purpose, under its grant:
    /// recorded by the archive and as a `read` of `archive:<purpose>` in the access log.
    pub fn archive_list(
        &self,
        agent: &str,
        purpose: Option<&str>,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<ArchiveList> {
        let purpose = self.archive_purpose(agent, purpose, "archive")?;
        let object = format!("archive:{purpose}");
        let limit = limit.unwrap_or(DEFAULT_LIST_LIMIT).clamp(1, MAX_LIST_LIMIT);
        let page = match self.archive().list(agent, purpose, after, limit + 1, self.now()) {
            Ok(page) => page,
            Err(e) => return self.archive_refusal(agent, &object, e),
        };
        self.record(&[self.entry(agent, AccessKind::Read, &object, None)])?;
        let more = page.len() > limit;
        let files: Vec<ArchivedLine> = page
            .into_iter()
            .take(limit)
            .map(|s| ArchivedLine {
                file: s.id,
                office: s.office,
                entered_at: time(s.entered_at),
                delete_at: time(s.delete_at),
            })
            .collect();
        let next = if more { files.last().map(|f| f.file.clone()) } else { None };
        Ok(ArchiveList { format: ARCHIVE_FILES_FORMAT.to_owned(), purpose, files, next })
    }

    /// One archived file for `agent`'s purpose, under its grant: recorded by the archive and
    /// as a `read` of `archive:<file>:<purpose>` about the person in the access log.
    pub fn archive_read(&self, agent: &str, id: &str, purpose: Option<&str>) -> Result<ArchivedFileView> {
        let file = file_part(id);
        let purpose = self.archive_purpose(agent, purpose, &format!("archive:{file}"))?;
        let object = format!("archive:{file}:{purpose}");
        let record = match self.archive().read(agent, id, purpose, self.now()) {
            Ok(record) => record,
            Err(e @ ArchiveError::NoFile(_)) => {
                self.record(&[self.entry(agent, AccessKind::Read, &object, None)])?;
                return Err(SocialServiceError::Archive(e));
            }
            Err(e) => return self.archive_refusal(agent, &object, e),
        };
        let archived = &record.archived;
        self.record(&[self.entry(agent, AccessKind::Read, &object, Some(&archived.file))])?;
        Ok(ArchivedFileView {
            format: ARCHIVE_FILE_FORMAT.to_owned(),
            file: archived.id.clone(),
            office: archived.office.clone(),
            purpose,
            opened_at: time(archived.opened_at),
            entered_at: time(record.entered_at),
            delete_at: time(record.delete_at),
            retention_start: Self::date_text(&archived.retention_start),
            fields: file_json(&archived.file),
            actions: archived.actions.iter().map(ActionView::from).collect(),
        })
    }
}
