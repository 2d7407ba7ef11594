//! The observatory's settings (TOML, then `PASSERELLE_…` overrides, loaded with
//! `passerelle_settings::load`), and their resolution into a checked [`Config`].
//!
//! ```toml
//! code = "carsat-sud-est"              # this observatory (passerelle_protocol::territory)
//! data_dir = "/var/lib/passerelle"     # observatory.db, statistics.key, statistics/statistics.db
//! respond_by_default_days = 7          # deadline when the request gives none (1 to 21)
//! retention_days = 30                  # payload cap: 1 to 30 (art. 5: 30 days at most)
//! chunk_size = 1000                    # persons per solicitation / result chunk
//! audit_retention_years = 4            # audit years kept besides the current one (4: fixed by the norm)
//! statistics_retention_days = 1826     # statistics rows (at most 5 years)
//! metrics_addr = "127.0.0.1:9464"      # /metrics and /health (absent: not served)
//! management_url = "http://127.0.0.1:15672"  # RabbitMQ's management API, for the console's queues
//! # profile = "development"            # only to honour [development] hooks (passerelle_hooks)
//!
//! [routing]                            # category → bodies; unlisted categories keep the
//! job_seeker_registration = ["cnaf"]   # catalogue's default holders
//!
//! [territory]                          # département → observatory overrides
//! "976" = "css-mayotte"
//!
//! [broker]                             # passerelle_bus::BusSettings
//! prefix = "passerelle"
//!
//! [rights]                             # passerelle_rights::RightsSettings (decree art. 6)
//! answer_within_days = 30              # each party's deadline (at most the legal month)
//! purge_margin_days = 7                # an undelivered request is purged this long after it
//! ```
//!
//! Loading never connects; [`ObservatorySettings::resolve`] checks everything that can be
//! checked without the broker, so a bad file fails fast with the key named.

use passerelle_agents::{AgentsSettings, ApiSettings};
use passerelle_witness::TrailSettings;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use passerelle_bus::BusSettings;
use passerelle_hooks::{DevelopmentSettings, Profile};
use passerelle_observatory_store::StatisticsPlacement;
use passerelle_protocol::ids::ObservatoryCode;
use passerelle_protocol::rules;
use passerelle_protocol::territory::Territories;

use crate::solicit::RoutingTable;

/// The share of the retention cap a respond-by deadline may use: 21 days of 30, so that even a
/// partial result goes back, and the receipt can come, well inside the cap.
const RESPOND_BY_SHARE_OF_RETENTION: f64 = 0.7;

/// The most audit years kept besides the current one (the norm's rule: the current year and the
/// four following).
pub const AUDIT_RETENTION_YEARS_CAP: u32 = rules::AUDIT_RETENTION_YEARS.max as u32;

/// How often the timer checks deadlines, reminders and purges by default. Time rules are days
/// long; a second is plenty, and tests set milliseconds.
const DEFAULT_TICK_MS: u64 = 1000;

/// How long at most a purge waits for the case store's rebuild by default. The rebuild
/// (`VACUUM`) copies every live row, the audit trail included, and holds the store meanwhile:
/// run after every purge it delayed each next case by the rebuild's length, which grows with
/// the store's history. A minute keeps a purge's remnants on disk a minute at most (beside the
/// rows themselves, deleted and overwritten at once), for one rebuild per minute of purges.
const DEFAULT_REBUILD_INTERVAL_S: u64 = 60;

/// The longest interval accepted: an hour.
const MAX_REBUILD_INTERVAL_S: u64 = 3600;

