//! `passerelle observatory run --config FILE`: the regional observatory's router daemon.
//!
//! Settings → broker (declares the topology) → stores → consume until SIGINT or SIGTERM. The
//! daemon resumes every case where it was: all state is in the case store, so a crash (even
//! `kill -9`) loses nothing.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use passerelle_observatory::ObservatorySettings;
use passerelle_party::{PartyKind, PartySettings};

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
    /// Exit (code 5) instead of standing by when another observatory holds the data_dir's or
    /// the territory's lock.
    #[arg(long)]
    pub no_wait: bool,
}

const RUN_HELP: &str = concat!(
    "\
The settings file (TOML; PASSERELLE_… environment variables override it, `__` nests):
  code = \"carsat-sud-est\"              # this observatory (one per territory)
  data_dir = \"/var/lib/passerelle/observatory\"   # observatory.db, statistics.key, statistics/statistics.db
  respond_by_default_days = 7          # when a request gives no deadline
  retention_days = 30                  # payload cap: 1 to 30, a larger value is refused (art. 5)
  chunk_size = 1000                    # persons per solicitation and result chunk
  audit_retention_years = 4            # audit years kept besides the current one (4: fixed by the norm)
  statistics_retention_days = 1826     # statistics rows (at most 5 years)
  rebuild_interval_s = 60              # a purge is unreadable on disk within this (at most 3600)
  [routing]                            # category → bodies asked (default: the catalogue's)
  job_seeker_registration = [\"cnaf\", \"cnav\"]
  [territory]                          # département → observatory overrides
  \"976\" = \"css-mayotte\"
  [broker]                             # see README, \"Broker settings\"
  urls = [\"amqps://observatory-sud-est@broker:5671/passerelle?auth_mechanism=external\"]
  start_timeout_s = 300                # seconds to wait for a broker down at start (0: forever)
  [broker.tls]                         # ca_file, cert_file (CN = the broker user), key_file
  [broker.identity]                    # outside development: one broker user per party (exit 3)
  insecure_any_user = false
  [broker.identity.users]              # broker user → the one party it speaks for
  \"observatory-sud-est\" = [\"carsat-sud-est\"]
  \"body-cnaf\" = [\"cnaf\"]               # … one line per body of the deployment

One observatory per territory: the daemon locks its data_dir (data_dir/observatory.lock, with
its host, pid and start time written in it), then its broker connection takes the territory's
lock (an exclusive queue, `<prefix>.observatory.<code>.lock`), before it opens its stores and
consumes. While another process holds either lock it stands by: it logs who holds it (at once,
then every minute), `/health` says `standing_by`, and it takes over when the lock is released
(a warm standby). With --no-wait it exits with code 5 and names the holder instead. If another
observatory took the territory's lock while this one was disconnected from the broker, it stops
consuming and exits with code 5.

The pseudonym key (HMAC key of the statistics pseudonyms) is generated on first start, mode
0600, unless `statistics_secret_file` names an existing one; only the daemon reads it, and it is
never in the statistics folder (data_dir/statistics/, the statistics store alone). A statistics
store of the earlier layout (data_dir/statistics.db) is moved there at start, keeping every
pseudonym. Logs never contain a NIR.

",
    super::development_hooks_help!("observatory.after_commit_before_publish"),
);

pub fn run(args: Args) -> CliResult {
    match args.command {
        Command::Run(a) => run_daemon(&a),
    }
}

/// Loads and checks the observatory's settings as `observatory run` does, but for the broker
/// identity (the commands that read them — `ctl status`, `audit`, `stats` — never speak on the
/// broker as the observatory): any problem is a settings failure (exit 3) naming the key and
/// where it was set.
pub(crate) fn settings(path: &Path) -> Result<ObservatorySettings, Failure> {
    match PartySettings::load_local(PartyKind::Observatory, path)? {
        PartySettings::Observatory(settings) => Ok(settings),
        other => Err(Failure::Settings(anyhow!("{} is not an observatory's settings", other.name()))),
    }
}

/// `observatory run`: the bootstrap of every party (passerelle_party).
fn run_daemon(args: &RunArgs) -> CliResult {
    let settings = PartySettings::load(PartyKind::Observatory, &args.config)?;
    let startup = passerelle_party::Startup { no_wait: args.no_wait };
    passerelle_party::run_daemon_with(settings, startup).map_err(|e| Failure::of_party(e, &args.config))?;
    Ok(Outcome::Success)
}
