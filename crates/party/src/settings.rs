//! A party's settings, whichever its role: loaded from its file and checked (the role's own
//! checks and the development hooks against the profile) before anything connects, and written
//! back as a settings file for a spawned process — serialised from the typed settings, never
//! assembled as text.

use std::path::Path;

use anyhow::anyhow;
use passerelle_bus::{BusSettings, Role};
use passerelle_hooks::{DevelopmentSettings, Hooks, Profile};
use passerelle_observatory::ObservatorySettings;
use passerelle_requester::RequesterSettings;
use passerelle_responder::ResponderSettings;
use passerelle_social_service::SocialServiceSettings;

use crate::PartyError;

/// The kinds of party, by the subcommand that runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartyKind {
    Observatory,
    Responder,
    Requester,
    /// The social service (norm 43): with a `[broker]`, the social service `body.office` of
    /// `[broker.social_services]`, sending and receiving case-file transfers (A.3); without one,
    /// a daemon of its store and local API only.
    SocialService,
}

impl PartyKind {
    /// The subcommand: `passerelle <command> run --config FILE`.
    pub fn command(self) -> &'static str {
        match self {
            PartyKind::Observatory => "observatory",
            PartyKind::Responder => "responder",
            PartyKind::Requester => "requester",
            PartyKind::SocialService => "social-service",
        }
    }
}

/// A setting that cannot be used: its dotted key and why.
struct Problem {
    key: String,
    message: String,
}

/// One party's settings.
#[derive(Debug, Clone)]
pub enum PartySettings {
    Observatory(ObservatorySettings),
    Responder(ResponderSettings),
    Requester(RequesterSettings),
    SocialService(SocialServiceSettings),
}

impl PartySettings {
    /// Loads a `kind` party's settings file (then the `PASSERELLE_…` environment) and checks
    /// them for a party that connects to its broker: a problem is a [`PartyError::Settings`]
    /// naming the key and where it was set (the variable, or the file's line and column).
    /// Outside `profile = "development"` the broker is named, reached over TLS unless it is on
    /// this host, and each party has a broker identity of its own
    /// ([`passerelle_bus::BusSettings::check_identity`]).
    pub fn load(kind: PartyKind, path: &Path) -> Result<PartySettings, PartyError> {
        let (settings, sources) = PartySettings::load_sourced(kind, path)?;
        settings.require_identity(&sources)?;
        Ok(settings)
    }

    /// [`PartySettings::load`] for a command that works on the party's own folders and never
    /// speaks on the broker as the party (`responder load`, `requester status`, `audit`…): every
    /// check but the broker identity, which is the daemon's to refuse.
    pub fn load_local(kind: PartyKind, path: &Path) -> Result<PartySettings, PartyError> {
        PartySettings::load_sourced(kind, path).map(|(settings, _)| settings)
    }

    /// [`PartySettings::load_local`], with where each key was set.
    fn load_sourced(kind: PartyKind, path: &Path) -> Result<(PartySettings, passerelle_settings::Sources), PartyError> {
        let settings_error = |e: passerelle_settings::ConfigError| PartyError::Settings(anyhow!(e));
        let (settings, sources) = match kind {
            PartyKind::Observatory => {
                passerelle_settings::load_sourced(path).map(|l| (PartySettings::Observatory(l.settings), l.sources))
            }
            PartyKind::Responder => {
                passerelle_settings::load_sourced(path).map(|l| (PartySettings::Responder(l.settings), l.sources))
            }
            PartyKind::Requester => {
                passerelle_settings::load_sourced(path).map(|l| (PartySettings::Requester(l.settings), l.sources))
            }
            PartyKind::SocialService => {
                passerelle_settings::load_sourced(path).map(|l| (PartySettings::SocialService(l.settings), l.sources))
            }
        }
        .map_err(settings_error)?;
        settings.problems().map_err(|p| settings_error(sources.invalid(&p.key, p.message)))?;
        settings.require_broker(&sources).map_err(settings_error)?;
        Ok((settings, sources))
    }

