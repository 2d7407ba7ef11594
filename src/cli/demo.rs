//! `passerelle demo`: the whole decree flow in one process, on synthetic persons — the README's
//! main command.
//!
//! A CAF (`cnaf`, office `caf-13`) — or, with `--requester cpam`, a CPAM (`cnam`, office
//! `cpam-13`) — selects the persons of a synthetic population living in one observatory's
//! territory and asks for the categories its own branch does not know; the observatory solicits
//! every other body the default routing table names for them (for the CAF `cnam`, `cnav`, `msa`;
//! for the CPAM `cnav`, `cnaf`, `msa`), each answers from its own extract, the observatory
//! returns the consolidated result, the requester ranks it and sends its receipt, and the
//! observatory purges the case.
//! With a CPAM requesting, the health branch's social service then walks the contact list in
//! rank order: a share of the persons accept and their norm-43 case files open ([`social`]).
//! The module map: [`requester`] (who requests), [`layout`] (the folder), [`flow`] (the run),
//! [`social`] (the social service's walk), [`buses`] (a connection per party), [`check`] (does
//! the result add up), [`summary`] (the report), [`progress`] (stderr).

mod buses;
mod check;
mod flow;
mod layout;
mod progress;
mod requester;
mod social;
mod summary;

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use passerelle_protocol::catalogue;
use passerelle_protocol::territory::Territories;

use crate::exit::{CliResult, Failure, Outcome};

pub use requester::RequesterChoice;

/// The categories the default requester (the CAF) asks: health (3°), retirement (4°) and the
/// other risk factors (7°) — what a CAF does not know and the CNAM, the CNAV and the MSA do.
pub const DEFAULT_WANT: &str = requester::CAF_WANT;

/// The default population: enough for several chunks per body, a couple of seconds in release.
pub const DEFAULT_PERSONS: u64 = 2000;

/// The default deadline given to the bodies. Every body answers in the demo, so the case
/// completes long before; a stuck body only delays the (partial) result by this much.
pub const DEFAULT_RESPOND_BY: &str = "30s";

#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// How many synthetic persons the requester selects.
    #[arg(long, default_value_t = DEFAULT_PERSONS, value_parser = clap::value_parser!(u64).range(1..=passerelle_synth::MAX_PERSONS))]
    pub persons: u64,
    /// Run over RabbitMQ at this URL instead of the in-process bus (a fresh name prefix, whose
    /// exchanges and queues are deleted at the end).
    #[arg(long, value_name = "URL")]
    pub amqp: Option<String>,
    /// Keep every file in DIR (created if missing; refused if not empty, unless --force).
    /// Default: a temporary folder, deleted at the end.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Wipe a non-empty --data-dir first.
    #[arg(long, requires = "data_dir")]
    pub force: bool,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// The observatory whose territory the persons live in, and which runs.
    #[arg(long, value_name = "CODE", default_value = passerelle_synth::DEFAULT_TERRITORY)]
    pub observatory: String,
    /// Who requests: `caf` (a CAF, branch cnaf: cnam, cnav and msa answer) or `cpam` (a CPAM,
    /// branch cnam: cnav, cnaf and msa answer). A requester's own branch is never solicited.
    #[arg(long, value_enum, value_name = "BODY", default_value_t = RequesterChoice::Caf)]
    pub requester: RequesterChoice,
    /// The categories the requester asks for: codes and/or whole domains of art. 2.
    /// Default: what its branch does not know — 3,4,7 for the CAF, 2,4,5,6,7 for the CPAM.
    #[arg(long, value_name = "CATEGORIES")]
    pub want: Option<String>,
    /// The deadline given to the bodies: `30s`, `2m`…
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_RESPOND_BY)]
    pub respond_by: String,
    /// The population's seed (the same seed gives the same persons).
    #[arg(long, default_value_t = passerelle_synth::DEFAULT_SEED)]
    pub seed: u64,
}

