//! `passerelle conformance …`: a partner body checks its own implementation against the
//! protocol, in a vhost or prefix of its own (the rules and their checks: `passerelle-conformance`).
//!
//! - `conformance responder --body CODE --write-extract FILE`: writes the synthetic persons the
//!   partner's responder must hold (the responder's extract format), and stops.
//! - `conformance responder --body CODE --amqp-url URL --prefix P`: plays the observatory against
//!   the partner's responder and prints one `PASS|FAIL rule — …` line per rule and a summary;
//!   exit 1 when a rule fails.
//! - `conformance requester --party BODY[.OFFICE] --amqp-url URL --prefix P`: plays the
//!   observatory against the partner's requester (its Request, a Refusal and a Result sent back,
//!   its Receipt), with the same report.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use passerelle_conformance::population::Population;
use passerelle_conformance::requester::{self, RequesterRun};
use passerelle_conformance::responder::{self, ResponderRun};
use passerelle_conformance::Report;
use passerelle_protocol::catalogue;
use passerelle_protocol::v1::Category;

use crate::exit::{CliResult, Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Play the observatory against your responder: solicit it, check every Response, rule by rule.
    #[command(after_long_help = RESPONDER_HELP)]
    Responder(ResponderArgs),
    /// Play the observatory against your requester: check its Request, answer it, check its Receipt.
    #[command(after_long_help = REQUESTER_HELP)]
    Requester(RequesterArgs),
}

const REQUESTER_HELP: &str = "\
Run it on a vhost or prefix of your own, then have your requester send one case (persons aged 55
or more) to the --observatory code (default `conformance`): the command declares the topology as
the observatory would, waits --wait-s for the Request on {prefix}.observatory.{observatory}.requests,
refuses the first person of chunk 0 (a Refusal), answers the others in 2 Result chunks (every
person NOT_FOUND by one body), sent to the party's results queue ({prefix}.body.{body}.results, or
{prefix}.requester.{body}.{office}.results for --party body.office), and waits --deadline-s for
the Receipt your requester must send once it holds every Result chunk. One line per rule:
request-received, request-properties, request-headers, request-chunks, request-fields,
request-basis, request-service, persons-valid, persons-aged-55, known-risk-factors-in-branch,
receipt-sent; then a summary.";

#[derive(Debug, clap::Args)]
pub struct RequesterArgs {
    /// Your requester's party: a body code (cnam, cnav, cnaf, msa), or `body.office` when the
    /// deployment gives the body requester offices (e.g. `cnaf.caf-13`).
    #[arg(long, value_name = "BODY[.OFFICE]")]
    pub party: String,

    /// The broker, with a user that may declare the prefix's topology and publish as the observatory.
    #[arg(long, value_name = "URL")]
    pub amqp_url: String,

    /// The prefix of every queue and exchange name, as in your requester's settings.
    #[arg(long, value_name = "P")]
    pub prefix: String,

    /// The observatory code this command plays (your Request's `observatory` and routing key).
    #[arg(long, value_name = "CODE", default_value = "conformance")]
    pub observatory: String,

    /// The seconds to wait for your Request.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub wait_s: u64,

    /// The seconds your requester has to send its Receipt once the Result is sent.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub deadline_s: u64,

    /// The broker user your requester publishes as (its messages' `user_id` must be it).
    #[arg(long, value_name = "USER")]
    pub partner_user: Option<String>,
}

const RESPONDER_HELP: &str = "\
Two steps, in a vhost or prefix of your own (nothing of a real deployment):

1. Write the extract your responder must hold, and load it as you load your data:
     passerelle conformance responder --body cnaf --write-extract conformance.csv
   (the Rust responder: `passerelle responder load --without-daemon --config … conformance.csv`).
   Synthetic persons only; the same file every time for the same --body and --holds.

2. Run the check, then start your responder on the same broker and prefix (it waits --wait-s for
   a consumer on {prefix}.body.{body}.solicitations; the topology is declared by this command,
   as the observatory would, and left in place):
     passerelle conformance responder --body cnaf --amqp-url amqp://… --prefix conformance

It sends one solicitation in 3 chunks (persons known, unknown, known only by a former NIR — in the
solicitation's former_nirs or in your extract's —, a NIR and a former NIR of two persons, a NIR
whose sex or birth year disagrees), asking every category of the decree but one you do not hold
(those you do not hold must be declined NOT_HELD, the one not asked gets no value) and the
number 99 (outside the decree: declined NOT_IN_DECREE); then a reminder of chunk 1 and chunk 2 again (the same
message, the same message_id). It reads each Response off {prefix}.observatory.{observatory}.responses
and prints one line per rule:
  PASS rule-name — what was checked
  FAIL rule-name — what was wrong / fix: how to fix it
then a summary. The rules (docs/PARTNERS.md states the protocol): all-chunks-answered,
answered-in-time, decodable, type-property, content-type, message-id, user-id, correlation-id,
expiration, schema-version, schema-minor, chunk-headers, sender, answers-the-chunk,
one-answer-per-person, no-person-twice, no-person-outside-chunk, status, found-by-current-nir,
current-nir-first, former-nir-matched, identity-mismatch-not-found, values-only-asked-and-held,
values-decodable, values-match-extract, declines-not-held, declines-not-in-decree,
reminder-answered, duplicate-answered.