    /// Everything that can be checked without connecting: the role's own checks, then the
    /// development hooks against the profile. Returns the hooks the party honours.
    pub fn check(&self) -> Result<Hooks, PartyError> {
        self.problems().map_err(|p| PartyError::Settings(anyhow!("invalid setting `{}`: {}", p.key, p.message)))
    }

    /// [`PartySettings::check`], with the key at fault.
    fn problems(&self) -> Result<Hooks, Problem> {
        let keyed = |key: String, message: String| Problem { key, message };
        let broker = |e: passerelle_bus::BusSettingsError| keyed(format!("broker.{}", e.key), e.message);
        let (profile, development) = match self {
            PartySettings::Observatory(s) => {
                s.resolve().map_err(|e| keyed(e.key, e.message))?;
                (s.profile, &s.development)
            }
            PartySettings::Responder(s) => {
                s.validate().map_err(|e| keyed(e.key(), e.message()))?;
                s.broker.check().map_err(broker)?;
                (s.profile, &s.development)
            }
            PartySettings::Requester(s) => {
                s.validate().map_err(|e| keyed(e.key, e.message))?;
                s.broker.check().map_err(broker)?;
                (s.profile, &s.development)
            }
            PartySettings::SocialService(s) => {
                social_service_problems(s)?;
                (s.profile, &s.development)
            }
        };
        self.trails().check().map_err(|message| keyed("trails".into(), message))?;
        self.api().check_console().map_err(|(key, message)| keyed(key.into(), message))?;
        Hooks::check(profile, development).map_err(|e| keyed(e.key, e.message))
    }

    /// Its `data_dir`.
    pub fn data_dir(&self) -> &std::path::Path {
        match self {
            PartySettings::Observatory(s) => &s.data_dir,
            PartySettings::Responder(s) => &s.data_dir,
            PartySettings::Requester(s) => &s.data_dir,
            PartySettings::SocialService(s) => &s.data_dir,
        }
    }

    /// `[trails]`: its legal time zone, its witness, its checkpoint interval.
    pub fn trails(&self) -> &passerelle_witness::TrailSettings {
        match self {
            PartySettings::Observatory(s) => &s.trails,
            PartySettings::Responder(s) => &s.trails,
            PartySettings::Requester(s) => &s.trails,
            PartySettings::SocialService(s) => &s.trails,
        }
    }

    /// The party that witnesses its trails: `[trails] witness`, else, for a body or a requester
    /// office, the deployment's observatory when it has exactly one. An observatory has no default.
    pub fn witness(&self) -> Option<String> {
        let only_observatory = match (self, self.broker().observatories.as_slice()) {
            // No broker: its trails are chained, not witnessed (settings refuse a witness).
            (PartySettings::SocialService(_), _) => return None,
            (PartySettings::Observatory(_), _) => None,
            (_, [one]) => Some(one.as_str()),
            _ => None,
        };
        self.trails().witness_or(only_observatory).map(str::to_owned)
    }

    /// Outside `profile = "development"`, the broker is named by the settings: without
    /// `broker.urls` a party would log in as `guest` to the local broker's vhost `/` and use (or,
    /// for an observatory, declare) the default names there.
    fn require_broker(&self, sources: &passerelle_settings::Sources) -> Result<(), passerelle_settings::ConfigError> {
        let no_broker = !self.has_broker();
        if no_broker || self.profile() == Profile::Development || sources.is_set("broker.urls") {
            return Ok(());
        }
        Err(sources.invalid(
            "broker.urls",
            "not set: outside `profile = \"development\"` the settings name the broker — a [broker] section \
             with urls = [\"amqps://broker.example:5671/passerelle?auth_mechanism=external\"] (README, \
             \"Settings\"), or PASSERELLE_BROKER__URLS; the development default (guest on the local \
             broker's vhost /) is never used in production",
        ))
    }

