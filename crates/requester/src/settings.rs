//! The requester's settings: who it is (branch and office), where it keeps its store and writes
//! its results, how long it may keep them, and how it ranks the persons it gets back.
//!
//! ```toml
//! body = "cnaf"                 # the requester's branch: cnam, cnav, cnaf or msa
//! office = "caf-13"             # its local office, for the audit trail and the statistics
//! data_dir = "/var/lib/passerelle/requester"   # the SQLite store (names, contacts, results)
//! out_dir = "/srv/prevention/results"          # where `run` and `submit` write result files
//! retention_days = 730          # 1 to 730 (24 months, decree art. 5): a higher value is refused
//! legal_basis = "decree-2017-334-art-3"   # from the closed list (or the text's reference)
//! chunk_size = 1000             # persons per request message
//! metrics_addr = "127.0.0.1:9466"   # `requester run` serves /metrics and /health (absent: not served)
//! # profile = "development"         # only to honour [development] hooks (passerelle_hooks)
//!
//! [broker]                      # passerelle_bus::BusSettings
//! urls = ["amqp://guest:guest@127.0.0.1:5672/%2f"]
//!
//! [ranking.weights]             # overrides of the default weights, by category code
//! long_term_condition = 3.0
//! complementary_cover = -1.0    # negative: having one lowers the score
//! [ranking]
//! quarters_contributed_below = 120
//! ```

use passerelle_agents::{AgentsSettings, ApiSettings};
use passerelle_witness::TrailSettings;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use passerelle_bus::BusSettings;
use passerelle_hooks::{DevelopmentSettings, Profile};
use passerelle_protocol::catalogue::{self, body};
use passerelle_protocol::rules::{self, DEFAULT_CHUNK_SIZE, REQUESTER_RETENTION_CAP};
use passerelle_protocol::territory::Territories;
use passerelle_protocol::value;

use crate::ranking::RankingSettings;

/// The legal basis every request names unless configured otherwise: the code of
/// `passerelle_protocol::legal` (its reference text is accepted too).
pub const DEFAULT_LEGAL_BASIS: &str = "decree-2017-334-art-3";

/// The retention cap of decree art. 5 in days (24 months counted as 730 days).
pub const MAX_RETENTION_DAYS: u32 = (REQUESTER_RETENTION_CAP.as_secs() / 86_400) as u32;

/// The largest request chunk accepted in configuration: far above the default, far below what
/// would make one broker message or one SQLite transaction unwieldy (a few MB).
pub const MAX_CHUNK_SIZE: usize = 20_000;

/// The requester adapter's settings (its TOML file, then `PASSERELLE_…` overrides).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequesterSettings {
    /// The requester's branch (`cnam`, `cnav`, `cnaf`, `msa`): the `sender` of its messages and
    /// the name of the results queue it reads.
    pub body: String,
    /// The local office (`caf-13`): named in every request for the audit trail and statistics.
    pub office: String,
    /// The folder of the store (`requester.db`). It holds names and contact details: give it to
    /// the prevention team's service account only.
    pub data_dir: PathBuf,
    /// Where result files are written when `--out` does not say otherwise.
    pub out_dir: PathBuf,
    /// The broker and the deployment's parties.
    #[serde(default)]
    pub broker: BusSettings,
    /// Days a case (selection, result, refusal, result files) is kept after its submission:
    /// 1 to [`MAX_RETENTION_DAYS`] (24 months, decree art. 5; a value outside is refused).
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// The legal basis named in every request: a code of the closed list
    /// (`passerelle_protocol::legal`), e.g. `decree-2017-334-art-3`.
    #[serde(default = "default_legal_basis")]
    pub legal_basis: String,
    /// Persons per request chunk.
    #[serde(default = "default_chunk_size")]
    pub chunk_size: usize,
    /// How the contact list is scored and ordered.
    #[serde(default)]
    pub ranking: RankingSettings,
    /// Territorial routing beyond the default table (domain-facts §2), département →
    /// observatory code, e.g. `"976" = "css-mayotte"` where the legal basis covers Mayotte. It
    /// must match the observatories' own configuration.
    #[serde(default)]
    pub territories: BTreeMap<String, String>,
    /// Where `requester run` serves `/metrics` and `/health` (e.g. `127.0.0.1:9466`; port 0
    /// picks one); none when absent.
    #[serde(default)]
    pub metrics_addr: Option<String>,
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
    /// `development` honours the `[development]` hooks; the default, `production`, refuses them
    /// (passerelle_hooks).
    #[serde(default, skip_serializing_if = "Profile::is_production")]
    pub profile: Profile,
    /// Development hooks: a clock offset, fault points (passerelle_hooks).
    #[serde(default, skip_serializing_if = "DevelopmentSettings::is_empty")]
    pub development: DevelopmentSettings,
}

