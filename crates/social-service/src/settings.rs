//! The social service's settings: which body hosts it and which office it is, where it keeps
//! its case files, and which requester office's local API it reads the contact lists from.
//!
//! ```toml
//! body = "carsat-sud-est"          # the body hosting the social service (a CARSAT, the CRAMIF, a CGSS, an MSA fund)
//! office = "ss-13"                 # the social service's office: its workers see its files only
//! data_dir = "/var/lib/passerelle/social-service"   # social-service.db, its keys, its access log
//! metrics_addr = "127.0.0.1:9468"  # `social-service run` serves /metrics and /health (absent: not served)
//!
//! [requester]                      # the branch's requester office whose contact lists it works through
//! socket = "/run/passerelle/requester.sock"
//! office = "cpam-13"
//!
//! [retention]                      # norm 43's periods: shorter if need be, never longer
//! live_months = 18                 # live after the end of the last action (at most 18)
//! archive_months = 36              # then archived (at most 36; 0: no archive)
//!
//! [api]
//! socket = "/run/passerelle/social-service.sock"
//! [agents]
//! registry = "/etc/passerelle/social-service-agents.toml"
//! ```
//!
//! `[broker]` (optional): the broker its case files' transfers travel on (norm 43, A.3), as the
//! social service `body.office` of `[broker.social_services]`; without it the office neither
//! sends nor receives transfers. `[transfers.membership]` (optional): how a received transfer's
//! person is confirmed attached to the office. Its checkpoints are not yet routed to a witness:
//! a `[trails] witness` is refused.

use std::path::{Path, PathBuf};

use passerelle_agents::{AgentsSettings, ApiSettings};
use passerelle_hooks::{DevelopmentSettings, Profile};
use passerelle_protocol::rules::LegalRange;
use passerelle_witness::TrailSettings;

/// `[requester]`: the requester office whose local API the daemon reads the worklist from, as
/// a `social-service` service account of that requester's registry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequesterLink {
    /// The requester daemon's local API socket.
    pub socket: PathBuf,
    /// That requester's office code (`cpam-13`): the worklist is its office's contact lists.
    pub office: String,
}

/// The social-service daemon's settings (its TOML file, then `PASSERELLE_…` overrides).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SocialServiceSettings {
    /// The body hosting the social service (`carsat-sud-est`): named in messages and metrics.
    pub body: String,
    /// The social service's office (`ss-13`): a social worker sees the files of its office only.
    pub office: String,
    /// The folder of `social-service.db`, its person key and its access log. It holds the case
    /// files: give it to the daemon's service account only.
    pub data_dir: PathBuf,
    /// The archive's folder (norm 43: "un environnement logique séparé"): a store of its own,
    /// opened by `passerelle_social_archive` only. Default: beside `data_dir`, named
    /// `<data_dir>-archive`. Give it to the daemon's service account only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_dir: Option<PathBuf>,
    /// Where `social-service run` serves `/metrics` and `/health`; none when absent.
    #[serde(default)]
    pub metrics_addr: Option<String>,
    /// `[requester]`: where the contact lists are read and the offer outcomes recorded.
    pub requester: RequesterLink,
    /// `[broker]`: the broker its case files' transfers travel on (norm 43, A.3), as the social
    /// service `body.office` of `[broker.social_services]`. Absent: the office neither sends nor
    /// receives transfers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<passerelle_bus::BusSettings>,
    /// `[transfers]`: how a received transfer's person is confirmed attached to this office.
    #[serde(default, skip_serializing_if = "TransferSettings::is_default")]
    pub transfers: TransferSettings,
    /// `[api]`: the Unix socket of the daemon's local API.
    #[serde(default, skip_serializing_if = "ApiSettings::is_default")]
    pub api: ApiSettings,
    /// `[agents]`: the agent registry its local API maps callers with.
    #[serde(default, skip_serializing_if = "AgentsSettings::is_default")]
    pub agents: AgentsSettings,
    /// `[retention]`: the periods of norm 43, shorter than the law's if need be, never longer.
    #[serde(default, skip_serializing_if = "RetentionSettings::is_default")]
    pub retention: RetentionSettings,
    /// `[trails]`: its legal time zone. No witness yet: see the module doc.
    #[serde(default, skip_serializing_if = "TrailSettings::is_default")]
    pub trails: TrailSettings,
    /// `development` honours the `[development]` hooks; the default, `production`, refuses them.
    #[serde(default, skip_serializing_if = "Profile::is_production")]
    pub profile: Profile,
    /// Development hooks: a clock offset, fault points (passerelle_hooks).
    #[serde(default, skip_serializing_if = "DevelopmentSettings::is_empty")]
    pub development: DevelopmentSettings,
}