    /// Outside `profile = "development"`, the broker over TLS unless it is on this host
    /// ([`BusSettings::check_transport`]), and one broker identity per party: no shared user, no
    /// `insecure_any_user`, and its own login mapped to it alone.
    fn require_identity(&self, sources: &passerelle_settings::Sources) -> Result<(), PartyError> {
        if self.profile() == Profile::Development || !self.has_broker() {
            return Ok(());
        }
        let broker = self.broker();
        broker
            .check_transport()
            .and_then(|()| broker.check_identity(&self.role()))
            .map_err(|e| PartyError::Settings(anyhow!(sources.invalid(&format!("broker.{}", e.key), e.message))))
    }

    /// The profile it runs under (`profile`, production by default).
    pub fn profile(&self) -> Profile {
        match self {
            PartySettings::Observatory(s) => s.profile,
            PartySettings::Responder(s) => s.profile,
            PartySettings::Requester(s) => s.profile,
            PartySettings::SocialService(s) => s.profile,
        }
    }

    /// Its folders, before anything connects ([`crate::storage`]): an unusable one is a
    /// runtime failure (exit 4) naming the key, the path and what is wrong.
    pub fn check_storage(&self) -> Result<(), PartyError> {
        crate::storage::check(self).map_err(|e| PartyError::Runtime(anyhow!(e)))
    }

    pub fn kind(&self) -> PartyKind {
        match self {
            PartySettings::Observatory(_) => PartyKind::Observatory,
            PartySettings::Responder(_) => PartyKind::Responder,
            PartySettings::Requester(_) => PartyKind::Requester,
            PartySettings::SocialService(_) => PartyKind::SocialService,
        }
    }

    /// `observatory carsat-sud-est`, `responder cnam`, `requester cnaf`: for messages.
    pub fn name(&self) -> String {
        format!("{} {}", self.kind().command(), self.code())
    }

    /// The observatory's or the body's code.
    pub fn code(&self) -> &str {
        match self {
            PartySettings::Observatory(s) => &s.code,
            PartySettings::Responder(s) => &s.body,
            PartySettings::Requester(s) => &s.body,
            PartySettings::SocialService(s) => &s.body,
        }
    }

    /// Who it is on the broker.
    pub fn role(&self) -> Role {
        match self {
            PartySettings::Observatory(s) => Role::Observatory(s.code.clone()),
            PartySettings::Responder(s) => Role::Body(s.body.clone()),
            PartySettings::Requester(s) => s.role(),
            // With or without a broker, its party code (`body.office`) names its trails.
            PartySettings::SocialService(s) => Role::SocialService(social_service_party(s)),
        }
    }

    /// Whether it speaks on a broker: every party but a social service without `[broker]`.
    pub fn has_broker(&self) -> bool {
        !matches!(self, PartySettings::SocialService(s) if s.broker.is_none())
    }

    /// Its broker settings (for a social service without `[broker]`, the development default,
    /// which it never connects to: see [`PartySettings::has_broker`]).
    pub fn broker(&self) -> &BusSettings {
        static NONE: std::sync::OnceLock<BusSettings> = std::sync::OnceLock::new();
        match self {
            PartySettings::SocialService(s) => {
                s.broker.as_ref().unwrap_or_else(|| NONE.get_or_init(BusSettings::default))
            }
            PartySettings::Observatory(s) => &s.broker,
            PartySettings::Responder(s) => &s.broker,
            PartySettings::Requester(s) => &s.broker,
        }
    }

    /// Its broker settings, to change; a social service without `[broker]` is given one (the
    /// development default) first, so it connects once built.
    pub fn broker_mut(&mut self) -> &mut BusSettings {
        match self {
            PartySettings::SocialService(s) => s.broker.get_or_insert_with(BusSettings::default),
            PartySettings::Observatory(s) => &mut s.broker,
            PartySettings::Responder(s) => &mut s.broker,
            PartySettings::Requester(s) => &mut s.broker,
        }
    }