fn default_retention_days() -> u32 {
    MAX_RETENTION_DAYS
}

fn default_legal_basis() -> String {
    DEFAULT_LEGAL_BASIS.to_owned()
}

fn default_chunk_size() -> usize {
    DEFAULT_CHUNK_SIZE
}

/// A setting that serde accepted but that makes no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid requester settings: `{key}`: {message}")]
pub struct SettingsError {
    /// The key at fault, e.g. `ranking.weights.shoe_size`.
    pub key: String,
    pub message: String,
}

impl SettingsError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        SettingsError { key: key.into(), message: message.into() }
    }
}

impl RequesterSettings {
    /// Development settings for tests and the demo: the given branch and office, the store and
    /// the output in `dir`, default broker settings.
    pub fn for_dir(body: &str, office: &str, dir: &std::path::Path) -> Self {
        RequesterSettings {
            body: body.to_owned(),
            office: office.to_owned(),
            data_dir: dir.join("data"),
            out_dir: dir.join("out"),
            broker: BusSettings::default(),
            retention_days: MAX_RETENTION_DAYS,
            legal_basis: DEFAULT_LEGAL_BASIS.to_owned(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            ranking: RankingSettings::default(),
            territories: BTreeMap::new(),
            metrics_addr: None,
            api: Default::default(),
            agents: Default::default(),
            trails: Default::default(),
            profile: Profile::default(),
            development: DevelopmentSettings::default(),
        }
    }

    /// Checks what serde cannot, the legal range of the retention included.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !body::ALL.contains(&self.body.as_str()) {
            return Err(SettingsError::new("body", format!("`{}` is not one of {}", self.body, body::ALL.join(", "))));
        }
        if !passerelle_protocol::ids::is_office_code(&self.office) {
            return Err(SettingsError::new(
                "office",
                format!(
                    "use lowercase letters, digits, `-` and `_`, at most {} characters (e.g. caf-13)",
                    passerelle_protocol::ids::MAX_OFFICE_LEN
                ),
            ));
        }
        if let Err(e) = passerelle_bus::Role::requester(&self.broker, &self.body, &self.office) {
            return Err(SettingsError::new(
                "office",
                format!("{e}: add it there, or run this requester as another office"),
            ));
        }
        rules::REQUESTER_RETENTION_DAYS
            .check(self.retention_days.into())
            .map_err(|message| SettingsError::new("retention_days", message))?;
        if self.basis().is_none() {
            let codes: Vec<&str> =
                passerelle_protocol::legal::ALL.iter().map(|b| passerelle_protocol::legal::code(*b)).collect();
            return Err(SettingsError::new(
                "legal_basis",
                format!("not a legal basis of the list: use one of {}", codes.join(", ")),
            ));
        }
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return Err(SettingsError::new("chunk_size", format!("must be between 1 and {MAX_CHUNK_SIZE}")));
        }
        self.ranking.validate()?;
        self.territories()?;
        if let Some(addr) = &self.metrics_addr {
            passerelle_metrics::check_addr(addr).map_err(|message| SettingsError::new("metrics_addr", message))?;
        }
        Ok(())
    }

    /// Who this requester is on the broker: its office (`body.office`, with its own results and
    /// notices queues) when `[broker.offices]` lists its body, else its body (checked by
    /// [`RequesterSettings::validate`]).
    pub fn role(&self) -> passerelle_bus::Role {
        passerelle_bus::Role::requester(&self.broker, &self.body, &self.office)
            .unwrap_or_else(|_| passerelle_bus::Role::Body(self.body.clone()))
    }

    /// The queue its results and refusals arrive on (see [`RequesterSettings::role`]).
    pub fn results_queue(&self) -> passerelle_bus::Queue {
        match self.role() {
            passerelle_bus::Role::Office(party) => passerelle_bus::Queue::OfficeResults(party),
            _ => passerelle_bus::Queue::BodyResults(self.body.clone()),
        }
    }

    /// The configured legal basis, if it is one of the closed list.
    pub fn basis(&self) -> Option<passerelle_protocol::v1::LegalBasis> {
        passerelle_protocol::legal::parse(&self.legal_basis)
    }

    /// The routing table: the default one with the configured départements added or moved.
    pub fn territories(&self) -> Result<Territories, SettingsError> {
        let mut t = Territories::default();
        for (departement, observatory) in &self.territories {
            t = t
                .with_departement(departement, observatory)
                .map_err(|e| SettingsError::new(format!("territories.{departement}"), e.to_string()))?;
        }
        Ok(t)
    }

    /// The retention (checked by [`RequesterSettings::validate`]: never more than 24 months).
    pub fn retention(&self) -> Duration {
        rules::clamp_retention(rules::days(u64::from(self.retention_days)), REQUESTER_RETENTION_CAP)
    }
}

