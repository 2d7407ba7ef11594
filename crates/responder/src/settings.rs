//! The responder's settings: which body it answers for, which categories that body holds, where
//! its local state lives, its broker account and its data source.
//!
//! Loaded with [`passerelle_settings::load`] (TOML, then `PASSERELLE_…` environment variables);
//! loading never connects. [`ResponderSettings::validate`] checks what serde cannot (the body
//! code, the category codes, one SQL query per held category) and resolves the held categories.
//!
//! ```toml
//! body = "cnaf"
//! holds = ["housing_aid", "rsa"]         # default: the catalogue's default holdings of the body
//! data_dir = "/var/lib/passerelle/responder"
//! metrics_addr = "127.0.0.1:9465"       # /metrics and /health (absent: not served)
//! # profile = "development"             # only to honour [development] hooks (passerelle_hooks)
//!
//! [broker]
//! urls = ["amqps://cnaf:secret@broker.example:5671/%2f"]
//!
//! [source]
//! kind = "extract"                      # `passerelle responder load` fills the index in data_dir
//! ```
//!
//! or, for a PostgreSQL source:
//!
//! ```toml
//! [source]
//! kind = "postgres"
//! url = "postgres://responder@db.example/benefits?sslmode=verify-full&sslrootcert=/etc/passerelle/pg-ca.pem"
//! pool_size = 4
//! identity_query = "SELECT nir, former_nir, sex, birth_year FROM insured WHERE nir = ANY($1) OR former_nir = ANY($1)"
//! [source.categories]
//! housing_aid = "SELECT nir, housing_aid FROM benefits WHERE nir = ANY($1)"
//! rsa = "SELECT nir, rsa FROM benefits WHERE nir = ANY($1)"
//! ```

use passerelle_agents::{AgentsSettings, ApiSettings};
use passerelle_witness::TrailSettings;
use std::collections::BTreeMap;
use std::path::PathBuf;

use passerelle_bus::BusSettings;
use passerelle_hooks::{DevelopmentSettings, Profile};
use passerelle_protocol::catalogue::{self, body};
use passerelle_protocol::v1::Category;
use secrecy::{ExposeSecret, SecretString};

/// The default number of PostgreSQL connections: one chunk is answered on one connection, and a
/// responder rarely has more than a few chunks in flight (the broker's prefetch bounds them).
pub const DEFAULT_POOL_SIZE: usize = 4;

/// The default bound on one PostgreSQL query, in seconds: a chunk's queries that take longer are
/// cancelled by the server and the category is declined as unavailable, rather than holding the
/// chunk (and its broker delivery) indefinitely.
pub const DEFAULT_STATEMENT_TIMEOUT_SECS: u64 = 30;

/// The default number of solicitation chunks answered at once. A consumer handles its deliveries
/// one at a time; two overlap one chunk's lookup with another's publish confirm, which is where
/// a chunk spends its time.
pub const DEFAULT_CONSUMERS: usize = 2;

/// The settings of `passerelle responder run` and `passerelle responder load`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResponderSettings {
    /// The body this responder answers for: `cnam`, `cnav`, `cnaf` or `msa`. Its solicitation
    /// queue is `{prefix}.body.{body}.solicitations` and its responses carry it as `sender`.
    pub body: String,
    /// The category codes this body holds and may answer. Anything else asked is declined.
    /// Default: the catalogue's default holdings of the body (DESIGN §2).
    #[serde(default)]
    pub holds: Option<Vec<String>>,
    /// Where the responder keeps its local state: the extract index (`extract-index.sqlite`).
    pub data_dir: PathBuf,
    /// Solicitation chunks answered at once (one queue consumer each).
    #[serde(default = "default_consumers")]
    pub consumers: usize,
    /// The broker account and topology names.
    #[serde(default)]
    pub broker: BusSettings,
    /// Where the body's data comes from.
    pub source: SourceSettings,
    /// Where `responder run` serves `/metrics` and `/health` (e.g. `127.0.0.1:9465`; port 0
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

