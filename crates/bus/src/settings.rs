//! The deployment settings every service embeds under `[broker]` in its TOML: where the broker
//! is, the name prefix, the parties of the deployment and which broker user speaks for whom.
//!
//! ```toml
//! [broker]
//! urls = ["amqps://observatory@rabbit.example:5671/passerelle"]
//! prefix = "passerelle"
//! prefetch = 64
//! confirm_window = 512
//! start_timeout_s = 300                      # a daemon waits this long for the broker at start (0: forever)
//! observatories = ["carsat-sud-est"]
//! bodies = ["cnam", "cnav", "cnaf", "msa"]
//!
//! [broker.offices]                           # optional: a body's requester offices
//! cnaf = ["caf-13", "caf-84"]
//!
//! [broker.social_services]                   # optional: health-insurance social services
//! carsat-sud-est = ["ss-13"]                 # (norm 43 A.3 transfers; a fixed list of bodies)
//!
//! [broker.tls]
//! ca_file = "/etc/passerelle/ca.pem"
//! cert_file = "/etc/passerelle/client.pem"   # optional: client certificate (PEM)
//! key_file = "/etc/passerelle/client.key"    # optional: its private key (PEM, PKCS#8)
//!
//! [broker.identity]
//! insecure_any_user = false
//! [broker.identity.users]
//! "observatory-sud-est" = ["carsat-sud-est"]
//! "body-cnaf" = ["cnaf"]
//! "requester-caf-13" = ["cnaf.caf-13"]       # an office party: `body.office`
//! "social-service-ss-13" = ["carsat-sud-est.ss-13"]  # a social service: `body.office`
//! ```
//!
//! A body listed under `offices` receives its results per office (`crate::office`): each office
//! is a party with its own broker user and queues. Each social service under `social_services`
//! is a party too (`body.office`), with its transfers and notices queues; its hosting body must
//! be a health-insurance one (`passerelle_protocol::social_services`), never a CAF or a pension
//! service, and its party must not also be a requester office.
//!
//! The defaults are the development profile: the local broker as `guest`, who may speak for
//! every party (`insecure_any_user = true`, logged as a warning on connect). Outside the
//! development profile a party refuses them at start: it needs one broker user per party
//! ([`BusSettings::check_identity`]), and `amqps://` unless the broker is on the same host
//! ([`BusSettings::check_transport`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The development broker.
pub const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The default name prefix of exchanges and queues.
pub const DEFAULT_PREFIX: &str = "passerelle";

/// Unacknowledged deliveries the broker may push to one consumer: `basic_qos` is the only
/// back-pressure (lapin buffers without bound), and 64 chunks of tens of kB keep the pipe full
/// without holding megabytes per consumer.
pub const DEFAULT_PREFETCH: u16 = 64;

/// Published messages awaiting their confirm at once: enough to hide the round trip at tens of
/// thousands of messages per second, small enough to re-publish quickly after a reconnect.
pub const DEFAULT_CONFIRM_WINDOW: usize = 512;

/// How long a daemon started while its broker is down waits for it (retrying with the same
/// capped, jittered backoff as after a connection loss) before it gives up: long enough for a
/// broker restarted with the machine, short enough that a wrong host or port is noticed.
pub const DEFAULT_START_TIMEOUT_S: u64 = 300;

/// The four branches of social security that take part in the exchange (art. 3).
pub const DEFAULT_BODIES: [&str; 4] = ["cnam", "cnav", "cnaf", "msa"];

/// The development observatory.
pub const DEFAULT_OBSERVATORY: &str = "carsat-sud-est";