/// Parses a `--respond-by` duration: a whole number followed by `d` (days), `h` (hours), `m`
/// (minutes) or `s` (seconds), e.g. `7d`, `36h`, `90s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration like 7d, 36h, 30m or 90s"))?;
    let seconds = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(format!("`{text}` is not a duration like 7d, 36h, 30m or 90s")),
    };
    if n == 0 {
        return Err("the duration must not be zero".to_owned());
    }
    n.checked_mul(seconds).map(Duration::from_secs).ok_or_else(|| format!("`{text}` is too long"))
}

/// Checks that every key of a weight table is a category code and every weight is finite.
pub(crate) fn check_weights(weights: &BTreeMap<String, f64>) -> Result<(), SettingsError> {
    for (code, weight) in weights {
        if catalogue::by_code(code).is_none() {
            return Err(SettingsError::new(
                format!("ranking.weights.{code}"),
                "not a category code (README, \"Categories\")",
            ));
        }
        if !weight.is_finite() {
            return Err(SettingsError::new(format!("ranking.weights.{code}"), "must be a finite number"));
        }
    }
    Ok(())
}

/// Parses a family-situation list of the ranking settings.
pub(crate) fn check_family_situations(list: &[String]) -> Result<(), SettingsError> {
    for s in list {
        if value::parse_family_situation(s).is_none() {
            return Err(SettingsError::new(
                "ranking.family_situations",
                format!("`{s}` is not a family situation (married, civil_partnership, cohabiting, separated, divorced, widowed, single)"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<RequesterSettings, String> {
        passerelle_settings::load_from_str::<RequesterSettings>(text, std::path::Path::new("r.toml"), Vec::new())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn minimal_file_gets_the_documented_defaults() {
        let s = load("body = 'cnaf'\noffice = 'caf-13'\ndata_dir = '/d'\nout_dir = '/o'\n").unwrap();
        s.validate().unwrap();
        assert_eq!(s.retention(), REQUESTER_RETENTION_CAP);
        assert_eq!(s.legal_basis, DEFAULT_LEGAL_BASIS);
        assert_eq!(s.chunk_size, DEFAULT_CHUNK_SIZE);
    }

    #[test]
    fn retention_can_be_lowered_and_a_value_above_the_cap_is_refused() {
        let s =
            load("body = 'cnaf'\noffice = 'caf-13'\ndata_dir = '/d'\nout_dir = '/o'\nretention_days = 900\n").unwrap();
        let e = s.validate().unwrap_err();
        assert_eq!(e.key, "retention_days");
        assert!(e.message.contains("900 is out of range: from 1 to 730 days (Décret n° 2017-334, art. 5"), "{e}");
        let s =
            load("body = 'cnaf'\noffice = 'caf-13'\ndata_dir = '/d'\nout_dir = '/o'\nretention_days = 90\n").unwrap();
        s.validate().unwrap();
        assert_eq!(s.retention(), rules::days(90));
    }

    #[test]
    fn a_requester_of_a_body_with_offices_is_one_of_them_with_its_own_queue() {
        let base = "body = 'cnaf'\ndata_dir = '/d'\nout_dir = '/o'\n[broker.offices]\ncnaf = ['caf-13', 'caf-84']\n";
        let s = load(&format!("office = 'caf-84'\n{base}")).unwrap();
        s.validate().unwrap();
        assert_eq!(s.role(), passerelle_bus::Role::Office("cnaf.caf-84".into()));
        assert_eq!(s.results_queue(), passerelle_bus::Queue::OfficeResults("cnaf.caf-84".into()));
        let e = load(&format!("office = 'caf-06'\n{base}")).unwrap().validate().unwrap_err();
        assert_eq!(e.key, "office");
        assert!(e.message.contains("caf-06") && e.message.contains("[broker.offices]"), "{e}");
        let legacy = load("body = 'cnaf'\noffice = 'caf-06'\ndata_dir = '/d'\nout_dir = '/o'\n").unwrap();
        assert_eq!(legacy.results_queue(), passerelle_bus::Queue::BodyResults("cnaf".into()), "no offices: the body's");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err =
            load("body = 'cnaf'\noffice = 'caf-13'\ndata_dir = '/d'\nout_dir = '/o'\nretension = 3\n").unwrap_err();
        assert!(err.contains("retension"), "{err}");
        let s = load("body = 'caf'\noffice = 'caf-13'\ndata_dir = '/d'\nout_dir = '/o'\n").unwrap();
        assert_eq!(s.validate().unwrap_err().key, "body");
        let s = load(
            "body = 'cnaf'\noffice = 'caf-13'\ndata_dir = '/d'\nout_dir = '/o'\n[ranking.weights]\nshoe_size = 2\n",
        )
        .unwrap();
        assert_eq!(s.validate().unwrap_err().key, "ranking.weights.shoe_size");
    }

    #[test]
    fn the_legal_basis_is_one_of_the_list_and_the_office_a_code() {
        let base = "body = 'cnaf'\ndata_dir = '/d'\nout_dir = '/o'\n";
        let with = |extra: &str| load(&format!("{base}{extra}")).unwrap();
        let s = with("office = 'caf-13'\nlegal_basis = 'Décret n° 2017-334, art. 3'\n");
        assert_eq!(s.basis(), Some(passerelle_protocol::legal::FRAGILITY_EXCHANGE), "the reference text still reads");
        let err = with("office = 'caf-13'\nlegal_basis = 'any law you like'\n").validate().unwrap_err();
        assert_eq!(err.key, "legal_basis");
        assert!(err.message.contains("decree-2017-334-art-3"), "{err}");
        let err = with(&format!("office = '{}'\n", "o".repeat(33))).validate().unwrap_err();
        assert_eq!(err.key, "office");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert_eq!(parse_duration("36h").unwrap(), Duration::from_secs(36 * 3_600));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1_800));
        for bad in ["", "7", "d", "7w", "-1d", "0s", "1.5d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