    /// Sets its profile and development hooks (checked when it is built or loaded).
    pub fn set_development(&mut self, profile: Profile, development: DevelopmentSettings) {
        let (p, d) = match self {
            PartySettings::Observatory(s) => (&mut s.profile, &mut s.development),
            PartySettings::Responder(s) => (&mut s.profile, &mut s.development),
            PartySettings::Requester(s) => (&mut s.profile, &mut s.development),
            PartySettings::SocialService(s) => (&mut s.profile, &mut s.development),
        };
        *p = profile;
        *d = development;
    }

    /// Where it serves `/metrics` and `/health`, if anywhere.
    pub fn metrics_addr(&self) -> Option<&str> {
        match self {
            PartySettings::Observatory(s) => s.metrics_addr.as_deref(),
            PartySettings::Responder(s) => s.metrics_addr.as_deref(),
            PartySettings::Requester(s) => s.metrics_addr.as_deref(),
            PartySettings::SocialService(s) => s.metrics_addr.as_deref(),
        }
    }

    /// Where its local API is served: `[api] socket`, else `run/<data_dir's name>.sock` beside
    /// its `data_dir`.
    /// Its `[api]` settings: the local API's socket and the web console.
    pub fn api(&self) -> &passerelle_agents::ApiSettings {
        match self {
            PartySettings::Observatory(s) => &s.api,
            PartySettings::Responder(s) => &s.api,
            PartySettings::Requester(s) => &s.api,
            PartySettings::SocialService(s) => &s.api,
        }
    }

    pub fn api_socket(&self) -> std::path::PathBuf {
        let (api, data_dir) = match self {
            PartySettings::Observatory(s) => (&s.api, &s.data_dir),
            PartySettings::Responder(s) => (&s.api, &s.data_dir),
            PartySettings::Requester(s) => (&s.api, &s.data_dir),
            PartySettings::SocialService(s) => (&s.api, &s.data_dir),
        };
        api.socket_or_default(data_dir)
    }

    /// `[agents]`: its registry.
    pub fn agents(&self) -> &passerelle_agents::AgentsSettings {
        match self {
            PartySettings::Observatory(s) => &s.agents,
            PartySettings::Responder(s) => &s.agents,
            PartySettings::Requester(s) => &s.agents,
            PartySettings::SocialService(s) => &s.agents,
        }
    }

    /// Its settings file, as TOML.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        match self {
            PartySettings::Observatory(s) => toml::to_string(s),
            PartySettings::Responder(s) => toml::to_string(s),
            PartySettings::Requester(s) => toml::to_string(s),
            PartySettings::SocialService(s) => toml::to_string(s),
        }
    }

    /// Writes its settings file (it may hold the broker's and a database's passwords: the
    /// caller chooses where).
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        use anyhow::Context;
        let text = self.to_toml().with_context(|| format!("cannot serialise the settings of {}", self.name()))?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// A social service's party code on the broker and in its trails: `body.office`.
fn social_service_party(s: &SocialServiceSettings) -> String {
    passerelle_bus::office::party(&s.body, &s.office)
}

