//! `passerelle ctl …`: the operators' view of an observatory.
//!
//! `ctl status` reads the observatory's case store (read-only: cases in flight and their age,
//! bodies that are late, the next purge due, dead-letters by reason, the outbox) and the queues'
//! depths and consumers through the RabbitMQ management API, when it is enabled — and says so
//! plainly when it is not.

mod consumers;
mod management;
mod status;

use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{anyhow, Context};
use passerelle_observatory::ObservatorySettings;

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
    /// Cases in flight and their age, late bodies, the next purge, dead-letters, queues.
    #[command(after_long_help = STATUS_HELP)]
    Status(StatusArgs),
}

const STATUS_HELP: &str = "\
Reads the observatory's case store (read-only; it may run while the daemon runs) and prints:
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
    The credentials default to the user of the first broker URL of the settings.";

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The observatory's settings (TOML).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// One JSON object on stdout instead of sentences.
    #[arg(long)]
    pub json: bool,
    /// The RabbitMQ management API (plain http://).
    #[arg(long, value_name = "URL", env = "RABBITMQ_MANAGEMENT_URL", default_value = management::DEFAULT_URL)]
    pub management_url: String,
    /// The management API user (default: the user of the first broker URL).
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

/// The user and password of an AMQP URL, as the bus logs in with them (`guest`/`guest` when it
/// names none, as RabbitMQ does).
fn credentials(url: &str) -> (String, String) {
    match url.parse::<lapin::uri::AMQPUri>() {
        Ok(uri) => (uri.authority.userinfo.username, uri.authority.userinfo.password),
        Err(_) => ("guest".to_owned(), "guest".to_owned()),
    }
}

fn status(args: &StatusArgs) -> CliResult {
    let settings: ObservatorySettings = super::observatory::settings(&args.config)?;
    let db = settings.case_db_path();
    if !db.exists() {
        return Err(Failure::missing_store(&db, "observatory run"));
    }
    let store = passerelle_observatory_store::CaseStore::open(&db)
        .with_context(|| format!("cannot open the case store {}", db.display()))?;
    let now = SystemTime::now();
    let parts = store
        .read(|tx| status::read(tx, now))
        .with_context(|| format!("cannot read the case store {}", db.display()))?;
    drop(store);

    let vhost = passerelle_bus::definitions::vhost(&settings.broker)
        .map_err(|e| Failure::Settings(anyhow!(e).context(format!("in {}", args.config.display()))))?;
    let prefix = settings.broker.prefix.clone();
    let mut queues = status::Queues {
        available: false,
        management_url: args.management_url.clone(),
        vhost: vhost.clone(),
        prefix: prefix.clone(),
        queues: Vec::new(),
        unexpected_consumers: Vec::new(),
        message: None,
    };
    if args.no_management {
        queues.message = Some("not asked (--no-management).".to_owned());
    } else {
        let (url_user, url_password) = credentials(&settings.broker.urls[0]);
        let user = args.management_user.clone().unwrap_or(url_user);
        let password = args.management_password.clone().unwrap_or(url_password);
        match management::queues(&args.management_url, &user, &password, &vhost, &prefix) {
            Ok(list) => {
                let connections =
                    management::consumer_connections(&args.management_url, &user, &password, &vhost, &prefix)
                        .unwrap_or_else(|e| {
                            queues.message = Some(format!("the consumers' connections are not listed: {e}."));
                            Default::default()
                        });
                queues.unexpected_consumers = consumers::unexpected(&settings.broker, &list, &connections);
                queues.available = true;
                queues.queues = list;
            }
            Err(e) if e.is_unreachable() => {
                queues.message = Some(format!(
                    "{e}: queue depths and consumers need RabbitMQ's management plugin — enable it with \
                     `rabbitmq-plugins enable rabbitmq_management`, or give its address with --management-url."
                ));
            }
            Err(e) => queues.message = Some(format!("{e}.")),
        }
    }

    let report = status::Status {
        observatory: settings.code.clone(),
        data_dir: settings.data_dir.display().to_string(),
        at: status::rfc3339(now),
        cases_by_state: parts.cases_by_state,
        in_flight: parts.in_flight,
        late_bodies: parts.late_bodies,
        next_purge: parts.next_purge,
        dead_letters: parts.dead_letters,
        dead_letters_total: parts.dead_letters_total,
        outbox_messages: parts.outbox_messages,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_broker_url() {
        assert_eq!(credentials("amqp://guest:guest@127.0.0.1:5672/%2f"), ("guest".into(), "guest".into()));
        assert_eq!(credentials("amqps://obs:p%40ss@rabbit:5671/prod"), ("obs".into(), "p@ss".into()));
        assert_eq!(credentials("amqp://rabbit:5672"), ("guest".into(), "guest".into()));
    }
}
