//! `passerelle observatory run --config FILE`: the regional observatory's router daemon.
//!
//! Settings → broker (declares the topology) → stores → consume until SIGINT or SIGTERM. The
//! daemon resumes every case where it was: all state is in the case store, so a crash (even
//! `kill -9`) loses nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context};
use passerelle_bus::{AmqpBus, Bus, Role};
use passerelle_observatory::{Observatory, ObservatoryError, ObservatorySettings};
use passerelle_protocol::rules::SystemClock;

use crate::exit::{CliResult, Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the router: requests in, solicitations out, responses in, results out, purges.
    #[command(after_long_help = RUN_HELP)]
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The observatory's settings file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

const RUN_HELP: &str = "\
The settings file (TOML; PASSERELLE_… environment variables override it, `__` nests):
  code = \"carsat-sud-est\"              # this observatory (one per territory)
  data_dir = \"/var/lib/passerelle/observatory\"   # observatory.db, statistics.db, statistics.key
  respond_by_default_days = 7          # when a request gives no deadline
  retention_days = 30                  # payload cap: lowered only, never above 30 (art. 5)
  chunk_size = 1000                    # persons per solicitation and result chunk
  agent_id = \"jdupont\"                 # who `audit` and `stats` name in the audit trail
  audit_retention_years = 4            # audit years kept besides the current one (at most 4)
  statistics_retention_days = 1826     # statistics rows (at most 5 years)
  rebuild_interval_s = 60              # a purge is unreadable on disk within this (at most 3600)
  [routing]                            # category → bodies asked (default: the catalogue's)
  job_seeker_registration = [\"cnaf\", \"cnav\"]
  [territory]                          # département → observatory overrides
  \"976\" = \"css-mayotte\"
  [broker]                             # see README, \"Broker settings\"
  urls = [\"amqps://observatory:…@broker:5671/%2f\"]

The statistics secret (HMAC key of the pseudonyms) is generated on first start, mode 0600,
unless `statistics_secret_file` names an existing one. Logs never contain a NIR.

Exit status: 0 stopped by a signal; 3 invalid settings; 4 broker or storage unusable.";

pub fn run(args: Args) -> CliResult {
    match args.command {
        Command::Run(a) => run_daemon(&a),
    }
}

/// Loads and checks the observatory's settings: any problem is a settings failure (exit 3).
pub(crate) fn settings(path: &Path) -> Result<ObservatorySettings, Failure> {
    let settings: ObservatorySettings = passerelle_settings::load(path).map_err(|e| Failure::Settings(e.into()))?;
    settings.resolve().map_err(|e| Failure::Settings(anyhow!(e).context(format!("in {}", path.display()))))?;
    Ok(settings)
}

/// `observatory run`.
fn run_daemon(args: &RunArgs) -> CliResult {
    let settings = settings(&args.config)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let bus = AmqpBus::connect(&settings.broker, Role::Observatory(settings.code.clone()))
            .await
            .context("cannot connect to the broker")?;
        let bus = Arc::new(bus);
        // /metrics and /health on `metrics_addr`, when set; the bus is instrumented for the
        // per-body response latency.
        let registry = passerelle_metrics::MetricsRegistry::default();
        let health = passerelle_metrics::Health::new(bus.broker_health());
        passerelle_metrics::bus::register_bus(&registry, bus.stats());
        let metered = passerelle_observatory::metrics::instrument(Arc::clone(&bus) as Arc<dyn Bus>, &registry);
        let metrics_addr = settings.metrics_addr.clone();
        let observatory = Observatory::build(settings, metered, Arc::new(SystemClock)).map_err(|e| match e {
            ObservatoryError::Settings(_) => {
                Failure::Settings(anyhow!(e).context(format!("in {}", args.config.display())))
            }
            other => Failure::Runtime(anyhow!(other).context("the observatory cannot start")),
        })?;
        passerelle_observatory::metrics::register(&registry, &observatory.status_reader());
        let metrics = passerelle_metrics::serve(metrics_addr.as_deref(), registry, health.clone())
            .await
            .context("cannot serve the metrics")?;
        let shutdown = super::signals::armed(super::signals::shutdown_signal()).await;
        health.set(true);
        let result = observatory.run_until_stopped(shutdown).await;
        health.set(false);
        if let Some(server) = metrics {
            server.stop();
        }
        bus.close().await;
        result.context("the observatory stopped on an error")?;
        Ok(Outcome::Success)
    })
}