/// Where the body's data comes from.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceSettings {
    /// A CSV extract indexed by `passerelle responder load` into `data_dir`.
    Extract(ExtractSettings),
    /// A PostgreSQL database queried per chunk.
    Postgres(PostgresSettings),
}

/// An extract source: nothing to set beyond `data_dir` (the index lives there); a struct so that
/// a stray key (a `url` left from a PostgreSQL source, say) is refused by name.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractSettings {}

/// A PostgreSQL source: one identity query and one query per held category, each run once per
/// solicitation chunk with the chunk's NIRs as a `text[]` parameter `$1`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSettings {
    /// A libpq-style URL or key=value string, e.g.
    /// `postgres://user@host:5432/db?sslmode=verify-full&sslrootcert=/etc/passerelle/pg-ca.pem`.
    /// Outside the development profile it must ask for `sslmode=verify-full` (passerelle_postgres).
    /// It may hold a password, so it is never logged.
    #[serde(serialize_with = "expose_in_settings_file")]
    pub url: SecretString,
    /// Connections in the pool.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// Per-query timeout in seconds (the server's `statement_timeout`).
    #[serde(default = "default_statement_timeout")]
    pub statement_timeout_secs: u64,
    /// Returns `(nir, former_nir, sex, birth_year)` rows for the NIRs in `$1`, matched on the
    /// current NIR *or* a former one (one row per former NIR, or `NULL`). `sex` and `birth_year`
    /// may be `NULL` when unknown.
    pub identity_query: String,
    /// Category code → a query returning `(nir, value)` rows for the current NIRs in `$1`. The
    /// value may be a boolean, an integer, a date or text in the value syntax (README, "Value
    /// syntax"); `NULL` means unknown.
    pub categories: BTreeMap<String, String>,
}

/// Writes the URL, password included, into a settings file: the one place it leaves its
/// wrapper, when a deployment writes the file its own spawned responder reads.
fn expose_in_settings_file<S: serde::Serializer>(url: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(url.expose_secret())
}

fn default_consumers() -> usize {
    DEFAULT_CONSUMERS
}

fn default_pool_size() -> usize {
    DEFAULT_POOL_SIZE
}

fn default_statement_timeout() -> u64 {
    DEFAULT_STATEMENT_TIMEOUT_SECS
}

/// What is wrong with settings that parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsError {
    UnknownBody(String),
    UnknownCategory(String),
    HoldsNothing,
    QueryForUnknownCategory(String),
    QueryForCategoryNotHeld(String),
    NoQueryForHeldCategory(String),
    EmptyPool,
    NoConsumer,
    MetricsAddr(String),
    /// `source.url` does not parse, or breaks the TLS rule of the profile (passerelle_postgres).
    SourceUrl(String),
}

impl SettingsError {
    /// The key at fault (dotted, as in the file).
    pub fn key(&self) -> String {
        match self {
            SettingsError::UnknownBody(_) => "body".to_owned(),
            SettingsError::UnknownCategory(_) | SettingsError::HoldsNothing => "holds".to_owned(),
            SettingsError::QueryForUnknownCategory(code) | SettingsError::QueryForCategoryNotHeld(code) => {
                format!("source.categories.{code}")
            }
            SettingsError::NoQueryForHeldCategory(_) => "source.categories".to_owned(),
            SettingsError::EmptyPool => "source.pool_size".to_owned(),
            SettingsError::NoConsumer => "consumers".to_owned(),
            SettingsError::MetricsAddr(_) => "metrics_addr".to_owned(),
            SettingsError::SourceUrl(_) => "source.url".to_owned(),
        }
    }

