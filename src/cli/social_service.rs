//! `passerelle social-service …`: the social service of norm 43. `run` is the daemon; every
//! other command is a call of its local API (`--socket`, or the `[api] socket` of `--config`),
//! the caller known by the socket's peer credentials: a `social-worker` of the daemon's office
//! for the worklist and the files, a `rights-officer` for `rights`. The `--json` outputs are the
//! daemon's answers, each with its `format` (docs/JSON.md); the worklist's under
//! `passerelle.social-service-worklist/1`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use passerelle_local_api::Client;
use passerelle_party::{PartyKind, PartySettings};
use passerelle_social_service::requester_client::{Outcome, OutcomeRequest, Worklist};
use passerelle_social_service::service::opposition::{DecideRequest, DecisionView};
use passerelle_social_service::service::views::*;
use passerelle_social_service::store::Decision;
use serde::Serialize;
use serde_json::Value;

use super::requester_api::call;
use super::social_service_out as out;
use crate::exit::{CliResult, Failure, Outcome as Exit};

/// The long help of `social-service`, with examples.
pub const HELP: &str = "\
The social service (CNIL norm 43) works through its requester office's ranked contact list
(the worklist, read at the requester daemon, never copied) and follows the persons who accept
in a case file of the norm's categories only. A person who declines never enters its store.

Examples (a social worker of the office):
  passerelle social-service worklist --config /etc/passerelle/social-service.toml --pending
  passerelle social-service open --case 0190b6a2-7c1e-7f00-8000-000000000001 --line 12
  passerelle social-service offer-outcome --case 0190b6a2-… --line 13 --outcome declined
  passerelle social-service list --state open
  passerelle social-service show FILE
  passerelle social-service update FILE --set care.gir_level=4 --set 'family.situation=\"widowed\"'
  passerelle social-service contact FILE --channel visit --date 2026-12-02
  passerelle social-service offer FILE --kind collective --theme falls_prevention \\
      --participant FILE2 --session 2026-12-10 --session 2026-12-17
  passerelle social-service action FILE --purpose precariousness_support --start 2026-12-01
  passerelle social-service close FILE --date 2026-12-20
A rights officer (with the director of the attached body):
  passerelle social-service rights access FILE --page access.html
  passerelle social-service rights rectify FILE --set 'identity.given_names=\"Alix\"'
  passerelle social-service rights object FILE --reason \"…the person's reasons…\"
  passerelle social-service rights refuse-archive FILE
The director's delegate decides an objection (live or archived file):
  passerelle social-service rights decide FILE --uphold
  passerelle social-service rights decide FILE --refuse --reason \"…why it is not founded…\"
The archive (`social-service archive --help`: grants, purposes):
  passerelle social-service archive grant --reader ar-7        # director-delegate or medical-officer
  passerelle social-service archive show FILE --purpose litigation   # archive-reader, under a grant
Retention (`retention --help`: the 18 months, what is flagged and why, what the pass does):
  passerelle social-service retention flagged          # a social worker: idle, objections, due soon
  passerelle social-service retention run              # an operator or the director's delegate
The insured moves to another body (`transfer --help`: who does what, in which order):
  passerelle social-service transfers release --file FILE --to cramif/ss-75   # a medical officer
  passerelle social-service transfer --file FILE --to cramif/ss-75            # a social worker
  passerelle social-service transfers list --in        # received: accept or refuse each