/// A social service's own checks, then its `[broker]`'s: usable, and naming this office under
/// `[broker.social_services]`. Its `[trails] witness` is refused with or without a broker: the
/// checkpoints of a social service are not yet routed to a witness.
fn social_service_problems(s: &SocialServiceSettings) -> Result<(), Problem> {
    let keyed = |key: String, message: String| Problem { key, message };
    if s.trails.witness.is_some() {
        return Err(keyed(
            "trails.witness".into(),
            "a social service's checkpoints are not yet routed to a witness: remove the key; its access log is \
             chained and verified locally (`access-log verify`)"
                .into(),
        ));
    }
    s.validate().map_err(|e| keyed(e.key, e.message))?;
    let Some(broker) = &s.broker else { return Ok(()) };
    broker.check().map_err(|e| keyed(format!("broker.{}", e.key), e.message))?;
    let declared = broker.social_services.get(&s.body).is_some_and(|offices| offices.contains(&s.office));
    if !declared {
        return Err(keyed(
            format!("broker.social_services.{}", s.body),
            format!(
                "office {:?} of body {:?} is not declared there: a social service on the broker is one of \
                 [broker.social_services] (e.g. `{} = [\"{}\"]`), with its transfers queue and its own broker user",
                s.office, s.body, s.body, s.office
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use passerelle_responder::{PostgresSettings, SourceSettings};

    use super::*;

    /// A file written from the settings is read back as the same settings.
    #[test]
    fn settings_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut observatory = ObservatorySettings::new("carsat-sud-est", dir.path().join("o"));
        observatory.metrics_addr = Some("127.0.0.1:0".to_owned());
        observatory.profile = Profile::Development;
        observatory.development = DevelopmentSettings {
            clock_offset_s: Some(86_400),
            fault_points: vec!["observatory.after_commit_before_publish".to_owned()],
        };
        let mut requester = RequesterSettings::for_dir("cnaf", "caf-13", &dir.path().join("r"));
        requester.broker.identity.insecure_any_user = false;
        requester.broker.identity.users.insert("guest".to_owned(), vec!["cnaf".to_owned()]);
        let postgres: PostgresSettings = toml::from_str(
            "url = \"postgres://responder:secret@db/benefits\"\nidentity_query = \"SELECT 1\"\n[categories]\n",
        )
        .unwrap();
        let mut responder: ResponderSettings =
            toml::from_str(&format!("body = \"cnam\"\ndata_dir = {:?}\n[source]\nkind = \"extract\"\n", "/d")).unwrap();
        responder.source = SourceSettings::Postgres(postgres);
        for party in [
            PartySettings::Observatory(observatory),
            PartySettings::Requester(requester),
            PartySettings::Responder(responder),
            PartySettings::SocialService(SocialServiceSettings::for_dir(
                "carsat-sud-est",
                "ss-13",
                &dir.path().join("s"),
                &dir.path().join("run/requester.sock"),
                "cpam-13",
            )),
        ] {
            let path: PathBuf = dir.path().join(format!("{}.toml", party.code()));
            party.write(&path).unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            let again = match party.kind() {
                PartyKind::Observatory => PartySettings::Observatory(toml::from_str(&text).unwrap()),
                PartyKind::Responder => PartySettings::Responder(toml::from_str(&text).unwrap()),
                PartyKind::Requester => PartySettings::Requester(toml::from_str(&text).unwrap()),
                PartyKind::SocialService => PartySettings::SocialService(toml::from_str(&text).unwrap()),
            };
            assert_eq!(again.to_toml().unwrap(), text, "{}", party.name());
            if party.kind() != PartyKind::Responder {
                // (The responder's PostgreSQL source here has no query per held category.)
                PartySettings::load(party.kind(), &path).unwrap_or_else(|e| panic!("{}: {e:#}", party.name()));
            }
        }
        let written = std::fs::read_to_string(dir.path().join("cnam.toml")).unwrap();
        assert!(written.contains("postgres://responder:secret@db/benefits"), "{written}");
        let written = std::fs::read_to_string(dir.path().join("cnaf.toml")).unwrap();
        assert!(!written.contains("profile") && !written.contains("development"), "production by default: {written}");
    }

    #[test]
    fn the_api_socket_is_the_setting_else_named_after_the_data_dir() {
        let dir = Path::new("/var/lib/passerelle");
        let mut observatory = ObservatorySettings::new("carsat-sud-est", dir.join("observatory"));
        let requester = RequesterSettings::for_dir("cnaf", "caf-13", &dir.join("requester"));
        assert_eq!(PartySettings::Requester(requester).api_socket(), dir.join("requester/run/data.sock"));
        assert_eq!(PartySettings::Observatory(observatory.clone()).api_socket(), dir.join("run/observatory.sock"));
        observatory.api.socket = Some("/run/passerelle/observatory.sock".into());
        assert_eq!(PartySettings::Observatory(observatory).api_socket(), Path::new("/run/passerelle/observatory.sock"));
    }

    #[test]
    fn a_hook_outside_development_is_a_settings_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut requester = RequesterSettings::for_dir("cnaf", "caf-13", dir.path());
        requester.development.clock_offset_s = Some(-60);
        let path = dir.path().join("requester.toml");
        PartySettings::Requester(requester).write(&path).unwrap();
        let e = PartySettings::load(PartyKind::Requester, &path).unwrap_err();
        assert!(matches!(e, PartyError::Settings(_)));
        let text = format!("{e:#}");
        assert!(text.contains("development.clock_offset_s") && text.contains("requester.toml"), "{text}");
    }

    #[test]
    fn a_role_check_is_blamed_on_the_line_and_the_broker_is_required_outside_development() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requester.toml");
        let base = "body = \"cnaf\"\noffice = \"caf-13\"\ndata_dir = \"/d\"\nout_dir = \"/o\"\n";
        std::fs::write(&path, format!("{base}retention_days = 900\n[broker]\nurls = [\"amqp://h/v\"]\n")).unwrap();
        let e = format!("{:#}", PartySettings::load(PartyKind::Requester, &path).unwrap_err());
        assert!(
            e.contains("requester.toml, line 5, column 1: `retention_days`: 900 is out of range: from 1 to 730 days"),
            "{e}"
        );
        std::fs::write(&path, base).unwrap();
        let e = format!("{:#}", PartySettings::load(PartyKind::Requester, &path).unwrap_err());
        assert!(e.contains("requester.toml: `broker.urls`: not set: outside `profile = \"development\"`"), "{e}");
        std::fs::write(&path, format!("profile = \"development\"\n{base}")).unwrap();
        let settings = PartySettings::load(PartyKind::Requester, &path).unwrap();
        assert_eq!(settings.broker().urls, passerelle_bus::BusSettings::default().urls, "the development default");
    }

    #[test]
    fn a_daemon_needs_its_own_broker_identity_outside_development() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("responder.toml");
        let base = "body = \"cnam\"\ndata_dir = \"/d\"\n[source]\nkind = \"extract\"\n\
                    [broker]\nurls = [\"amqps://body-cnam:pw@rabbit/passerelle\"]\n";
        std::fs::write(&path, base).unwrap();
        let e = PartySettings::load(PartyKind::Responder, &path).unwrap_err();
        assert!(matches!(e, PartyError::Settings(_)), "{e}");
        let text = format!("{e:#}");
        assert!(text.contains("responder.toml") && text.contains("`broker.identity.insecure_any_user`"), "{text}");
        PartySettings::load_local(PartyKind::Responder, &path).expect("a local command does not speak on the broker");

        let shared = "[broker.identity]\ninsecure_any_user = false\n[broker.identity.users]\n\
                      \"body-cnam\" = [\"cnam\", \"cnav\"]\n";
        std::fs::write(&path, format!("{base}{shared}")).unwrap();
        let text = format!("{:#}", PartySettings::load(PartyKind::Responder, &path).unwrap_err());
        assert!(text.contains("`broker.identity.users`: broker user \"body-cnam\" speaks for 2"), "{text}");
        std::fs::write(&path, format!("profile = \"development\"\n{base}{shared}")).unwrap();
        PartySettings::load(PartyKind::Responder, &path).expect("the development profile, asked for by name");

        let own = "[broker.identity]\ninsecure_any_user = false\n[broker.identity.users]\n\"body-cnam\" = [\"cnam\"]\n";
        std::fs::write(&path, format!("{base}{own}")).unwrap();
        let settings = PartySettings::load(PartyKind::Responder, &path).unwrap();
        assert_eq!(settings.profile(), Profile::Production);

        // Plain AMQP: only to a broker on this host.
        std::fs::write(&path, format!("{}{own}", base.replace("amqps://", "amqp://"))).unwrap();
        let text = format!("{:#}", PartySettings::load(PartyKind::Responder, &path).unwrap_err());
        assert!(text.contains("line 6, column 1: `broker.urls`") && text.contains("write `amqps://`"), "{text}");
        std::fs::write(
            &path,
            format!("{}{own}", base.replace("amqps://body-cnam:pw@rabbit", "amqp://body-cnam:pw@[::1]")),
        )
        .unwrap();
        PartySettings::load(PartyKind::Responder, &path).expect("plain AMQP to this host");
    }
}