    /// What is wrong with it.
    pub fn message(&self) -> String {
        match self {
            SettingsError::UnknownBody(body) => {
                format!("\"{body}\" is not a body code: expected one of cnam, cnav, cnaf, msa")
            }
            SettingsError::UnknownCategory(e) => e.clone(),
            SettingsError::HoldsNothing => "empty: a responder that holds no category has nothing to answer".to_owned(),
            SettingsError::QueryForUnknownCategory(_) => {
                "not a category code of the decree (README, \"Categories\")".to_owned()
            }
            SettingsError::QueryForCategoryNotHeld(_) => {
                "the body is not configured to hold this category (add it to `holds`)".to_owned()
            }
            SettingsError::NoQueryForHeldCategory(code) => {
                format!("held category `{code}` has no query (add one, or remove it from `holds`)")
            }
            SettingsError::EmptyPool | SettingsError::NoConsumer => "must be at least 1".to_owned(),
            SettingsError::MetricsAddr(e) | SettingsError::SourceUrl(e) => e.clone(),
        }
    }
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.key(), self.message())
    }
}

impl std::error::Error for SettingsError {}

impl ResponderSettings {
    /// Checks the settings and returns the categories the body holds, in catalogue order.
    pub fn validate(&self) -> Result<Vec<Category>, SettingsError> {
        if !body::ALL.contains(&self.body.as_str()) {
            return Err(SettingsError::UnknownBody(self.body.clone()));
        }
        let held = match &self.holds {
            Some(codes) => {
                let mut held = Vec::with_capacity(codes.len());
                for code in codes {
                    let info = catalogue::by_code(code.trim()).ok_or_else(|| {
                        SettingsError::UnknownCategory(catalogue::UnknownCategory(code.clone()).to_string())
                    })?;
                    held.push(info.category);
                }
                held.sort_by_key(|c| *c as i32);
                held.dedup();
                held
            }
            None => catalogue::CATEGORIES
                .iter()
                .filter(|i| i.default_holders.contains(&self.body.as_str()))
                .map(|i| i.category)
                .collect(),
        };
        if held.is_empty() {
            return Err(SettingsError::HoldsNothing);
        }
        if self.consumers == 0 {
            return Err(SettingsError::NoConsumer);
        }
        if let Some(addr) = &self.metrics_addr {
            passerelle_metrics::check_addr(addr).map_err(SettingsError::MetricsAddr)?;
        }
        if let SourceSettings::Postgres(pg) = &self.source {
            if pg.pool_size == 0 {
                return Err(SettingsError::EmptyPool);
            }
            // Outside the development profile, only over TLS with the server verified.
            passerelle_postgres::Conninfo::parse(pg.url.expose_secret())
                .and_then(|c| c.check(self.profile == Profile::Development))
                .map_err(|e| SettingsError::SourceUrl(e.0))?;
            for code in pg.categories.keys() {
                let info =
                    catalogue::by_code(code).ok_or_else(|| SettingsError::QueryForUnknownCategory(code.clone()))?;
                if !held.contains(&info.category) {
                    return Err(SettingsError::QueryForCategoryNotHeld(code.clone()));
                }
            }
            if let Some(missing) = held.iter().find(|c| !pg.categories.contains_key(c.code())) {
                return Err(SettingsError::NoQueryForHeldCategory(missing.code().to_owned()));
            }
        }
        Ok(held)
    }