/// The settings file of `passerelle observatory run`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ObservatorySettings {
    /// This observatory's code, e.g. `carsat-sud-est`.
    pub code: String,
    /// Where the case store and the pseudonym key live, and the statistics folder
    /// (`statistics/`, the statistics store alone).
    pub data_dir: PathBuf,
    #[serde(default)]
    pub broker: BusSettings,
    #[serde(default = "default_respond_by_days")]
    pub respond_by_default_days: u64,
    /// Payloads are kept this long at most: 1 to 30 days (art. 5; [`rules::OBSERVATORY_RETENTION_DAYS`]).
    #[serde(default = "default_retention_days")]
    pub retention_days: u64,
    #[serde(default = "default_chunk_size")]
    pub chunk_size: usize,
    /// Category code → the body codes asked for it (overrides the catalogue's defaults).
    #[serde(default)]
    pub routing: BTreeMap<String, Vec<String>>,
    /// The HMAC key of the statistics pseudonyms; generated (mode 0600) on first start if absent.
    /// Read by the observatory daemon alone: never inside the statistics folder.
    /// Default: `data_dir/statistics.key`.
    #[serde(default)]
    pub statistics_secret_file: Option<PathBuf>,
    /// Département → observatory code overrides (Mayotte, a collectivity, a move).
    #[serde(default)]
    pub territory: BTreeMap<String, String>,
    /// Audit years kept besides the current one: 0 to 4 ([`rules::AUDIT_RETENTION_YEARS`]).
    #[serde(default = "default_audit_retention_years")]
    pub audit_retention_years: u32,
    /// 1 to 1826 days: 5 years at most (art. 5; [`rules::STATISTICS_RETENTION_DAYS`]).
    #[serde(default = "default_statistics_retention_days")]
    pub statistics_retention_days: u64,
    /// The timer's period in milliseconds.
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    /// At most this many seconds between a purge and the case store's rebuild, which leaves
    /// nothing of the purged rows readable in the files (0: after every purge; at most 3600).
    /// The purges of the interval share one rebuild; a stopping daemon rebuilds first.
    #[serde(default = "default_rebuild_interval_s")]
    pub rebuild_interval_s: u64,
    /// Where to serve `/metrics` and `/health` (e.g. `127.0.0.1:9464`; port 0 picks one); none
    /// when absent.
    #[serde(default)]
    pub metrics_addr: Option<String>,
    /// The RabbitMQ management API (plain `http://`, e.g. `http://127.0.0.1:15672`) the console's
    /// queues page reads, read-only, with the login of the first broker URL; absent: the page
    /// says how `ctl status` reads them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_url: Option<String>,
    /// `[api]`: the Unix socket of the daemon's local API (README, "Agents and roles").
    #[serde(default, skip_serializing_if = "ApiSettings::is_default")]
    pub api: ApiSettings,
    /// `[agents]`: the agent registry its local API maps callers with.
    #[serde(default, skip_serializing_if = "AgentsSettings::is_default")]
    pub agents: AgentsSettings,
    /// `[trails]`: its legal time zone, the party that witnesses its trails, how often it
    /// checkpoints them.
    #[serde(default, skip_serializing_if = "TrailSettings::is_default")]
    pub trails: TrailSettings,
    /// `[rights]`: the rights desk's deadlines (decree art. 6; `passerelle_rights`).
    #[serde(default, skip_serializing_if = "is_default_rights")]
    pub rights: passerelle_rights::RightsSettings,
    /// `development` honours the `[development]` hooks; the default, `production`, refuses them
    /// (passerelle_hooks).
    #[serde(default, skip_serializing_if = "Profile::is_production")]
    pub profile: Profile,
    /// Development hooks: a clock offset, fault points (passerelle_hooks).
    #[serde(default, skip_serializing_if = "DevelopmentSettings::is_empty")]
    pub development: DevelopmentSettings,
}

fn default_respond_by_days() -> u64 {
    rules::DEFAULT_RESPOND_BY.as_secs() / 86400
}
fn default_retention_days() -> u64 {
    rules::OBSERVATORY_RETENTION_CAP.as_secs() / 86400
}
fn default_chunk_size() -> usize {
    rules::DEFAULT_CHUNK_SIZE
}
fn default_audit_retention_years() -> u32 {
    AUDIT_RETENTION_YEARS_CAP
}
fn default_statistics_retention_days() -> u64 {
    rules::STATISTICS_RETENTION_CAP.as_secs() / 86400
}
fn default_tick_ms() -> u64 {
    DEFAULT_TICK_MS
}
fn default_rebuild_interval_s() -> u64 {
    DEFAULT_REBUILD_INTERVAL_S
}
fn is_default_rights(rights: &passerelle_rights::RightsSettings) -> bool {
    *rights == passerelle_rights::RightsSettings::default()
}