#[cfg(test)]
mod social_service_tests {
    use super::*;

    const BASE: &str = "body = \"carsat-sud-est\"\noffice = \"ss-13\"\ndata_dir = \"/d\"\n\
                        [requester]\nsocket = \"/r.sock\"\noffice = \"cpam-13\"\n";

    fn load(text: &str) -> Result<PartySettings, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("social-service.toml");
        std::fs::write(&path, text).unwrap();
        PartySettings::load(PartyKind::SocialService, &path).map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn without_a_broker_it_speaks_on_none_and_its_trails_are_its_party() {
        let settings = load(BASE).unwrap();
        assert!(!settings.has_broker());
        assert_eq!(settings.role(), Role::SocialService("carsat-sud-est.ss-13".into()));
        assert_eq!(settings.witness(), None);
    }

    #[test]
    fn with_a_broker_its_office_is_declared_under_social_services() {
        let broker = "[broker]\nurls = [\"amqp://u:p@rabbit/passerelle\"]\n";
        let e = load(&format!("profile = \"development\"\n{BASE}{broker}")).unwrap_err();
        assert!(e.contains("`broker.social_services.carsat-sud-est`") && e.contains("\"ss-13\""), "{e}");
        let declared = format!("{broker}[broker.social_services]\ncarsat-sud-est = [\"ss-13\"]\n");
        let settings = load(&format!("profile = \"development\"\n{BASE}{declared}")).unwrap();
        assert!(settings.has_broker());
        assert_eq!(settings.broker().urls, ["amqp://u:p@rabbit/passerelle"]);
        assert_eq!(settings.role(), Role::SocialService("carsat-sud-est.ss-13".into()));
        let e = load(&format!("profile = \"development\"\n{BASE}{broker}prefetch = 0\n")).unwrap_err();
        assert!(e.contains("`broker.prefetch`"), "the [broker] is checked: {e}");
    }