const AFTER_HELP: &str = "\
What it shows, in one process and with nothing installed:
  1. a synthetic population (made up, valid-looking NIRs; never real data): the requester's
     selection and one extract per body;
  2. each solicited body indexes its extract, as `responder load` does: cnam, cnav and msa
     for the CAF (the default), cnav, cnaf and msa for the CPAM (--requester cpam);
  3. the observatory, the responders and the requester start, each with its own store folder
     and bus connection (on the in-process bus, each its own broker user);
  4. the requester submits its selection; the observatory solicits the other bodies with the
     match keys only; they answer; the consolidated result comes back; the requester ranks it;
  5. the requester's receipt makes the observatory purge the case's payloads (decree art. 5);
  6. with --requester cpam, the health branch's social service (hosted by the territory's
     CARSAT, office ssa-13) offers its service to the persons of the CPAM's contact list in
     rank order: 3 in 10 accept and their case files open (CNIL norm 43), the others decline
     or do not reply and never enter its store.
The summary says who requested and who answered, and adds everything up: each valid person
must be in the result exactly once (and, for the CPAM, each offer has one outcome and each
acceptance one case file).

Files: DIR/population/, DIR/requester/, DIR/observatory/, DIR/responder-<body>/, and for the
CPAM DIR/social-service/.

Examples:
  passerelle demo
  passerelle demo --requester cpam
  passerelle demo --persons 20000 --data-dir /tmp/demo --force --json
  passerelle demo --amqp amqp://guest:guest@127.0.0.1:5672/%2f";

pub fn run(args: Args) -> CliResult {
    let want = args.want.as_deref().unwrap_or(args.requester.default_want());
    let wanted = catalogue::parse_list(want).map_err(|e| Failure::Usage(anyhow!(e).context("--want")))?;
    if wanted.is_empty() {
        return Err(Failure::Usage(anyhow!("--want names no category")));
    }
    if Territories::observatory(&args.observatory).is_none() {
        return Err(Failure::Usage(anyhow!("--observatory `{}` is not an observatory code", args.observatory)));
    }
    let respond_by = passerelle_requester::parse_duration(&args.respond_by)
        .map_err(|e| Failure::Usage(anyhow!(e).context("--respond-by")))?;
    if respond_by > passerelle_protocol::rules::MAX_RESPOND_BY {
        return Err(Failure::Usage(anyhow!("--respond-by is at most 21 days")));
    }
    let layout = layout::Layout::prepare(args.data_dir.as_deref(), args.force).map_err(|e| match e {
        layout::LayoutError::Io(e) => Failure::Runtime(e),
        usage => Failure::Usage(anyhow!(usage)),
    })?;
    let options = flow::DemoOptions {
        persons: args.persons,
        observatory: args.observatory.clone(),
        amqp: args.amqp.clone(),
        respond_by,
        seed: args.seed,
        wanted,
        requester: args.requester,
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let mut progress = progress::Progress::new();
    let summary = match args.requester {
        RequesterChoice::Caf => runtime.block_on(flow::run(&options, &layout, &mut progress, flow::NoAfterFlow)),
        RequesterChoice::Cpam => {
            let walk = social::SocialServiceWalk { seed: args.seed };
            runtime.block_on(flow::run(&options, &layout, &mut progress, walk))
        }
    }
    .map_err(Failure::Runtime)?;
    drop(progress);
    let mut out = std::io::stdout().lock();
    if args.json {
        let text = super::json::line(super::json::DEMO, &summary).context("cannot serialise the summary")?;
        writeln!(out, "{text}").context("cannot write to stdout")?;
    } else {
        write!(out, "{}", summary::render(&summary)).context("cannot write to stdout")?;
    }
    drop(layout);
    let walked = summary.social_service.as_ref().is_none_or(|w| w.adds_up);
    Ok(if summary.persons.adds_up && summary.purge.purged && walked { Outcome::Success } else { Outcome::Rejections })
}