Your responder must accept solicitations from the --observatory code (default `conformance`) and
publish its Responses with that code as routing key.";

#[derive(Debug, clap::Args)]
pub struct ResponderArgs {
    /// Your body code: cnam, cnav, cnaf or msa (the solicitations' `body`, your queue's name).
    #[arg(long, value_name = "CODE")]
    pub body: String,

    /// The categories your responder holds, by code, comma-separated (as its `holds` setting).
    /// Default: the body's default holdings (README, "Categories").
    #[arg(long, value_name = "CODES")]
    pub holds: Option<String>,

    /// Write the extract your responder must hold to FILE, and stop (step 1).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["amqp_url", "prefix"])]
    pub write_extract: Option<PathBuf>,

    /// The broker, with a user that may declare the prefix's topology and publish as the
    /// observatory (your test vhost's).
    #[arg(long, value_name = "URL", required_unless_present = "write_extract")]
    pub amqp_url: Option<String>,

    /// The prefix of every queue and exchange name, as in your responder's settings.
    #[arg(long, value_name = "P", required_unless_present = "write_extract")]
    pub prefix: Option<String>,

    /// The observatory code this command plays.
    #[arg(long, value_name = "CODE", default_value = "conformance")]
    pub observatory: String,

    /// The seconds your responder has to answer (the solicitations' respond_by).
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub deadline_s: u64,

    /// The seconds to wait for your responder to consume its queue.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub wait_s: u64,

    /// The broker user your responder publishes as (its Responses' `user_id` must be it).
    #[arg(long, value_name = "USER")]
    pub partner_user: Option<String>,
}

pub fn run(args: Args) -> CliResult {
    match args.command {
        Command::Responder(a) => run_responder(a),
        Command::Requester(a) => run_requester(a),
    }
}

fn run_requester(args: RequesterArgs) -> CliResult {
    let body = args.party.split_once('.').map_or(args.party.as_str(), |(b, _)| b);
    if !catalogue::body::ALL.contains(&body) {
        return Err(Failure::Usage(anyhow!(
            "--party {:?}: the body is not one of {}",
            args.party,
            catalogue::body::ALL.join(", ")
        )));
    }
    let run = RequesterRun {
        url: args.amqp_url.clone(),
        prefix: args.prefix.clone(),
        observatory: args.observatory.clone(),
        party: args.party.clone(),
        partner_user: args.partner_user.clone(),
        wait_for_partner: Duration::from_secs(args.wait_s),
        deadline: Duration::from_secs(args.deadline_s),
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let progress = |line: &str| eprintln!("conformance: {line}");
    let report = runtime.block_on(requester::run(&run, &progress)).map_err(Failure::Runtime)?;
    print_report(&report)
}

/// Prints one line per rule and the summary; exit 1 when a rule failed.
fn print_report(report: &Report) -> CliResult {
    let mut out = std::io::stdout().lock();
    for finding in &report.findings {
        writeln!(out, "{}", finding.line()).context("cannot write the report")?;
    }
    writeln!(out, "{}", report.summary()).context("cannot write the report")?;
    Ok(if report.all_passed() { Outcome::Success } else { Outcome::Rejections })
}

/// The held categories: --holds, or the body's default holdings.
fn held(args: &ResponderArgs) -> Result<Vec<Category>, Failure> {
    if !catalogue::body::ALL.contains(&args.body.as_str()) {
        return Err(Failure::Usage(anyhow!(
            "--body {:?} is not a body of the decree: one of {}",
            args.body,
            catalogue::body::ALL.join(", ")
        )));
    }
    match &args.holds {
        Some(codes) => catalogue::parse_list(codes)
            .map_err(|e| Failure::Usage(anyhow!("--holds: {e} (category codes: README, \"Categories\")"))),
        None => Ok(catalogue::CATEGORIES
            .iter()
            .filter(|i| i.default_holders.contains(&args.body.as_str()))
            .map(|i| i.category)
            .collect()),
    }
}

fn run_responder(args: ResponderArgs) -> CliResult {
    let held = held(&args)?;
    if let Some(path) = &args.write_extract {
        let population = Population::new(&held);
        std::fs::write(path, population.extract_csv())
            .with_context(|| format!("cannot write the extract {}", path.display()))?;
        eprintln!(
            "wrote {} ({} persons, {} categories held); load it into your responder, then run this command \
             with --amqp-url and --prefix instead of --write-extract",
            path.display(),
            population.rows.len(),
            held.len()
        );
        return Ok(Outcome::Success);
    }
    let (Some(url), Some(prefix)) = (&args.amqp_url, &args.prefix) else {
        return Err(Failure::Usage(anyhow!("give --amqp-url and --prefix, or --write-extract FILE")));
    };
    let run = ResponderRun {
        broker: ResponderRun::broker(url, prefix, &args.observatory, &args.body),
        observatory: args.observatory.clone(),
        body: args.body.clone(),
        held,
        deadline: Duration::from_secs(args.deadline_s),
        wait_for_partner: Duration::from_secs(args.wait_s),
        partner_user: args.partner_user.clone(),
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let progress = |line: &str| eprintln!("conformance: {line}");
    let report = runtime.block_on(responder::run(&run, &progress)).map_err(Failure::Runtime)?;
    print_report(&report)
}