/// A setting that serde accepted but that cannot be used: its key and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid social-service settings: `{key}`: {message}")]
pub struct SettingsError {
    pub key: String,
    pub message: String,
}

impl SettingsError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> SettingsError {
        SettingsError { key: key.into(), message: message.into() }
    }
}

impl SocialServiceSettings {
    /// Development settings for tests: the given body and office, the store in `dir/data`, the
    /// requester's socket as given.
    pub fn for_dir(body: &str, office: &str, dir: &Path, requester_socket: &Path, requester_office: &str) -> Self {
        SocialServiceSettings {
            body: body.to_owned(),
            office: office.to_owned(),
            data_dir: dir.join("data"),
            archive_dir: None,
            metrics_addr: None,
            requester: RequesterLink { socket: requester_socket.to_owned(), office: requester_office.to_owned() },
            broker: None,
            transfers: TransferSettings::default(),
            api: ApiSettings::default(),
            agents: AgentsSettings::default(),
            retention: RetentionSettings::default(),
            trails: TrailSettings::default(),
            profile: Profile::Development,
            development: DevelopmentSettings::default(),
        }
    }

    /// The archive's folder: `archive_dir`, or `<data_dir>-archive` beside `data_dir`.
    pub fn archive_dir(&self) -> PathBuf {
        match &self.archive_dir {
            Some(dir) => dir.clone(),
            None => {
                let mut name =
                    self.data_dir.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "social-service".into());
                name.push("-archive");
                self.data_dir.with_file_name(name)
            }
        }
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let code = |key: &str, value: &str, example: &str| {
            if passerelle_protocol::ids::is_office_code(value) {
                Ok(())
            } else {
                Err(SettingsError::new(
                    key,
                    format!(
                        "use lowercase letters, digits, `-` and `_`, at most {} characters (e.g. {example})",
                        passerelle_protocol::ids::MAX_OFFICE_LEN
                    ),
                ))
            }
        };
        code("body", &self.body, "carsat-sud-est")?;
        code("office", &self.office, "ss-13")?;
        code("requester.office", &self.requester.office, "cpam-13")?;
        if self.requester.socket.as_os_str().is_empty() {
            return Err(SettingsError::new("requester.socket", "name the requester daemon's local API socket"));
        }
        if let Some(dir) = &self.archive_dir {
            if dir.starts_with(&self.data_dir) || self.data_dir.starts_with(dir) {
                return Err(SettingsError::new(
                    "archive_dir",
                    "the archive is a separate store (norm 43): give it a folder outside data_dir, and not one that holds it",
                ));
            }
        }
        self.retention.check()?;
        if let Some(MembershipSource::Postgres { url, .. }) = &self.transfers.membership {
            // Outside the development profile, only over TLS with the server verified.
            passerelle_postgres::Conninfo::parse(url)
                .and_then(|c| c.check(self.profile == Profile::Development))
                .map_err(|e| SettingsError::new("transfers.membership.url", e.0))?;
        }
        if self.trails.witness.is_some() {
            return Err(SettingsError::new(
                "trails.witness",
                "a social service's checkpoints are not yet routed to a witness: remove the key; its access \
                 log is hash-chained and verified locally (`passerelle access-log verify --daemon social-service`)",
            ));
        }
        self.trails.check().map_err(|message| SettingsError::new("trails", message))?;
        if let Some(addr) = &self.metrics_addr {
            passerelle_metrics::check_addr(addr).map_err(|message| SettingsError::new("metrics_addr", message))?;
        }
        Ok(())
    }
}

/// `[transfers]`: receiving a case file from another body (norm 43, A.3).
///
/// ```toml
/// [transfers.membership]            # absent: a social worker confirms each transfer
/// kind = "extract"
/// path = "/var/lib/passerelle/ss-13-members.csv"   # the office's attached insured, a `nir` column
/// # or
/// kind = "postgres"
/// url = "postgres://passerelle@db/members?sslmode=verify-full&sslrootcert=/etc/passerelle/pg-ca.pem"
/// query = "SELECT 1 FROM attached WHERE nir = $1 AND office = 'ss-13'"   # a row: attached
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TransferSettings {
    /// Where the office's attached insured are listed; `None`: a `social-worker` of the office
    /// confirms (or refuses) each received transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership: Option<MembershipSource>,
}