impl ObservatorySettings {
    /// Every default, for an observatory code and a data directory (tests, the demo).
    pub fn new(code: impl Into<String>, data_dir: impl Into<PathBuf>) -> ObservatorySettings {
        ObservatorySettings {
            code: code.into(),
            data_dir: data_dir.into(),
            broker: BusSettings::default(),
            respond_by_default_days: default_respond_by_days(),
            retention_days: default_retention_days(),
            chunk_size: default_chunk_size(),
            routing: BTreeMap::new(),
            statistics_secret_file: None,
            territory: BTreeMap::new(),
            audit_retention_years: default_audit_retention_years(),
            statistics_retention_days: default_statistics_retention_days(),
            tick_ms: default_tick_ms(),
            rebuild_interval_s: default_rebuild_interval_s(),
            metrics_addr: None,
            management_url: None,
            api: ApiSettings::default(),
            agents: AgentsSettings::default(),
            trails: Default::default(),
            rights: passerelle_rights::RightsSettings::default(),
            profile: Profile::default(),
            development: DevelopmentSettings::default(),
        }
    }

    /// The case store file.
    pub fn case_db_path(&self) -> PathBuf {
        self.data_dir.join("observatory.db")
    }

    /// The statistics folder: the statistics store alone, never the pseudonym key (what a
    /// statistics agent may be given to read).
    pub fn statistics_dir(&self) -> PathBuf {
        self.data_dir.join("statistics")
    }

    /// The statistics store file, in the statistics folder.
    pub fn statistics_db_path(&self) -> PathBuf {
        self.statistics_dir().join("statistics.db")
    }

    /// The statistics files' places, and where the earlier layout kept the store (beside the
    /// case store), for [`passerelle_observatory_store::statistics::settle`].
    pub fn statistics_placement(&self) -> StatisticsPlacement {
        StatisticsPlacement {
            store: self.statistics_db_path(),
            legacy_store: self.data_dir.join("statistics.db"),
            key: self.secret_path(),
        }
    }

    /// The pseudonym key file (the statistics secret).
    pub fn secret_path(&self) -> PathBuf {
        self.statistics_secret_file.clone().unwrap_or_else(|| self.data_dir.join("statistics.key"))
    }

    /// Checks the settings and computes the effective limits. A value outside its legal range
    /// is refused with the range and its source, never lowered.
    pub fn resolve(&self) -> Result<Config, SettingsError> {
        let bad = |key: &str, message: String| Err(SettingsError { key: key.to_owned(), message });
        let code = ObservatoryCode::parse(&self.code)
            .map_err(|e| SettingsError { key: "code".into(), message: e.to_string() })?;
        if Territories::observatory(code.as_str()).is_none() {
            return bad(
                "code",
                format!("`{}` is not an observatory code (see passerelle_protocol::territory)", self.code),
            );
        }
        self.broker.check().map_err(|e| SettingsError { key: format!("broker.{}", e.key), message: e.message })?;
        if !self.broker.observatories.contains(&self.code) {
            return bad(
                "broker.observatories",
                format!("the deployment does not list this observatory `{}`", self.code),
            );
        }
        if self.secret_path().starts_with(self.statistics_dir()) {
            return bad(
                "statistics_secret_file",
                format!(
                    "the pseudonym key may not be inside the statistics folder {}: a statistics agent reads that \
                     folder, and the key stays where the observatory daemon alone reads it (default: data_dir/statistics.key)",
                    self.statistics_dir().display()
                ),
            );
        }
        self.rights.check().map_err(|message| SettingsError { key: "rights".into(), message })?;
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return bad("chunk_size", format!("must be between 1 and {MAX_CHUNK_SIZE}"));
        }
        if self.tick_ms == 0 {
            return bad("tick_ms", "must be at least 1".into());
        }
        if self.rebuild_interval_s > MAX_REBUILD_INTERVAL_S {
            return bad("rebuild_interval_s", format!("must be at most {MAX_REBUILD_INTERVAL_S} (an hour)"));
        }
        if let Some(addr) = &self.metrics_addr {
            passerelle_metrics::check_addr(addr)
                .map_err(|message| SettingsError { key: "metrics_addr".into(), message })?;
        }
        if let Some(url) = &self.management_url {
            passerelle_management::check_url(url)
                .map_err(|e| SettingsError { key: "management_url".into(), message: e.to_string() })?;
        }
        let range = |key: &str, limit: rules::LegalRange, value: u64| {
            limit.check(value).map_err(|message| SettingsError { key: key.to_owned(), message })
        };
        let retention = rules::days(range("retention_days", rules::OBSERVATORY_RETENTION_DAYS, self.retention_days)?);
        // A deadline leaves at least 30 % of the retention for the result and its receipt.
        let max_respond_by = rules::MAX_RESPOND_BY.min(retention.mul_f64(RESPOND_BY_SHARE_OF_RETENTION));
        let respond_by_limit = rules::LegalRange {
            max: max_respond_by.as_secs() / 86_400,
            source: if max_respond_by < rules::MAX_RESPOND_BY {
                "70 % of retention_days at most, so that the result and its receipt fit in the retention"
            } else {
                rules::RESPOND_BY_DAYS.source
            },
            ..rules::RESPOND_BY_DAYS
        };
        let respond_by_default =
            rules::days(range("respond_by_default_days", respond_by_limit, self.respond_by_default_days)?);
        let audit_retention_years =
            range("audit_retention_years", rules::AUDIT_RETENTION_YEARS, self.audit_retention_years.into())? as u32;
        let statistics_retention = rules::days(range(
            "statistics_retention_days",
            rules::STATISTICS_RETENTION_DAYS,
            self.statistics_retention_days,
        )?);
        let mut territories = Territories::default();
        for (departement, observatory) in &self.territory {
            territories = territories
                .with_departement(departement, observatory)
                .map_err(|e| SettingsError { key: format!("territory.{departement}"), message: e.to_string() })?;
        }
        let routing = RoutingTable::new(&self.routing, &self.broker.bodies)?;
        Ok(Config {
            code,
            bodies: self.broker.bodies.clone(),
            observatories: self.broker.observatories.clone(),
            offices: self.broker.offices.clone(),
            identity: self.broker.identity.clone(),
            retention,
            max_respond_by,
            respond_by_default,
            chunk_size: self.chunk_size as u32,
            routing,
            territories,
            audit_retention_years,
            statistics_retention,
            tick: Duration::from_millis(self.tick_ms),
            rebuild_interval: Duration::from_secs(self.rebuild_interval_s),
        })
    }
}

