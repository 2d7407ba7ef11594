//! `passerelle ctl …`: the operators' view of an observatory, or of a social service.
//!
//! `ctl status` asks the observatory daemon's local API for what an operator sees of its case
//! store (cases in flight and their age, bodies that are late, the next purge due, dead-letters
//! by reason, the outbox: role `operator`), and reads the queues' depths and consumers through
//! the RabbitMQ management API, when it is enabled — and says so plainly when it is not. Given
//! a social service's settings, it reports that daemon's transfers and its two queues instead
//! (`social_service`).

mod social_service;
mod status;

use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{anyhow, Context};
use passerelle_observatory::ObservatorySettings;
use passerelle_party::api::observatory::OperatorStatus;

use passerelle_management as management;

use crate::exit::{CliResult, Failure, Outcome};

// The management API's variables are not `PASSERELLE_…`: those override the settings file, whose
// unknown keys are refused.

/// Where the deploy kit installs the observatory's settings.
pub const DEFAULT_CONFIG: &str = "/etc/passerelle/observatory.toml";

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Cases in flight and their age, late bodies, the next purge, dead-letters, queues; or a
    /// social service's transfers and queues.
    #[command(after_long_help = STATUS_HELP)]
    Status(StatusArgs),
}

const STATUS_HELP: &str = "\
Asks the observatory daemon (its local API, at --socket or the settings' `[api] socket`; the
caller needs the role `operator` in the daemon's agent registry) and prints:
  - cases per state, and each case still holding payloads: its requester, persons, age, the time
    left to its deadline and to its 30-day cap;
  - late bodies: unanswered solicitation chunks past the reminder time (halfway to the deadline),
    whether the reminder went out, and whether the deadline has passed;
  - the next purge due (on a receipt, or at the 30-day cap);
  - dead-letters by reason, from the audit trail (ids replaced by <id>);
  - the queues of the deployment's prefix with their depth and consumers, read from the RabbitMQ
    management API (plugin rabbitmq_management: `rabbitmq-plugins enable rabbitmq_management`),
    and the consumers where none should be: an observatory's queues consumed on more than one
    connection (a second observatory of the territory), or a consumer on a queue nobody of the
    deployment consumes (the dead-letters, the holder queues, a queue outside the topology).
    The credentials default to the user and password of the first broker URL of the settings;
    under certificate login (`?auth_mechanism=external`, no password in the URL) to the deploy
    kit's operators' account, `passerelle-ops`, whose password RABBITMQ_MANAGEMENT_PASSWORD
    (or --management-password) gives.

Given a social service's settings (a top-level `office` and a [requester] table), it asks that
daemon instead (role `operator`, or a `social-worker` of the office) and prints its transfers
(norm 43, A.3): sent and awaiting the receipt, received and awaiting the office's decision, the
oldest in flight, refusals of the last 30 days by reason, accepted each way; and, when it has a
[broker] and the management API is enabled, its transfers and notices queues (counts only).";

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The observatory's or a social service's settings (TOML): its broker (for the queues)
    /// and its API socket.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// The daemon's API socket. Default: the settings' `[api] socket`.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// One JSON object on stdout instead of sentences.
    #[arg(long)]
    pub json: bool,
    /// The RabbitMQ management API (plain http://).
    #[arg(long, value_name = "URL", env = "RABBITMQ_MANAGEMENT_URL", default_value = management::DEFAULT_URL)]
    pub management_url: String,
    /// The management API user (default: the user of the first broker URL; `passerelle-ops`
    /// under certificate login).
    #[arg(long, value_name = "USER", env = "RABBITMQ_MANAGEMENT_USER")]
    pub management_user: Option<String>,
    /// The management API password (default: the password of the first broker URL).
    #[arg(long, value_name = "PASSWORD", env = "RABBITMQ_MANAGEMENT_PASSWORD", hide_env_values = true)]
    pub management_password: Option<String>,
    /// Do not ask the management API.
    #[arg(long)]
    pub no_management: bool,
}

pub fn run(args: Args) -> CliResult {
    match args.command {
        Command::Status(a) => status(&a),
    }
}

fn status(args: &StatusArgs) -> CliResult {
    if social_service::is_social_service(&args.config) {
        return social_service::status(args);
    }
    let settings: ObservatorySettings = super::observatory::settings(&args.config)?;
    let socket = match &args.socket {
        Some(socket) => socket.clone(),
        None => passerelle_party::PartySettings::Observatory(settings.clone()).api_socket(),
    };
    let now = SystemTime::now();
    let store: OperatorStatus = super::api::call(super::api::observatory_client(&socket).get_json("/v1/status"))?;
    let parts = store.parts;

    // A broker URL the bus cannot read is the settings' error, said as such.
    passerelle_bus::definitions::vhost(&settings.broker)
        .map_err(|e| Failure::Settings(anyhow!(e).context(format!("in {}", args.config.display()))))?;
    let queues = if args.no_management {
        management::Queues {
            available: false,
            management_url: args.management_url.clone(),
            vhost: passerelle_bus::definitions::vhost(&settings.broker).unwrap_or_default(),
            prefix: settings.broker.prefix.clone(),
            queues: Vec::new(),
            unexpected_consumers: Vec::new(),
            message: Some("not asked (--no-management).".to_owned()),
        }
    } else {
        management::report(
            &settings.broker,
            &args.management_url,
            args.management_user.as_deref(),
            args.management_password.as_deref(),
        )
    };

    let report = status::Status {
        observatory: store.observatory,
        data_dir: store.data_dir,
        at: status::rfc3339(now),
        parts,
        queues,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let text = super::json::line(super::json::CTL_STATUS, &report).context("cannot serialise the report")?;
        writeln!(out, "{text}").context("cannot write to stdout")?;
    } else {
        write!(out, "{}", status::render(&report)).context("cannot write to stdout")?;
    }
    Ok(Outcome::Success)
}
