//! The subcommands. Each module owns its arguments and runs one role or tool.

use clap::{Parser, Subcommand};
use passerelle_settings::LogFormat;

use crate::exit::CliResult;

/// The long help's paragraph on a daemon's development hooks, naming its fault point.
macro_rules! development_hooks_help {
    ($fault_point:literal) => {
        concat!(
            "The development profile, asked for by name (the default profile is production), allows the
shared broker identity (`insecure_any_user`, one broker user for several parties), plain
`amqp://` to a broker on another host, a PostgreSQL source without TLS and the development
hooks for tests across processes; all are refused otherwise (exit 3, the key named). Announced at every start (a warning) and in /health (\"profile\": \"development\"):
  profile = \"development\"
  [development]
  clock_offset_s = 3600               # this daemon's clock, an hour ahead of the system's
  fault_points = [\"",
            $fault_point,
            "\"]
                                      # the process exits abruptly (status 70) there
"
        )
    };
}
pub(crate) use development_hooks_help;

pub mod access_log;
pub mod api;
pub mod audit;
pub mod bench;
pub mod conformance;
pub mod console;
pub mod ctl;
pub mod demo;
pub mod json;
pub mod observatory;
pub mod requester;
pub mod requester_api;
pub mod requester_cases;
pub mod requester_person;
mod requester_wait;
pub mod responder;
pub mod rights;
pub mod social_service;
pub mod social_service_archive;
mod social_service_archive_out;
mod social_service_out;
mod social_service_retention;
mod social_service_stats;
mod social_service_transfers;
pub mod stats;
pub mod synth;
pub mod topology;

/// Passerelle: the message broker of the fragility exchange (Décret n° 2017-334).
///
/// A requesting body selects persons aged 55 and over at risk of losing their autonomy; the
/// regional observatory of fragility situations asks the other bodies for the data categories of
/// the decree, aggregates their answers, returns them to the requester and forgets them within
/// 30 days.
#[derive(Debug, Parser)]
#[command(name = "passerelle", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Log output on stderr: `human` or `json` (one JSON object per line).
    #[arg(long, global = true, default_value = "human", env = "PASSERELLE_LOG_FORMAT")]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The requesting body's tools: check a selection file, submit it, receive results.
    #[command(subcommand)]
    Requester(requester::Command),
    /// The regional observatory of fragility situations: the router daemon.
    Observatory(observatory::Args),
    /// A solicited body's adapter: answer solicitations from its own data.
    Responder(responder::Args),
    /// The social service (CNIL norm 43): the worklist, case files, offers and local rights.
    #[command(subcommand, after_long_help = social_service::HELP)]
    SocialService(social_service::Command),
    /// Run the whole decree flow in one process on synthetic data.
    Demo(demo::Args),
    /// Make a synthetic population: a selection file and one extract per body (no real data).
    Synth(synth::Args),
    /// The broker topology: export it as a RabbitMQ definitions file.
    Topology(topology::Args),
    /// Operators' view: cases in flight, late bodies, purges, dead-letters, queues.
    Ctl(ctl::Args),
    /// The hash-chained audit trail: verify it, show it.
    Audit(audit::Args),
    /// A daemon's access log (who accessed what): verify it against its witness, show it.
    AccessLog(access_log::Args),
    /// Aggregate statistics from the pseudonymised statistics store.
    Stats(stats::Args),
    /// The persons' rights (decree art. 6): a rights officer's access and rectification requests.
    #[command(subcommand, after_long_help = rights::HELP)]
    Rights(rights::Command),
    /// The web console: a one-time URL opening a session for you in your browser.
    #[command(subcommand_required = true, after_long_help = console::HELP)]
    Console(console::Args),
    /// End-to-end benchmark against the real broker, as a ratio to the raw broker rate.
    Bench(bench::Args),
    /// Check your own responder (or requester) against the protocol, playing the observatory.
    Conformance(conformance::Args),
}

pub fn run(command: Command) -> CliResult {
    match command {
        Command::Requester(c) => requester::run(c),
        Command::Observatory(a) => observatory::run(a),
        Command::Responder(a) => responder::run(a),
        Command::SocialService(c) => social_service::run(c),
        Command::Demo(a) => demo::run(a),
        Command::Synth(a) => synth::run(a),
        Command::Topology(a) => topology::run(a),
        Command::Ctl(a) => ctl::run(a),
        Command::Audit(a) => audit::run(a),
        Command::AccessLog(a) => access_log::run(a),
        Command::Stats(a) => stats::run(a),
        Command::Rights(c) => rights::run(c),
        Command::Console(a) => console::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Conformance(a) => conformance::run(a),
    }
}