A statistics agent (`stats --help` says what is suppressed and how to merge bodies' exports):
  passerelle social-service stats --from 2026-01 --to 2026-06 --export body.json
  passerelle social-service stats merge body-1.json body-2.json

--set PATH=JSON: PATH is a field of the file (README, \"Social service\": identity.family_name,
care.gir_level, rights.benefits…), JSON its value (a text in double quotes, a number, true or
false, a list [...] of records {...}; null clears it). An unknown field is refused by name.
Every call is recorded in the daemon's access log before it answers.";

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The daemon: its store of case files, its local API, and with a [broker] its transfers.
    Run(RunArgs),
    /// The persons of the requester office's contact lists, in rank order (read at the requester).
    Worklist(WorklistArgs),
    /// Record that a person declined or did not reply (at the requester; nothing stored here).
    OfferOutcome(OutcomeArgs),
    /// Record that a person accepted (at the requester) and open their case file.
    Open(OpenArgs),
    /// The office's case files.
    List(ListArgs),
    /// One case file: its fields, actions, contacts and offers.
    Show(FileArgs),
    /// Change fields of a case file (`--set PATH=JSON`, repeatable).
    Update(SetArgs),
    /// Start a new action on a case file (one open at a time; a contact starts one if none is).
    Action(ActionArgs),
    /// Close a case file: its open action ends.
    Close(DateArgs),
    /// Record a contact with the person (letter, email, phone, visit, teleservice).
    Contact(ContactArgs),
    /// Record an offer: individual, or collective with sessions and participants.
    Offer(OfferArgs),
    /// The person's rights under the norm (rights-officer).
    #[command(subcommand)]
    Rights(RightsCommand),
    /// The archive: co-signed grants (director-delegate, medical-officer) and reads for a purpose
    /// (archive-reader).
    #[command(subcommand, after_long_help = super::social_service_archive::HELP)]
    Archive(super::social_service_archive::ArchiveCommand),
    /// The 18 months: run the retention pass now (operator, director-delegate); the office's
    /// flagged files and those leaving the live store soon (social-worker).
    #[command(subcommand, after_long_help = super::social_service_retention::HELP)]
    Retention(super::social_service_retention::RetentionCommand),
    /// Steering statistics (statistics-agent): counts by month, office and body, suppressed;
    /// `stats merge` for national figures.
    Stats(super::social_service_stats::StatsArgs),
    /// Send a case file to the insured's new health-insurance body (social worker, norm 43 A.3):
    /// the file is frozen and sent over the broker.
    #[command(after_long_help = super::social_service_transfers::HELP)]
    Transfer(super::social_service_transfers::TransferArgs),
    /// The office's transfers both ways: list, show, accept or refuse a received one (social
    /// worker); release a file's medical opinions for its transfer (medical officer).
    #[command(subcommand, after_long_help = super::social_service_transfers::HELP)]
    Transfers(super::social_service_transfers::TransfersCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum RightsCommand {
    /// Everything held about the person: JSON, and a printable page with --page.
    Access(AccessArgs),
    /// Rectify fields (`--set PATH=JSON`); recorded in the history as a rectification.
    Rectify(SetArgs),
    /// Record an objection under art. 38, with the person's reasons (the director decides).
    Object(ObjectArgs),
    /// Record the person's refusal of the archive (no decision needed; an archived file is
    /// erased from the archive at once).
    RefuseArchive(FileArgs),
    /// Decide the file's pending objection (director-delegate): upheld, the file is erased at
    /// once and the person gets no new offer; refused, the reason is recorded.
    Decide(DecideArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The social service's settings (TOML; deploy/social-service.toml is an example).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

/// `--socket` or `--config`: which social-service daemon a command calls.
#[derive(Debug, Clone, clap::Args)]
pub struct Api {
    /// The daemon's API socket (what its `[api] socket` says).
    #[arg(long, value_name = "PATH", required_unless_present = "config")]
    pub socket: Option<PathBuf>,
    /// The social service's settings file, read for its `[api] socket` only.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl Api {
    pub(super) fn client(&self) -> Result<Client, Failure> {
        let socket = match (&self.socket, &self.config) {
            (Some(socket), _) => socket.clone(),
            (None, Some(config)) => PartySettings::load_local(PartyKind::SocialService, config)?.api_socket(),
            (None, None) => return Err(Failure::Usage(anyhow!("give --socket or --config"))),
        };
        Ok(Client::new(socket).for_daemon("social-service run"))
    }
}

#[derive(Debug, clap::Args)]
pub struct WorklistArgs {
    #[command(flatten)]
    pub api: Api,
    /// Only the persons with no outcome yet.
    #[arg(long)]
    pub pending: bool,
    /// At most this many persons (1 to 1000, default 100).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// The page after this cursor (the `next` of the previous page).
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<String>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum NotAccepted {
    Declined,
    NoReply,
}

#[derive(Debug, clap::Args)]
pub struct OutcomeArgs {
    #[command(flatten)]
    pub api: Api,
    /// The case the person is in (the worklist's `case`).
    #[arg(long, value_name = "CASE")]
    pub case: String,
    /// The person's line in the case's selection (the worklist's `line`).
    #[arg(long, value_name = "LINE")]
    pub line: u64,
    /// declined, or no-reply.
    #[arg(long, value_enum)]
    pub outcome: NotAccepted,
    /// YYYY-MM-DD, not after today; today (in the body's legal time zone) by default.
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct OpenArgs {
    #[command(flatten)]
    pub api: Api,
    /// The case the person is in (the worklist's `case`).
    #[arg(long, value_name = "CASE")]
    pub case: String,
    /// The person's line in the case's selection (the worklist's `line`).
    #[arg(long, value_name = "LINE")]
    pub line: u64,
    /// YYYY-MM-DD, not after today; today (in the body's legal time zone) by default.
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum State {
    Open,
    Closed,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub api: Api,
    /// Only the open or the closed files.
    #[arg(long, value_enum)]
    pub state: Option<State>,
    /// The page after this file id (the last one of the previous page).
    #[arg(long, value_name = "FILE")]
    pub after: Option<String>,
    /// At most this many files (1 to 1000, default 100).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct FileArgs {
    #[command(flatten)]
    pub api: Api,
    /// The case file's id (from `open` or `list`).
    pub file: String,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SetArgs {
    #[command(flatten)]
    pub api: Api,
    /// The case file's id (from `open` or `list`).
    pub file: String,
    /// PATH=JSON, e.g. care.gir_level=4 or 'contacts.email="a@example.invalid"'.
    #[arg(long = "set", value_name = "PATH=JSON", required = true)]
    pub set: Vec<String>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct DateArgs {
    #[command(flatten)]
    pub api: Api,
    /// The case file's id (from `open` or `list`).
    pub file: String,
    /// YYYY-MM-DD, not after today; today (in the body's legal time zone) by default.
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ActionArgs {
    #[command(flatten)]
    pub api: Api,
    /// The case file's id (from `open` or `list`).
    pub file: String,
    /// relationship_and_offers (norm A.1, the default) or precariousness_support (A.2).
    #[arg(long, value_name = "PURPOSE")]
    pub purpose: Option<String>,
    /// YYYY-MM-DD, not after today; today (in the body's legal time zone) by default.
    #[arg(long, value_name = "DATE")]
    pub start: Option<String>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ContactArgs {
    #[command(flatten)]
    pub api: Api,
    /// The case file's id (from `open` or `list`).
    pub file: String,
    /// letter, email, phone, phone_message, visit or teleservice.
    #[arg(long, value_name = "CHANNEL")]
    pub channel: String,
    /// YYYY-MM-DD, not after today; today (in the body's legal time zone) by default.
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct OfferArgs {
    #[command(flatten)]
    pub api: Api,
    /// The case file's id (from `open` or `list`).
    pub file: String,
    /// individual or collective.
    #[arg(long, value_name = "KIND")]
    pub kind: String,
    /// falls_prevention, ageing_well, home_help, housing_adaptation, access_to_rights,
    /// access_to_care, job_retention, caregiver_support, return_home_after_hospital.
    #[arg(long, value_name = "THEME")]
    pub theme: String,
    /// A session's date (collective), repeatable.
    #[arg(long = "session", value_name = "YYYY-MM-DD")]
    pub sessions: Vec<String>,
    /// Another file taking part (collective), repeatable.
    #[arg(long = "participant", value_name = "FILE")]
    pub participants: Vec<String>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct AccessArgs {
    #[command(flatten)]
    pub api: Api,
    /// The case file's id (from `open` or `list`).
    pub file: String,
    /// Write the printable page (HTML, French, print stylesheet) here, mode 0600.
    #[arg(long, value_name = "OUT.html")]
    pub page: Option<PathBuf>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ObjectArgs {
    #[command(flatten)]
    pub api: Api,
    /// The case file's id (from `open` or `list`).
    pub file: String,
    /// The person's reasons (at most 2,000 characters, no NIR).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("decision").required(true).args(["uphold", "refuse"])))]
pub struct DecideArgs {
    #[command(flatten)]
    pub api: Api,
    /// The case file's id (live or archived).
    pub file: String,
    /// The objection is founded: the file is erased at once, the person gets no new offer.
    #[arg(long)]
    pub uphold: bool,
    /// The objection is not founded (give --reason).
    #[arg(long, requires = "reason")]
    pub refuse: bool,
    /// Why it is refused (at most 2,000 characters, no NIR).
    #[arg(long, value_name = "TEXT", conflicts_with = "uphold")]
    pub reason: Option<String>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

/// Writes a command's answer to stdout.
pub(super) fn print(text: &str) -> CliResult {
    std::io::stdout().lock().write_all(text.as_bytes()).context("cannot write to stdout")?;
    Ok(Exit::Success)
}

/// An answer as one JSON line (its `format` in docs/JSON.md).
pub(super) fn json<T: Serialize>(value: &T) -> Result<String, Failure> {
    Ok(serde_json::to_string(value).context("cannot write JSON")? + "\n")
}

/// `--set PATH=JSON` as updates; a value that is not JSON is taken as a text.
fn updates(set: &[String]) -> Result<UpdateRequest, Failure> {
    let mut updates = Vec::new();
    for s in set {
        let (field, value) = s
            .split_once('=')
            .ok_or_else(|| Failure::Usage(anyhow!("--set takes PATH=JSON (e.g. care.gir_level=4), not `{s}`")))?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        updates.push(FieldUpdate { field: field.trim().to_owned(), value });
    }
    Ok(UpdateRequest { updates })
}

fn path(file: &str, rest: &str) -> String {
    let file: String = file.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    format!("/v1/files/{file}{rest}")
}

fn changed(answer: &Changed, as_json: bool) -> CliResult {
    if as_json {
        return print(&json(answer)?);
    }
    print(&out::changed(answer))
}

pub fn run(command: Command) -> CliResult {
    match command {
        Command::Run(args) => {
            let settings = PartySettings::load(PartyKind::SocialService, &args.config)?;
            passerelle_party::run_daemon(settings).map_err(|e| Failure::of_party(e, &args.config))?;
            Ok(Exit::Success)
        }
        Command::Worklist(a) => {
            let mut query = format!("/v1/worklist?limit={}", a.limit.unwrap_or(100));
            if let Some(after) = &a.after {
                let cursor = passerelle_social_service::requester_client::percent(after.trim());
                query.push_str(&format!("&after={cursor}"));
            }
            if a.pending {
                query.push_str("&pending=true");
            }
            let mut page: Worklist = call(a.api.client()?.get_json(&query))?;
            if a.json {
                page.format = super::json::SOCIAL_SERVICE_WORKLIST.to_owned();
                return print(&json(&page)?);
            }
            print(&out::worklist(&page))
        }
        Command::OfferOutcome(a) => {
            let outcome = match a.outcome {
                NotAccepted::Declined => Outcome::Declined,
                NotAccepted::NoReply => Outcome::NoReply,
            };
            outcome_call(&a.api, &a.case, a.line, outcome, a.date, a.json)
        }
        Command::Open(a) => outcome_call(&a.api, &a.case, a.line, Outcome::Accepted, a.date, a.json),
        Command::List(a) => {
            let mut query = String::from("/v1/files?");
            if let Some(state) = a.state {
                query.push_str(match state {
                    State::Open => "state=open&",
                    State::Closed => "state=closed&",
                });
            }
            if let Some(after) = &a.after {
                query.push_str(&format!(
                    "after={}&",
                    after.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect::<String>()
                ));
            }
            query.push_str(&format!("limit={}", a.limit.unwrap_or(100)));
            let list: FileList = call(a.api.client()?.get_json(&query))?;
            if a.json {
                return print(&json(&list)?);
            }
            print(&out::list(&list))
        }
        Command::Show(a) => {
            let view: FileView = call(a.api.client()?.get_json(&path(&a.file, "")))?;
            if a.json {
                return print(&json(&view)?);
            }
            print(&out::file(&view))
        }
        Command::Update(a) => {
            let answer: Changed = call(a.api.client()?.post_json(&path(&a.file, "/update"), &updates(&a.set)?))?;
            changed(&answer, a.json)
        }
        Command::Action(a) => {
            let body = ActionRequest { purpose: a.purpose, start: a.start };
            let answer: Changed = call(a.api.client()?.post_json(&path(&a.file, "/actions"), &body))?;
            changed(&answer, a.json)
        }
        Command::Close(a) => {
            let body = CloseRequest { date: a.date };
            let answer: Changed = call(a.api.client()?.post_json(&path(&a.file, "/close"), &body))?;
            changed(&answer, a.json)
        }
        Command::Contact(a) => {
            let body = ContactRequest { channel: a.channel, date: a.date };
            let answer: Changed = call(a.api.client()?.post_json(&path(&a.file, "/contacts"), &body))?;
            changed(&answer, a.json)
        }
        Command::Offer(a) => {
            let mut participants = vec![a.file.clone()];
            participants.extend(a.participants);
            let sessions =
                a.sessions.into_iter().map(|date| SessionView { date: Some(date), attendees: Vec::new() }).collect();
            let body = OfferRequest { kind: a.kind, theme: a.theme, participants, sessions };
            let answer: Changed = call(a.api.client()?.post_json("/v1/offers", &body))?;
            changed(&answer, a.json)
        }
        Command::Rights(r) => rights(r),
        Command::Archive(a) => super::social_service_archive::run(a),
        Command::Retention(r) => super::social_service_retention::run(r),
        Command::Stats(a) => super::social_service_stats::run(a),
        Command::Transfer(a) => super::social_service_transfers::send(a),
        Command::Transfers(c) => super::social_service_transfers::run(c),
    }
}

fn outcome_call(api: &Api, case: &str, line: u64, outcome: Outcome, date: Option<String>, as_json: bool) -> CliResult {
    let case = case
        .trim()
        .parse()
        .map_err(|_| Failure::Usage(anyhow!("`{case}` is not a case id (the worklist's `case`)")))?;
    // No date: the daemon dates the outcome today in the body's legal time zone.
    let body = OutcomeRequest { case, line, outcome, date };
    let answer: OutcomeView = call(api.client()?.post_json("/v1/worklist/outcome", &body))?;
    if as_json {
        return print(&json(&answer)?);
    }
    print(&out::outcome(&answer))
}

fn rights(command: RightsCommand) -> CliResult {
    match command {
        RightsCommand::Access(a) => {
            let answer: AccessAnswer =
                call(a.api.client()?.post_json(&path(&a.file, "/rights/access"), &serde_json::json!({})))?;
            if let Some(page) = &a.page {
                let html = passerelle_social_service::printable::access_page(&answer);
                let mut f = passerelle_sqlite::private::create_file(page)
                    .with_context(|| format!("cannot write {}", page.display()))?;
                f.write_all(html.as_bytes()).with_context(|| format!("cannot write {}", page.display()))?;
                eprintln!("printable page written to {} (mode 0600)", page.display());
            }
            if a.json || a.page.is_none() {
                return print(&serde_json::to_string_pretty(&answer).context("cannot write JSON")?);
            }
            Ok(Exit::Success)
        }
        RightsCommand::Rectify(a) => {
            let answer: Changed =
                call(a.api.client()?.post_json(&path(&a.file, "/rights/rectify"), &updates(&a.set)?))?;
            changed(&answer, a.json)
        }
        RightsCommand::Object(a) => {
            let body = ObjectRequest { reasons: a.reason };
            let answer: RightView = call(a.api.client()?.post_json(&path(&a.file, "/rights/object"), &body))?;
            if a.json {
                return print(&json(&answer)?);
            }
            print(&out::right(&answer))
        }
        RightsCommand::Decide(a) => {
            let decision = if a.uphold { Decision::Upheld } else { Decision::Refused };
            let body = DecideRequest { decision, reason: a.reason };
            let answer: DecisionView = call(a.api.client()?.post_json(&path(&a.file, "/rights/decide"), &body))?;
            if a.json {
                return print(&json(&answer)?);
            }
            print(&out::decision(&answer))
        }
        RightsCommand::RefuseArchive(a) => {
            let answer: RightView =
                call(a.api.client()?.post_json(&path(&a.file, "/rights/refuse-archive"), &serde_json::json!({})))?;
            if a.json {
                return print(&json(&answer)?);
            }
            print(&out::right(&answer))
        }
    }
}
