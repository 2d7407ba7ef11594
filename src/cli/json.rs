//! The `--json` outputs' contract: every object carries a `format`, `passerelle.<output>/<n>`,
//! documented in docs/JSON.md (a test checks every format is there). Within a version keys
//! are only added; removing or changing the meaning of one makes the next version.

use serde::Serialize;

/// `ctl status --json`: one object.
pub const CTL_STATUS: &str = "passerelle.ctl-status/1";
/// `ctl status --json` on a social service's settings: one object, its transfers and queues.
pub const CTL_STATUS_SOCIAL_SERVICE: &str = "passerelle.ctl-status-social-service/1";
/// `social-service transfer|transfers … --json`: one object, the daemon's answer.
#[cfg(test)]
const SOCIAL_SERVICE_TRANSFERS: &str = passerelle_social_service::service::transfer_views::TRANSFERS_FORMAT;
/// `stats --json`: one object, the aggregate tables.
pub const STATS: &str = "passerelle.stats/1";
/// `stats --pseudonym P --json`: one object, one person's appearances.
pub const STATS_PSEUDONYM: &str = "passerelle.stats-pseudonym/2";
/// `rights open --json`: one object, the daemon's answer (an opposition's refusal included).
pub const RIGHTS_OPENED: &str = "passerelle.rights-opened/1";
/// `rights list --json`: one object per request, a line each (no personal datum).
pub const RIGHTS_REQUEST: &str = "passerelle.rights-request/1";
/// `rights show --json`: one object (indented), the consolidated answer.
pub const RIGHTS_ANSWER: &str = "passerelle.rights-answer/1";
/// `audit show --json`: one object per entry, a line each.
pub const AUDIT_ENTRY: &str = "passerelle.audit-entry/1";
/// `access-log show --json`: one object per entry, a line each.
pub const ACCESS_LOG_ENTRY: &str = "passerelle.access-log-entry/1";
/// `access-log verify --json`: one object, the report.
pub const ACCESS_LOG_VERIFY: &str = "passerelle.access-log-verify/1";
/// `requester status --json`: one object per case, a line each.
pub const REQUESTER_CASE: &str = "passerelle.requester-case/1";
/// `requester person --json`: one object, the person's row of a case's contact list.
pub const REQUESTER_PERSON: &str = "passerelle.requester-person/1";
/// `requester purge --json`: one object.
pub const REQUESTER_PURGE: &str = "passerelle.requester-purge/1";
/// `social-service worklist --json`: one object, a page of the requester's contact lists.
pub const SOCIAL_SERVICE_WORKLIST: &str = passerelle_social_service::service::views::WORKLIST_OUTPUT_FORMAT;
/// `social-service open|offer-outcome --json`: one object.
#[cfg(test)]
const SOCIAL_SERVICE_OUTCOME: &str = passerelle_social_service::service::views::OFFER_OUTCOME_FORMAT;
/// `social-service list --json`: one object, a page of the office's files.
#[cfg(test)]
const SOCIAL_SERVICE_FILES: &str = passerelle_social_service::service::views::FILES_FORMAT;
/// `social-service show --json`: one object, the file.
#[cfg(test)]
const SOCIAL_SERVICE_FILE: &str = passerelle_social_service::service::views::FILE_FORMAT;
/// `social-service update|action|close|contact|offer|rights rectify --json`: one object.
#[cfg(test)]
const SOCIAL_SERVICE_CHANGED: &str = passerelle_social_service::service::views::CHANGED_FORMAT;
/// `social-service rights access --json`: one object (indented), everything held.
#[cfg(test)]
const SOCIAL_SERVICE_RIGHTS_ACCESS: &str = passerelle_social_service::service::views::RIGHTS_ACCESS_FORMAT;
/// `social-service rights object|refuse-archive --json`: one object.
#[cfg(test)]
const SOCIAL_SERVICE_RIGHT: &str = passerelle_social_service::service::views::RIGHT_FORMAT;
/// `social-service archive grant|sign|revoke --json`: one object, the grant.
#[cfg(test)]
const SOCIAL_SERVICE_ARCHIVE_GRANT: &str = passerelle_social_service::service::archive_views::ARCHIVE_GRANT_FORMAT;
/// `social-service archive grants --json`: one object, every grant.
#[cfg(test)]
const SOCIAL_SERVICE_ARCHIVE_GRANTS: &str = passerelle_social_service::service::archive_views::ARCHIVE_GRANTS_FORMAT;
/// `social-service archive list --json`: one object, a page of the archive.
#[cfg(test)]
const SOCIAL_SERVICE_ARCHIVE_FILES: &str = passerelle_social_service::service::archive_views::ARCHIVE_FILES_FORMAT;
/// `social-service archive show --json`: one object, an archived file read for a purpose.
#[cfg(test)]
const SOCIAL_SERVICE_ARCHIVE_FILE: &str = passerelle_social_service::service::archive_views::ARCHIVE_FILE_FORMAT;
/// `social-service retention run --json`: one object, the pass's report.
#[cfg(test)]
const SOCIAL_SERVICE_RETENTION: &str = passerelle_social_service::service::retention::RETENTION_FORMAT;
/// `social-service retention flagged --json`: one object, the office's flagged and due files.
#[cfg(test)]
const SOCIAL_SERVICE_RETENTION_FLAGGED: &str = passerelle_social_service::service::retention_flagged::FLAGGED_FORMAT;
/// `demo --json`: one object, the summary.
pub const DEMO: &str = "passerelle.demo/1";
/// `bench --json`: one object, the last line on stdout (keys: `bench/json_keys.txt`).
pub const BENCH: &str = "passerelle.bench/1";
/// `requester check --json`, `requester submit --json`, `responder load --json`: one object per
/// problem, a line each, then the summary (written by `passerelle_selection::ReportWriter`).
#[cfg(test)]
const REPORT: &str = passerelle_selection::REPORT_FORMAT;