    #[test]
    fn outside_development_a_broker_needs_its_urls_and_a_broker_user_of_its_own() {
        let e = load(&format!("{BASE}[broker.social_services]\ncarsat-sud-est = [\"ss-13\"]\n")).unwrap_err();
        assert!(e.contains("`broker.urls`: not set"), "{e}");
        let broker = "[broker]\nurls = [\"amqps://ss13:p@rabbit/passerelle\"]\n\
                      [broker.social_services]\ncarsat-sud-est = [\"ss-13\"]\n";
        let e = load(&format!("{BASE}{broker}")).unwrap_err();
        assert!(e.contains("`broker.identity.insecure_any_user`"), "{e}");
    }

    #[test]
    fn a_witness_is_refused_because_its_checkpoints_are_not_yet_routed() {
        let e = load(&format!("{BASE}[trails]\nwitness = \"carsat-sud-est\"\n")).unwrap_err();
        assert!(e.contains("`trails.witness`") && e.contains("not yet routed"), "{e}");
    }

    #[test]
    fn broker_mut_gives_a_social_service_a_broker() {
        let mut settings = load(BASE).unwrap();
        settings.broker_mut().prefix = "t1".into();
        assert!(settings.has_broker());
        assert_eq!(settings.broker().prefix, "t1");
    }
}
