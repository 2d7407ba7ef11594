//! A deployment: a territory's observatory, the responders it solicits and a requester, each
//! with its settings, all on one broker. It runs in this process ([`Deployment::start_in_process`],
//! the demo) or writes one settings file per party for processes of the binary
//! ([`Deployment::write_settings`], the benchmark and the tests' stack), serialised from the
//! settings types.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use passerelle_bus::{Bus, BusSettings};
use passerelle_hooks::Profile;
use passerelle_observatory::{ObservatorySettings, StatusReader};
use passerelle_requester::RequesterSettings;
use passerelle_responder::{ExtractSettings, ResponderSettings, ResponderStats, SourceSettings};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Party, PartyError, PartySettings};

/// The parties of a deployment, by their settings.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub observatory: ObservatorySettings,
    /// One per solicited body, answering from an extract indexed in its folder.
    pub responders: Vec<ResponderSettings>,
    pub requester: RequesterSettings,
}

impl Deployment {
    /// Every party on `broker`, with its defaults and a folder of its own in `root`:
    /// `observatory/`, `responder-<body>/`, `requester/` (its store in `data/`, its results in
    /// `out/`). The requester is the body `requester.0`, office `requester.1`.
    pub fn new(
        root: &Path,
        broker: &BusSettings,
        observatory: &str,
        bodies: &[String],
        requester: (&str, &str),
    ) -> Deployment {
        let mut observatory = ObservatorySettings::new(observatory, root.join("observatory"));
        observatory.broker = broker.clone();
        // The first solicited body witnesses the observatory's trails; the observatory
        // witnesses the bodies' and the requester's (their default).
        observatory.trails.witness = bodies.first().cloned();
        let responders = bodies
            .iter()
            .map(|body| ResponderSettings {
                body: body.clone(),
                holds: None,
                data_dir: root.join(format!("responder-{body}")),
                consumers: passerelle_responder::settings::DEFAULT_CONSUMERS,
                broker: broker.clone(),
                source: SourceSettings::Extract(ExtractSettings::default()),
                metrics_addr: None,
                api: Default::default(),
                agents: Default::default(),
                trails: Default::default(),
                profile: Default::default(),
                development: Default::default(),
            })
            .collect();
        let mut requester = RequesterSettings::for_dir(requester.0, requester.1, &root.join("requester"));
        requester.broker = broker.clone();
        Deployment { observatory, responders, requester }
    }

    /// Persons per request, solicitation and result chunk.
    pub fn set_chunk_size(&mut self, chunk_size: usize) {
        self.observatory.chunk_size = chunk_size;
        self.requester.chunk_size = chunk_size;
    }

    /// Every party on `broker`.
    pub fn set_broker(&mut self, broker: &BusSettings) {
        self.observatory.broker = broker.clone();
        for responder in &mut self.responders {
            responder.broker = broker.clone();
        }
        self.requester.broker = broker.clone();
    }

    /// Every party under `profile`. A deployment whose parties share one broker login (the
    /// tests' stack, the benchmark, the demo over RabbitMQ) asks for
    /// [`Profile::Development`] by name: the production profile refuses a shared user at start.
    pub fn set_profile(&mut self, profile: Profile) {
        self.observatory.profile = profile;
        for responder in &mut self.responders {
            responder.profile = profile;
        }
        self.requester.profile = profile;
    }

    /// The parties in their start order: the observatory first (it declares the topology), the
    /// responders, the requester.
    pub fn parties(&self) -> Vec<PartySettings> {
        std::iter::once(PartySettings::Observatory(self.observatory.clone()))
            .chain(self.responders.iter().cloned().map(PartySettings::Responder))
            .chain(std::iter::once(PartySettings::Requester(self.requester.clone())))
            .collect()
    }

    /// The responder of `body`.
    pub fn responder(&self, body: &str) -> Option<&ResponderSettings> {
        self.responders.iter().find(|r| r.body == body)
    }