    /// The path of the extract index in `data_dir`.
    pub fn index_path(&self) -> PathBuf {
        self.data_dir.join(crate::index::INDEX_FILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Result<ResponderSettings, passerelle_settings::ConfigError> {
        passerelle_settings::load_from_str(text, Path::new("responder.toml"), Vec::new())
    }

    #[test]
    fn an_extract_responder_defaults_to_the_catalogue_holdings() {
        let s = parse("body = 'cnaf'\ndata_dir = '/tmp/x'\n[source]\nkind = 'extract'\n").unwrap();
        let held = s.validate().unwrap();
        assert!(held.contains(&Category::HousingAid) && held.contains(&Category::FamilySituation));
        assert!(!held.contains(&Category::LongTermCondition), "health data is not the CNAF's");
        assert_eq!(s.index_path(), Path::new("/tmp/x/extract-index.sqlite"));
    }

    #[test]
    fn explicit_holdings_are_checked_against_the_catalogue() {
        let s = parse(
            "body = 'cnam'\nholds = ['css', 'long_term_condition']\ndata_dir = '.'\n[source]\nkind = 'extract'\n",
        )
        .unwrap();
        assert_eq!(s.validate().unwrap(), vec![Category::Css, Category::LongTermCondition]);
        let s = parse("body = 'cnam'\nholds = ['religion']\ndata_dir = '.'\n[source]\nkind = 'extract'\n").unwrap();
        assert!(s.validate().unwrap_err().to_string().contains("unknown category `religion`"));
        let s = parse("body = 'caf'\ndata_dir = '.'\n[source]\nkind = 'extract'\n").unwrap();
        assert_eq!(s.validate().unwrap_err(), SettingsError::UnknownBody("caf".into()));
    }

    #[test]
    fn a_postgres_source_needs_one_query_per_held_category_and_no_other() {
        let base =
            "body = 'cnam'\nholds = ['css', 'long_term_condition']\ndata_dir = '.'\n[source]\nkind = 'postgres'\n\
                    url = 'postgres://u@h/db?sslmode=verify-full'\nidentity_query = 'SELECT 1'\n";
        let s = parse(&format!("{base}[source.categories]\ncss = 'a'\nlong_term_condition = 'b'\n")).unwrap();
        assert_eq!(s.validate().unwrap().len(), 2);
        let SourceSettings::Postgres(pg) = &s.source else { panic!("postgres") };
        assert_eq!((pg.pool_size, pg.statement_timeout_secs), (DEFAULT_POOL_SIZE, DEFAULT_STATEMENT_TIMEOUT_SECS));
        let s = parse(&format!("{base}[source.categories]\ncss = 'a'\n")).unwrap();
        assert_eq!(s.validate().unwrap_err(), SettingsError::NoQueryForHeldCategory("long_term_condition".into()));
        let s =
            parse(&format!("{base}[source.categories]\ncss = 'a'\nlong_term_condition = 'b'\nrsa = 'c'\n")).unwrap();
        assert_eq!(s.validate().unwrap_err(), SettingsError::QueryForCategoryNotHeld("rsa".into()));
    }

    #[test]
    fn a_postgres_source_without_verified_tls_is_refused_outside_development() {
        let with = |profile: &str, url: &str| {
            parse(&format!(
                "{profile}body = 'cnam'\nholds = ['css']\ndata_dir = '.'\n[source]\nkind = 'postgres'\n\
                 url = '{url}'\nidentity_query = 'SELECT 1'\n[source.categories]\ncss = 'a'\n"
            ))
            .unwrap()
            .validate()
        };
        for url in ["postgres://u:s3cret@db/x", "host=db sslmode=disable", "postgres://db/x?sslmode=prefer"] {
            let e = with("", url).unwrap_err();
            assert_eq!(e.key(), "source.url", "{url}");
            assert!(e.message().contains("sslmode=verify-full") && !e.message().contains("s3cret"), "{e}");
            with("profile = 'development'\n", url).expect("the development profile may go without TLS");
        }
        let e = with("profile = 'development'\n", "postgres://db/x?sslmode=require").unwrap_err();
        assert_eq!(e.key(), "source.url", "require verifies nothing, refused in every profile");
        with("", "postgres://db/x?sslmode=verify-full&sslrootcert=/etc/passerelle/pg-ca.pem").unwrap();
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = parse("body = 'cnam'\ndata_dir = '.'\nhold = ['css']\n[source]\nkind = 'extract'\n").unwrap_err();
        assert!(err.to_string().contains("hold"), "{err}");
        let err = parse("body = 'cnam'\ndata_dir = '.'\n[source]\nkind = 'extract'\nurl = 'x'\n").unwrap_err();
        assert!(err.to_string().contains("url"), "{err}");
        let err = parse("body = 'cnam'\ndata_dir = '.'\n[source]\nkind = 'csv'\n").unwrap_err();
        assert!(err.to_string().contains("csv"), "{err}");
    }
}