/// Deployment settings of the bus (in each service's TOML under `[broker]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct BusSettings {
    /// Broker URLs, tried in order on every (re)connection; `amqps://` for TLS.
    #[serde(default = "default_urls")]
    pub urls: Vec<String>,
    /// Prefix of every exchange and queue name, so environments and parallel tests share a broker.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// TLS trust and client certificate for `amqps://` URLs.
    #[serde(default)]
    pub tls: Option<TlsSettings>,
    /// See [`DEFAULT_PREFETCH`].
    #[serde(default = "default_prefetch")]
    pub prefetch: u16,
    /// See [`DEFAULT_CONFIRM_WINDOW`].
    #[serde(default = "default_confirm_window")]
    pub confirm_window: usize,
    /// Seconds a daemon waits for the broker at start, retrying (0: forever); a refused login
    /// is never retried. See [`DEFAULT_START_TIMEOUT_S`].
    #[serde(default = "default_start_timeout_s")]
    pub start_timeout_s: u64,
    /// The deployment's observatory codes: each gets a requests and a responses queue.
    #[serde(default = "default_observatories")]
    pub observatories: Vec<String>,
    /// The deployment's body codes: each gets a solicitations and a results queue.
    #[serde(default = "default_bodies")]
    pub bodies: Vec<String>,
    /// The requester offices of the bodies that have them (body code → office codes): each is a
    /// party of its own, with a results and a notices queue (see [`crate::office`]). A body not
    /// listed receives its results on its own results queue, as before offices existed.
    #[serde(default)]
    pub offices: crate::office::Offices,
    /// The health-insurance social services of the deployment (hosting body → office codes,
    /// `[broker.social_services]`, e.g. `carsat-sud-est = ["ss-13"]`): each `body.office` is a
    /// party of its own that sends and receives case-file transfers (norm 43, A.3), with its
    /// transfers and notices queues. The hosting body must be one of the health-insurance bodies
    /// of `passerelle_protocol::social_services`; it need not be one of `bodies`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub social_services: crate::office::Offices,
    /// Which broker user may speak for which party.
    #[serde(default)]
    pub identity: IdentitySettings,
}

/// TLS files (PEM). Without `ca_file`, the system roots are trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// The CA certificate(s) that signed the broker's certificate.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The client certificate chain, for brokers that authenticate by certificate.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

/// Which broker user may speak for which body or observatory. The broker validates the AMQP
/// `user_id` of every message against the publisher's login, and the receiver checks that user
/// against the message's `sender` field with this map.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySettings {
    /// Broker user → the party codes it may speak for: observatory and body codes, requester
    /// offices and social services (`body.office`).
    #[serde(default)]
    pub users: BTreeMap<String, Vec<String>>,
    /// INSECURE development profile: any broker user may speak for any party. Logged as a warning;
    /// refused at start outside `profile = "development"`.
    #[serde(default = "default_insecure")]
    pub insecure_any_user: bool,
}

impl IdentitySettings {
    /// Whether broker user `user` may publish messages whose `sender` is `party`.
    pub fn may_speak_for(&self, user: &str, party: &str) -> bool {
        self.insecure_any_user || self.users.get(user).is_some_and(|parties| parties.iter().any(|p| p == party))
    }
}

impl Default for IdentitySettings {
    /// The development profile: anyone speaks for anyone.
    fn default() -> Self {
        IdentitySettings { users: BTreeMap::new(), insecure_any_user: default_insecure() }
    }
}

impl Default for BusSettings {
    /// The development profile (local broker as guest, insecure identity).
    fn default() -> Self {
        BusSettings {
            urls: default_urls(),
            prefix: default_prefix(),
            tls: None,
            prefetch: default_prefetch(),
            confirm_window: default_confirm_window(),
            start_timeout_s: default_start_timeout_s(),
            observatories: default_observatories(),
            bodies: default_bodies(),
            offices: Default::default(),
            social_services: Default::default(),
            identity: IdentitySettings::default(),
        }
    }
}

impl BusSettings {
    /// Checks what serde cannot: something to connect to, non-zero limits, distinct codes
    /// usable in queue names.
    pub fn validate(&self) -> Result<(), crate::BusError> {
        self.check().map_err(|e| crate::BusError::Settings(e.to_string()))
    }