/// The largest chunk accepted in settings: ten times the default keeps a chunk one modest
/// transaction and one broker message of at most a few hundred kB.
pub const MAX_CHUNK_SIZE: usize = 10 * rules::DEFAULT_CHUNK_SIZE;

/// The effective, checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// This observatory's code, checked against the territory table and the deployment.
    pub code: ObservatoryCode,
    /// The deployment's body codes (each has queues).
    pub bodies: Vec<String>,
    /// The deployment's observatories (`broker.observatories`): who may send a rights request.
    pub observatories: Vec<String>,
    /// The requester offices of the bodies that have them (`[broker.offices]`): such a body's
    /// requests come from, and its results go to, one office party each.
    pub offices: passerelle_bus::office::Offices,
    /// Which broker user speaks for which party (`[broker.identity]`): an office's requests and
    /// receipts must come from a user of that office.
    pub identity: passerelle_bus::IdentitySettings,
    /// Payload retention (≤ 30 days).
    pub retention: Duration,
    /// The latest respond-by after arrival.
    pub max_respond_by: Duration,
    pub respond_by_default: Duration,
    pub chunk_size: u32,
    pub routing: RoutingTable,
    pub territories: Territories,
    pub audit_retention_years: u32,
    pub statistics_retention: Duration,
    pub tick: Duration,
    /// The longest a purge waits for the case store's rebuild.
    pub rebuild_interval: Duration,
}

/// A setting that cannot be used, with its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting `{key}`: {message}")]
pub struct SettingsError {
    pub key: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_and_out_of_range_legal_limits_are_refused() {
        let mut s = ObservatorySettings::new("carsat-sud-est", "/tmp/x");
        let c = s.resolve().unwrap();
        assert_eq!(c.retention, rules::days(30));
        assert_eq!(c.respond_by_default, rules::days(7));
        assert_eq!(c.max_respond_by, rules::MAX_RESPOND_BY);
        for (key, set) in [
            ("retention_days", (|s: &mut ObservatorySettings| s.retention_days = 45) as fn(&mut ObservatorySettings)),
            ("retention_days", |s| s.retention_days = 0),
            ("respond_by_default_days", |s| s.respond_by_default_days = 30),
            ("respond_by_default_days", |s| s.respond_by_default_days = 0),
            ("audit_retention_years", |s| s.audit_retention_years = 10),
            ("statistics_retention_days", |s| s.statistics_retention_days = 10_000),
        ] {
            let mut s = ObservatorySettings::new("carsat-sud-est", "/tmp/x");
            set(&mut s);
            let e = s.resolve().unwrap_err();
            assert_eq!(e.key, key, "{e}");
            assert!(e.message.contains("out of range: from"), "{e}");
        }
        s.retention_days = 10;
        assert_eq!(s.resolve().unwrap().max_respond_by, rules::days(7));
        s.respond_by_default_days = 8;
        let e = s.resolve().unwrap_err();
        assert_eq!(e.key, "respond_by_default_days");
        assert!(e.message.contains("from 1 to 7 days (70 % of retention_days"), "{e}");
    }