/// Every format, for the documentation's test.
#[cfg(test)]
const ALL: &[&str] = &[
    CTL_STATUS,
    CTL_STATUS_SOCIAL_SERVICE,
    SOCIAL_SERVICE_TRANSFERS,
    STATS,
    STATS_PSEUDONYM,
    RIGHTS_OPENED,
    RIGHTS_REQUEST,
    RIGHTS_ANSWER,
    AUDIT_ENTRY,
    ACCESS_LOG_ENTRY,
    ACCESS_LOG_VERIFY,
    REQUESTER_CASE,
    REQUESTER_PERSON,
    REQUESTER_PURGE,
    SOCIAL_SERVICE_WORKLIST,
    SOCIAL_SERVICE_OUTCOME,
    SOCIAL_SERVICE_FILES,
    SOCIAL_SERVICE_FILE,
    SOCIAL_SERVICE_CHANGED,
    SOCIAL_SERVICE_RIGHTS_ACCESS,
    SOCIAL_SERVICE_RIGHT,
    SOCIAL_SERVICE_ARCHIVE_GRANT,
    SOCIAL_SERVICE_ARCHIVE_GRANTS,
    SOCIAL_SERVICE_ARCHIVE_FILES,
    SOCIAL_SERVICE_ARCHIVE_FILE,
    SOCIAL_SERVICE_RETENTION,
    SOCIAL_SERVICE_RETENTION_FLAGGED,
    DEMO,
    BENCH,
    REPORT,
];

/// An output object with its `format` first, then its own keys.
#[derive(Debug, Serialize)]
pub struct Versioned<'a, T: Serialize> {
    pub format: &'static str,
    #[serde(flatten)]
    pub body: &'a T,
}

/// `body` as one line of JSON, its `format` first.
pub fn line<T: Serialize>(format: &'static str, body: &T) -> serde_json::Result<String> {
    serde_json::to_string(&Versioned { format, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_is_documented_in_docs_json_md() {
        let docs = include_str!("../../docs/JSON.md");
        for format in ALL {
            assert!(docs.contains(&format!("`{format}`")), "docs/JSON.md does not document `{format}`");
            let (name, version) = format.split_once('/').expect("name/version");
            assert!(name.starts_with("passerelle.") && version.parse::<u32>().is_ok(), "{format}");
        }
    }

    #[test]
    fn the_format_comes_first() {
        #[derive(Serialize)]
        struct Body {
            cases: u32,
        }
        assert_eq!(line(CTL_STATUS, &Body { cases: 2 }).unwrap(), r#"{"format":"passerelle.ctl-status/1","cases":2}"#);
    }
}