    /// Creates every party's folder.
    pub fn create_dirs(&self) -> anyhow::Result<()> {
        let dirs = std::iter::once(&self.observatory.data_dir)
            .chain(self.responders.iter().map(|r| &r.data_dir))
            .chain([&self.requester.data_dir, &self.requester.out_dir]);
        for dir in dirs {
            passerelle_sqlite::private::create_folder(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Ok(())
    }

    /// Writes one settings file per party in `dir` — `observatory.toml`,
    /// `responder-<body>.toml`, `requester.toml`, what `passerelle <party> run --config` reads —
    /// and returns them in the start order.
    pub fn write_settings(&self, dir: &Path) -> anyhow::Result<Vec<(PartySettings, PathBuf)>> {
        self.parties()
            .into_iter()
            .map(|party| {
                let path = dir.join(settings_file_name(&party));
                party.write(&path)?;
                Ok((party, path))
            })
            .collect()
    }

    /// Builds every party on the bus `bus_for` gives it, then runs the observatory and the
    /// responders in this process; the requester is built, not run: the caller submits and
    /// follows its cases with it. A party that fails to start stops the others.
    pub async fn start_in_process(
        &self,
        mut bus_for: impl FnMut(&PartySettings) -> Arc<dyn Bus>,
    ) -> Result<InProcess, PartyError> {
        let mut running = Running::default();
        let mut status = None;
        let mut responder_stats = BTreeMap::new();
        let mut requester = None;
        for settings in self.parties() {
            let (name, code) = (settings.name(), settings.code().to_owned());
            let bus = bus_for(&settings);
            let party = match Party::build_on(settings, bus).await {
                Ok(party) => party,
                Err(e) => {
                    let _ = running.stop().await;
                    return Err(e.context(format!("the {name} cannot start")));
                }
            };
            if let Some(reader) = party.status_reader() {
                status = Some(reader);
            }
            if let Some(stats) = party.responder_stats() {
                responder_stats.insert(code, stats);
            }
            if party.requester().is_some() {
                requester = Some(party);
            } else {
                running.spawn(party);
            }
        }
        match (status, requester) {
            (Some(status), Some(requester)) => Ok(InProcess { running, status, responder_stats, requester }),
            _ => Err(PartyError::Runtime(anyhow!("a deployment has an observatory and a requester"))),
        }
    }
}

/// `observatory.toml`, `responder-<body>.toml`, `requester.toml`.
pub fn settings_file_name(party: &PartySettings) -> String {
    match party {
        PartySettings::Responder(s) => format!("responder-{}.toml", s.body),
        other => format!("{}.toml", other.kind().command()),
    }
}

/// A deployment started in this process.
#[derive(Debug)]
pub struct InProcess {
    /// The observatory and the responders.
    pub running: Running,
    /// The observatory's store, read-only.
    pub status: StatusReader,
    /// Each responder's running totals, by body.
    pub responder_stats: BTreeMap<String, Arc<ResponderStats>>,
    /// The requester, built and not running: see [`Party::requester`].
    pub requester: Party,
}

/// Parties running in this process, stopped together.
#[derive(Debug)]
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<(String, JoinHandle<Result<(), PartyError>>)>,
}

impl Default for Running {
    fn default() -> Self {
        Running { stop: watch::channel(false).0, tasks: Vec::new() }
    }
}

impl Running {
    /// Runs `party` until [`Running::stop`].
    pub fn spawn(&mut self, party: Party) {
        let mut stop = self.stop.subscribe();
        let name = party.name().to_owned();
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        self.tasks.push((name, tokio::spawn(party.run_until_stopped(shutdown))));
    }

    /// Stops every party and waits for it (in-flight work finishes first); every failure is
    /// named in the error.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let mut failures = Vec::new();
        for (name, task) in self.tasks {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!("the {name}: {e:#}")),
                Err(e) => failures.push(format!("the {name}'s task: {e}")),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            bail!("{}", failures.join("; "))
        }
    }
}