    /// [`BusSettings::validate`], naming the key at fault (under `[broker]`).
    pub fn check(&self) -> Result<(), BusSettingsError> {
        let bad = |key: &str, message: String| Err(BusSettingsError { key: key.to_owned(), message });
        if self.urls.is_empty() {
            return bad("urls", "empty: name at least one broker".into());
        }
        if self.prefetch == 0 {
            return bad("prefetch", "must be at least 1".into());
        }
        if self.confirm_window == 0 {
            return bad("confirm_window", "must be at least 1".into());
        }
        if self.prefix.is_empty() {
            return bad("prefix", "empty".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for (key, codes) in [("observatories", &self.observatories), ("bodies", &self.bodies)] {
            for code in codes {
                if !passerelle_protocol::ids::is_party_code(code) {
                    return bad(key, format!("party code {code:?}: use lowercase letters, digits, `-` and `_`"));
                }
                if !seen.insert(code) {
                    return bad(key, format!("party code {code:?} appears twice"));
                }
            }
        }
        for (body, offices) in &self.offices {
            let key = format!("offices.{body}");
            if !self.bodies.contains(body) {
                return bad(
                    &key,
                    format!("{body:?} is not one of `bodies`: only a body of the deployment has offices"),
                );
            }
            check_office_codes(offices, "the body's offices").map_err(|message| BusSettingsError { key, message })?;
        }
        for (body, offices) in &self.social_services {
            let key = format!("social_services.{body}");
            if let Err(reason) = passerelle_protocol::social_services::check_destination(body) {
                return bad(&key, reason);
            }
            check_office_codes(offices, "the body's social-service offices")
                .map_err(|message| BusSettingsError { key: key.clone(), message })?;
            if let Some(office) = offices.iter().find(|o| self.is_office(&crate::office::party(body, o))) {
                return bad(
                    &key,
                    format!(
                        "{:?} is also a requester office ([broker.offices]): a social service is a party of its own, \
                         give it another office code",
                        crate::office::party(body, office)
                    ),
                );
            }
        }
        for (user, parties) in &self.identity.users {
            for party in parties.iter().filter(|p| crate::office::split(p).is_some()) {
                if !self.is_office(party) && !self.is_social_service(party) {
                    return bad(
                        &format!("identity.users.{user}"),
                        format!(
                            "{party:?} is neither an office [broker.offices] declares nor a social service \
                             [broker.social_services] declares (`body.office`)"
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}

/// A body's office codes (`[broker.offices]` or `[broker.social_services]`): at least one, each
/// usable in a queue name, each once. `Err` says what is wrong (`what`: whose offices).
fn check_office_codes(offices: &[String], what: &str) -> Result<(), String> {
    if offices.is_empty() {
        return Err(format!("empty: name {what}, or remove the key"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for office in offices {
        if !passerelle_protocol::ids::is_office_code(office) {
            return Err(format!(
                "office code {office:?}: use lowercase letters, digits, `-` and `_`, at most {} characters",
                passerelle_protocol::ids::MAX_OFFICE_LEN
            ));
        }
        if !seen.insert(office) {
            return Err(format!("office code {office:?} appears twice"));
        }
    }
    Ok(())
}

/// A `[broker]` setting that cannot be used; `key` is relative to `[broker]` (`urls`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct BusSettingsError {
    pub key: String,
    pub message: String,
}

fn default_urls() -> Vec<String> {
    vec![DEFAULT_URL.to_owned()]
}
fn default_prefix() -> String {
    DEFAULT_PREFIX.to_owned()
}
fn default_prefetch() -> u16 {
    DEFAULT_PREFETCH
}
fn default_confirm_window() -> usize {
    DEFAULT_CONFIRM_WINDOW
}
fn default_start_timeout_s() -> u64 {
    DEFAULT_START_TIMEOUT_S
}
fn default_observatories() -> Vec<String> {
    vec![DEFAULT_OBSERVATORY.to_owned()]
}
fn default_bodies() -> Vec<String> {
    DEFAULT_BODIES.iter().map(|b| (*b).to_owned()).collect()
}
fn default_insecure() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_table_is_the_development_profile() {
        let s: BusSettings = toml::from_str("").unwrap();
        assert_eq!(s, BusSettings::default());
        assert!(s.identity.insecure_any_user);
        assert_eq!(s.bodies, ["cnam", "cnav", "cnaf", "msa"]);
        s.validate().unwrap();
    }

    #[test]
    fn each_field_defaults_on_its_own_and_unknown_keys_are_refused() {
        let s: BusSettings = toml::from_str("prefix = \"t1\"\n[identity.users]\nbob = [\"cnaf\"]\n").unwrap();
        assert_eq!(s.prefix, "t1");
        assert_eq!(s.prefetch, DEFAULT_PREFETCH);
        assert!(s.identity.insecure_any_user, "insecure_any_user keeps its default when users are set");
        assert!(toml::from_str::<BusSettings>("prefetchh = 3").is_err());
        assert!(toml::from_str::<BusSettings>("[identity]\nusers = {}\nother = 1").is_err());
    }

    #[test]
    fn identity_map_decides_who_speaks_for_whom() {
        let mut id = IdentitySettings { insecure_any_user: false, ..Default::default() };
        id.users.insert("body-cnaf".into(), vec!["cnaf".into()]);
        assert!(id.may_speak_for("body-cnaf", "cnaf"));
        assert!(!id.may_speak_for("body-cnaf", "cnam"));
        assert!(!id.may_speak_for("stranger", "cnaf"));
        id.insecure_any_user = true;
        assert!(id.may_speak_for("stranger", "cnam"));
    }

    #[test]
    fn validate_refuses_unusable_codes() {
        let s = BusSettings { bodies: vec!["cnaf".into(), "CNAF.x".into()], ..Default::default() };
        assert!(s.validate().is_err());
        let s = BusSettings { bodies: vec!["cnaf".into(), "cnaf".into()], ..Default::default() };
        assert!(s.validate().is_err());
    }

    #[test]
    fn offices_belong_to_a_body_of_the_deployment_and_identities_name_declared_offices() {
        let with = |toml: &str| toml::from_str::<BusSettings>(toml).unwrap().check();
        with("[offices]\ncnaf = ['caf-13', 'caf-84']\n[identity.users]\nu = ['cnaf.caf-13']\n").unwrap();
        let e = with("[offices]\ncaf = ['caf-13']\n").unwrap_err();
        assert_eq!(e.key, "offices.caf");
        assert_eq!(with("[offices]\ncnaf = []\n").unwrap_err().key, "offices.cnaf");
        assert_eq!(with("[offices]\ncnaf = ['CAF 13']\n").unwrap_err().key, "offices.cnaf");
        assert_eq!(with("[offices]\ncnaf = ['a', 'a']\n").unwrap_err().key, "offices.cnaf");
        let e = with("[offices]\ncnaf = ['caf-13']\n[identity.users]\nu = ['cnaf.caf-84']\n").unwrap_err();
        assert_eq!(e.key, "identity.users.u");
        assert!(e.message.contains("cnaf.caf-84"), "{e}");
    }

    #[test]
    fn social_services_are_health_insurance_bodies_with_offices_of_their_own() {
        let with = |toml: &str| toml::from_str::<BusSettings>(toml).unwrap().check();
        let s: BusSettings = toml::from_str(
            "[social_services]\ncarsat-sud-est = ['ss-13']\ncramif = ['ss-75', 'ss-93']\n\
             [identity.users]\nu = ['cramif.ss-93']\n",
        )
        .unwrap();
        s.check().unwrap();
        assert!(s.is_social_service("cramif.ss-93") && s.is_social_service("carsat-sud-est.ss-13"));
        assert!(!s.is_social_service("cramif.ss-13") && !s.is_social_service("cramif") && !s.is_office("cramif.ss-93"));
        let e = with("[social_services]\ncnaf = ['caf-13']\n").unwrap_err();
        assert_eq!(e.key, "social_services.cnaf");
        assert!(e.message.contains("CAF") && e.message.contains("norm 43"), "{e}");
        let e = with("[social_services]\ncnav = ['ss-1']\n").unwrap_err();
        assert_eq!(e.key, "social_services.cnav");
        assert!(e.message.contains("pension service"), "{e}");
        assert!(with("[social_services]\ncpam-13 = ['ss-1']\n").unwrap_err().message.contains("primary"));
        assert_eq!(with("[social_services]\ncramif = []\n").unwrap_err().key, "social_services.cramif");
        assert_eq!(with("[social_services]\ncramif = ['SS 75']\n").unwrap_err().key, "social_services.cramif");
        let e = with("[social_services]\ncramif = ['ss-75', 'ss-75']\n").unwrap_err();
        assert!(e.message.contains("twice"), "{e}");
        let e =
            with("bodies = ['cnam', 'cramif']\n[offices]\ncramif = ['ss-75']\n[social_services]\ncramif = ['ss-75']\n")
                .unwrap_err();
        assert_eq!(e.key, "social_services.cramif");
        assert!(e.message.contains("\"cramif.ss-75\" is also a requester office"), "{e}");
        let e = with("[social_services]\ncramif = ['ss-75']\n[identity.users]\nu = ['cramif.ss-93']\n").unwrap_err();
        assert_eq!(e.key, "identity.users.u");
        assert!(e.message.contains("cramif.ss-93") && e.message.contains("social service"), "{e}");
    }
}