impl TransferSettings {
    pub fn is_default(&self) -> bool {
        *self == TransferSettings::default()
    }
}

/// A membership source: who is attached to this office, as the responder's sources are read
/// (an extract file, or a SQL query on the body's PostgreSQL).
#[derive(Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum MembershipSource {
    /// A CSV extract with a `nir` column (other columns ignored), read at each check: a transfer
    /// is rare, the extract is replaced by the body's own export job.
    Extract { path: PathBuf },
    /// A query returning at least one row when the person whose NIR is `$1` (text) is attached.
    /// The URL (libpq's) asks for `sslmode=verify-full` outside the development profile
    /// (passerelle_postgres). It may hold a password: it is never logged.
    Postgres { url: String, query: String },
}

impl std::fmt::Debug for MembershipSource {
    /// Without the PostgreSQL URL, which may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MembershipSource::Extract { path } => f.debug_struct("Extract").field("path", path).finish(),
            MembershipSource::Postgres { query, .. } => {
                f.debug_struct("Postgres").field("url", &"(not shown)").field("query", query).finish()
            }
        }
    }
}

/// `live_months`: how long a file stays in the live store after its clock starts.
pub const LIVE_MONTHS: LegalRange = LegalRange {
    min: 1,
    max: 18,
    unit: "months",
    source: "CNIL norm 43: a beneficiary's data are kept 18 months at most after the end of the action",
};

/// `archive_months`: how long a file stays in the archive (0: no archive).
pub const ARCHIVE_MONTHS: LegalRange =
    LegalRange { min: 0, max: 36, unit: "months", source: "CNIL norm 43: the archive keeps a file 3 years at most" };

/// `idle_flag_days`: an open action without activity for that long is flagged to the office.
pub const IDLE_FLAG_DAYS: LegalRange = LegalRange {
    min: 1,
    max: 90,
    unit: "days",
    source: "the office is told of an idle action within 90 days, so the 18 months of norm 43 are not put off",
};

/// `idle_close_days`: an open action without activity for that long is closed by the pass.
pub const IDLE_CLOSE_DAYS: LegalRange = LegalRange {
    min: 1,
    max: 365,
    unit: "days",
    source: "an action idle a year is closed, so the 18 months of CNIL norm 43 start",
};

/// `[retention]`: the periods of norm 43, each at most its legal value (the default): a setting
/// may shorten one, never lengthen it.
///
/// ```toml
/// [retention]
/// live_months = 18        # in the live store after the end of the last action (at most 18)
/// archive_months = 36     # then in the archive (at most 36; 0: no archive, deleted at once)
/// idle_flag_days = 90     # an open action idle that long is flagged to the office (at most 90)
/// idle_close_days = 365   # and that long closed by the pass, at its last activity (at most 365)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    pub live_months: u32,
    pub archive_months: u32,
    pub idle_flag_days: u32,
    pub idle_close_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            live_months: LIVE_MONTHS.max as u32,
            archive_months: ARCHIVE_MONTHS.max as u32,
            idle_flag_days: IDLE_FLAG_DAYS.max as u32,
            idle_close_days: IDLE_CLOSE_DAYS.max as u32,
        }
    }
}

impl RetentionSettings {
    pub fn is_default(&self) -> bool {
        *self == RetentionSettings::default()
    }