    #[test]
    fn the_management_api_is_read_over_plain_http_without_credentials_in_its_url() {
        let mut s = ObservatorySettings::new("carsat-sud-est", "/tmp/x");
        s.management_url = Some("http://127.0.0.1:15672".into());
        s.resolve().unwrap();
        for bad in ["https://rabbit:15671", "http://guest:guest@rabbit:15672", "rabbit:15672"] {
            s.management_url = Some(bad.into());
            assert_eq!(s.resolve().unwrap_err().key, "management_url", "{bad}");
        }
    }

    #[test]
    fn bad_settings_name_their_key() {
        let mut s = ObservatorySettings::new("carsat-nowhere", "/tmp/x");
        assert_eq!(s.resolve().unwrap_err().key, "code");
        s.code = "CARSAT-SUD-EST".into();
        let err = s.resolve().unwrap_err();
        assert_eq!(err.key, "code");
        assert!(err.message.contains("lowercase"), "{err}");
        s.code = "cnav-idf".into();
        assert_eq!(s.resolve().unwrap_err().key, "broker.observatories");
        s.code = "carsat-sud-est".into();
        s.routing.insert("religion".into(), vec!["cnaf".into()]);
        assert_eq!(s.resolve().unwrap_err().key, "routing.religion");
        s.routing.clear();
        s.routing.insert("rsa".into(), vec!["pole-emploi".into()]);
        assert_eq!(s.resolve().unwrap_err().key, "routing.rsa");
        s.routing.clear();
        s.territory.insert("976".into(), "css-mayotte".into());
        s.resolve().unwrap();
        s.territory.insert("999".into(), "css-mayotte".into());
        assert_eq!(s.resolve().unwrap_err().key, "territory.999");
        s.territory.remove("999");
        s.rebuild_interval_s = 3601;
        assert_eq!(s.resolve().unwrap_err().key, "rebuild_interval_s");
        s.rebuild_interval_s = 60;
        s.statistics_secret_file = Some(s.statistics_dir().join("pseudonyms.key"));
        let refused = s.resolve().unwrap_err();
        assert_eq!(refused.key, "statistics_secret_file");
        assert!(refused.message.contains("statistics folder"), "{}", refused.message);
        s.statistics_secret_file = Some(s.data_dir.join("elsewhere.key"));
        s.rebuild_interval_s = 0;
        assert_eq!(s.resolve().unwrap().rebuild_interval, Duration::ZERO);
    }

    #[test]
    fn toml_loads_with_defaults_and_unknown_keys_are_refused() {
        let load = |text: &str| {
            passerelle_settings::load_from_str::<ObservatorySettings>(
                text,
                std::path::Path::new("obs.toml"),
                Vec::new(),
            )
        };
        let ok = load("code = 'carsat-sud-est'\ndata_dir = '/d'\n[territory]\n\"976\" = 'css-mayotte'\n").unwrap();
        assert_eq!(ok.chunk_size, rules::DEFAULT_CHUNK_SIZE);
        assert_eq!(ok.secret_path(), PathBuf::from("/d/statistics.key"));
        assert_eq!(ok.statistics_db_path(), PathBuf::from("/d/statistics/statistics.db"));
        assert!(!ok.secret_path().starts_with(ok.statistics_dir()), "the key is outside the statistics folder");
        ok.resolve().unwrap();
        let rights = load("code = 'carsat-sud-est'\ndata_dir = '/d'\n[rights]\nanswer_within_days = 20\n").unwrap();
        assert_eq!(rights.rights.answer_within_days, 20);
        assert_eq!(rights.rights.purge_margin_days, passerelle_rights::RightsSettings::default().purge_margin_days);
        rights.resolve().unwrap();
        let err = load("code = 'carsat-sud-est'\ndata_dir = '/d'\n[rights]\nopposition = true\n").unwrap_err();
        assert!(err.to_string().contains("opposition"), "{err}");
        let err = load("code = 'carsat-sud-est'\ndata_dir = '/d'\nretention = 3\n").unwrap_err().to_string();
        assert!(err.contains("retention"), "{err}");
    }
}