    /// Each period within its legal range (a longer one refused, naming the maximum), and the
    /// flag before the close.
    pub fn check(&self) -> Result<(), SettingsError> {
        let ranged = |key: &str, range: LegalRange, value: u32| {
            range.check(u64::from(value)).map(|_| ()).map_err(|message| SettingsError::new(key, message))
        };
        ranged("retention.live_months", LIVE_MONTHS, self.live_months)?;
        ranged("retention.archive_months", ARCHIVE_MONTHS, self.archive_months)?;
        ranged("retention.idle_flag_days", IDLE_FLAG_DAYS, self.idle_flag_days)?;
        ranged("retention.idle_close_days", IDLE_CLOSE_DAYS, self.idle_close_days)?;
        if self.idle_close_days < self.idle_flag_days {
            return Err(SettingsError::new(
                "retention.idle_close_days",
                "an idle action is flagged to the office before the pass closes it: make it at least idle_flag_days",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "body = 'carsat-sud-est'\noffice = 'ss-13'\ndata_dir = '/d'\n\
                        [requester]\nsocket = '/run/r.sock'\noffice = 'cpam-13'\n";

    fn load(text: &str) -> Result<SocialServiceSettings, String> {
        passerelle_settings::load_from_str::<SocialServiceSettings>(text, Path::new("s.toml"), Vec::new())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_minimal_file_is_production_with_no_metrics() {
        let s = load(BASE).unwrap();
        s.validate().unwrap();
        assert_eq!(s.profile, Profile::Production);
        assert_eq!(s.requester.office, "cpam-13");
        assert!(s.metrics_addr.is_none());
        assert_eq!(s.archive_dir(), Path::new("/d-archive"));
    }

    #[test]
    fn an_archive_inside_the_live_folder_is_refused() {
        let e = load(&BASE.replace("data_dir = '/d'\n", "data_dir = '/d'\narchive_dir = '/d/archive'\n"))
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.key, "archive_dir");
        let s = load(&BASE.replace("data_dir = '/d'\n", "data_dir = '/d'\narchive_dir = '/a'\n")).unwrap();
        s.validate().unwrap();
        assert_eq!(s.archive_dir(), Path::new("/a"));
    }

    #[test]
    fn a_witness_is_refused_with_the_reason() {
        let e = load(&format!("{BASE}[trails]\nwitness = 'carsat-sud-est'\n")).unwrap().validate().unwrap_err();
        assert_eq!(e.key, "trails.witness");
        assert!(e.message.contains("not yet routed to a witness"), "{e}");
    }

    #[test]
    fn a_postgres_membership_source_without_verified_tls_is_refused_outside_development() {
        let with = |profile: &str, url: &str| {
            load(&format!(
                "{profile}{BASE}[transfers.membership]\nkind = 'postgres'\nurl = '{url}'\nquery = 'SELECT $1'\n"
            ))
            .unwrap()
            .validate()
        };
        for url in ["postgres://u:s3cret@db/members", "host=db sslmode=disable"] {
            let e = with("", url).unwrap_err();
            assert_eq!(e.key, "transfers.membership.url", "{url}");
            assert!(e.message.contains("sslmode=verify-full") && !e.message.contains("s3cret"), "{e}");
            with("profile = 'development'\n", url).expect("the development profile may go without TLS");
        }
        let e = with("profile = 'development'\n", "postgres://db/members?sslmode=require").unwrap_err();
        assert_eq!(e.key, "transfers.membership.url", "require verifies nothing, refused in every profile");
        with("", "postgres://db/members?sslmode=verify-full").unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_codes_are_named() {
        assert!(load(&format!("{BASE}broker = 1\n")).unwrap_err().contains("broker"));
        let e = load(&BASE.replace("ss-13", "SS 13")).unwrap().validate().unwrap_err();
        assert_eq!(e.key, "office");
        let e = load(&BASE.replace("'cpam-13'", "'CPAM'")).unwrap().validate().unwrap_err();
        assert_eq!(e.key, "requester.office");
    }

    #[test]
    fn the_retention_periods_default_to_the_law_s_and_can_only_be_shortened() {
        let s = load(BASE).unwrap();
        assert_eq!(
            (
                s.retention.live_months,
                s.retention.archive_months,
                s.retention.idle_flag_days,
                s.retention.idle_close_days
            ),
            (18, 36, 90, 365)
        );
        let shorter =
            load(&format!("{BASE}[retention]\nlive_months = 12\narchive_months = 0\nidle_flag_days = 30\n")).unwrap();
        shorter.validate().unwrap();
        assert_eq!((shorter.retention.live_months, shorter.retention.archive_months), (12, 0));
        for (key, value, max) in [
            ("live_months", 19, "from 1 to 18 months"),
            ("archive_months", 37, "from 0 to 36 months"),
            ("idle_flag_days", 91, "from 1 to 90 days"),
            ("idle_close_days", 366, "from 1 to 365 days"),
        ] {
            let e = load(&format!("{BASE}[retention]\n{key} = {value}\n")).unwrap().validate().unwrap_err();
            assert_eq!(e.key, format!("retention.{key}"));
            assert!(e.message.contains(max), "{e}");
        }
        let e = load(&format!("{BASE}[retention]\nlive_months = 0\n")).unwrap().validate().unwrap_err();
        assert_eq!(e.key, "retention.live_months");
    }

    #[test]
    fn an_idle_action_is_flagged_before_it_is_closed() {
        let e = load(&format!("{BASE}[retention]\nidle_flag_days = 60\nidle_close_days = 30\n"))
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.key, "retention.idle_close_days");
        assert!(e.message.contains("idle_flag_days"), "{e}");
        assert!(load(&format!("{BASE}[retention]\nkeep_forever = true\n")).unwrap_err().contains("keep_forever"));
    }
}
