//! `passerelle rights open|list|show|print|delivered`: the persons' rights under the decree
//! (art. 6, DESIGN §7.3), exercised with the director of the competent CARSAT — its
//! observatory's `rights-officer` (README, "The persons' rights").
//!
//! Every command is a call of the observatory daemon's local API (`--socket`, or the `[api]
//! socket` of `--config`; `passerelle_party::api::rights`): the daemon checks the caller's role,
//! records the access in its access log, and asks the parties that may hold the person. What is
//! checked here first, so that a mistake reaches no daemon: the NIRs (never repeated in an
//! error), the `--changes` file line by line (`category,value`, the shared value syntax), that a
//! rectification has changes and an access none, that who confirmed the identity is named.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use passerelle_local_api::ClientError;
use passerelle_party::api::rights::{AskedRight, Correction, DeliveredBody, OpenBody, Opened};
use passerelle_protocol::nir::Nir;
use passerelle_protocol::{catalogue, value};
use passerelle_rights::{ConsolidatedAnswer, HoldingKind, RequestState, RequestSummary, RightsKind};

use super::api::ObservatoryApi;
use crate::exit::{CliResult, Failure, Outcome};

/// The long help of `rights`: what the decree says, who runs it, in which order.
pub const HELP: &str = "\
What the decree says (Décret n° 2017-334, art. 6): the rights of access and rectification are
exercised with the director of the competent CARSAT (the person's pension fund; for a person
whose pension another scheme pays, the CARSAT of their home). There is NO right of opposition:
`--kind opposition` is answered at once with the article's words, and nothing is stored.

Who runs it: an agent of the competent observatory's registry with the role `rights-officer`
(any other role is refused, exit 6, and the refusal recorded in the daemon's access log). The
officer confirms the person's identity outside the product (an identity document, a signed
letter) and names who did with --identity-checked-by: no request is sent without it.

What happens: the observatory asks the peer observatories; each finds through its statistics
store and its cases in flight which requester offices received results about the person, and
only those are asked (never broadcast; responders are never asked). Each answers within the
deadline (`[rights] answer_within_days`, at most the legal month) what it holds, since when and
until when, or that it holds nothing. A rectification travels the same way and replaces the
values at every holder (a second identical one changes nothing).

In order:
  passerelle rights open --kind access --nir NIR --identity-checked-by agent-12
  passerelle rights open --kind rectification --nir NIR --changes changes.csv \\
      --identity-checked-by agent-12            # changes.csv: `category,value` and a header
  passerelle rights list                        # asking / answered, late answers
  passerelle rights show ID                     # who holds what, until when; who did not answer
  passerelle rights print ID --out answer.html  # the letter for the person (print it to PDF)
  passerelle rights delivered ID                # purges the request now (--anyway while asking)

The request forgets: its NIRs, answers and page are purged when it is recorded delivered, and
at the latest `[rights] purge_margin_days` after the deadline; the access log keeps who opened
what kind of request and when.";

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Open a request for a person (access, rectification; opposition is refused at once).
    Open(OpenArgs),
    /// Every request, newest first, without personal data: its state, who answered, late answers.
    List(ListArgs),
    /// The consolidated answer: who holds what about the person, until when, who did not answer.
    Show(ShowArgs),
    /// Write the printable answer for the person (HTML, in French, prints well on A4).
    Print(PrintArgs),
    /// Record the answer delivered to the person: the request is purged now.
    Delivered(DeliveredArgs),
}

/// The right the person exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Access,
    Rectification,
    /// Refused at once: the decree (art. 6) excludes it.
    Opposition,
}

#[derive(Debug, clap::Args)]
pub struct OpenArgs {
    #[command(flatten)]
    pub api: ObservatoryApi,
    /// The right the person exercises.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// The person's NIR (15 characters, key included).
    #[arg(long, value_name = "NIR")]
    pub nir: String,
    /// A former NIR of the person (a provisional or corrected number); repeat for several.
    #[arg(long = "former", value_name = "NIR")]
    pub former: Vec<String>,
    /// A rectification's corrected values: a CSV file with the header `category,value`, one
    /// category code of the decree and its value (the shared value syntax) a line. Required for
    /// a rectification, refused otherwise.
    #[arg(long, value_name = "FILE")]
    pub changes: Option<PathBuf>,
    /// The agent id of who confirmed the person's identity outside the product (required).
    #[arg(long, value_name = "AGENT")]
    pub identity_checked_by: String,
    /// The daemon's answer as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub api: ObservatoryApi,
    /// One JSON object per request, a line each (`passerelle.rights-request/1`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub api: ObservatoryApi,
    /// The request's id (`rights open` or `rights list` printed it).
    pub id: String,
    /// The consolidated answer as JSON (`passerelle.rights-answer/1`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct PrintArgs {
    #[command(flatten)]
    pub api: ObservatoryApi,
    /// The request's id.
    pub id: String,
    /// Where to write the page (HTML, mode 0600).
    #[arg(long, value_name = "FILE.html")]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct DeliveredArgs {
    #[command(flatten)]
    pub api: ObservatoryApi,
    /// The request's id.
    pub id: String,
    /// Record it delivered even while parties are still being asked (they are then never
    /// waited for: their answers are dropped).
    #[arg(long)]
    pub anyway: bool,
}

pub fn run(command: Command) -> CliResult {
    match command {
        Command::Open(a) => open(a),
        Command::List(a) => list(&a),
        Command::Show(a) => show(&a),
        Command::Print(a) => print(&a),
        Command::Delivered(a) => delivered(&a),
    }
}

/// A call's failure: 400, 404 and 409 (a request still asking) are the officer's to fix (2).
fn failure(e: ClientError) -> Failure {
    match &e {
        ClientError::Refused { status: 409, .. } => Failure::Usage(anyhow!(e)),
        _ => super::api::failure(e),
    }
}

fn call<T>(future: impl std::future::Future<Output = Result<T, ClientError>>) -> Result<T, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(Failure::Runtime)?;
    runtime.block_on(future).map_err(failure)
}

/// A request id, checked before it goes into a path.
fn request_id(id: &str) -> Result<&str, Failure> {
    if passerelle_protocol::untrusted::is_identifier(id) && !id.contains(':') {
        Ok(id)
    } else {
        Err(Failure::Usage(anyhow!("not a rights request id: give the id `rights open` or `rights list` printed")))
    }
}

/// Reads a `--changes` file: its header `category,value`, then each line's category and value
/// checked; every problem named with its line number.
pub fn read_changes(path: &Path) -> Result<Vec<Correction>, Failure> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("--changes: cannot read {}", path.display()))
        .map_err(Failure::Usage)?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).trim(csv::Trim::All).from_reader(file);
    let header = reader
        .headers()
        .map_err(|e| Failure::Usage(anyhow!("--changes {}: cannot read its header: {e}", path.display())))?
        .clone();
    let columns: Vec<&str> = header.iter().collect();
    if columns != ["category", "value"] {
        return Err(Failure::Usage(anyhow!(
            "--changes {}: the header must be `category,value` (one corrected value a line)",
            path.display()
        )));
    }
    let mut changes = Vec::new();
    let mut problems = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("line {line}: not a CSV line: {e}"));
                continue;
            }
        };
        if record.len() != 2 {
            problems.push(format!("line {line}: {} fields, expected 2 (category,value)", record.len()));
            continue;
        }
        let (category, text) = (&record[0], &record[1]);
        let Some(info) = catalogue::by_code(category) else {
            problems.push(format!(
                "line {line}: unknown category {}: the decree (art. 2, 2° to 7°) lists only its codes",
                passerelle_protocol::untrusted::Shown::id(category)
            ));
            continue;
        };
        match value::parse(info.value_type, text) {
            Ok(Some(_)) => changes.push(Correction { category: info.code.to_owned(), value: text.to_owned() }),
            Ok(None) => problems.push(format!("line {line} ({}): the value is empty", info.code)),
            Err(e) => problems.push(format!("line {line} ({}): {e}", info.code)),
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Usage(anyhow!("--changes {}:\n  {}", path.display(), problems.join("\n  "))));
    }
    if changes.is_empty() {
        return Err(Failure::Usage(anyhow!("--changes {}: no corrected value (only the header)", path.display())));
    }
    Ok(changes)
}

fn open(args: OpenArgs) -> CliResult {
    // Checked first: a mistake here reaches no daemon, and a NIR is never repeated.
    Nir::parse(&args.nir).map_err(|e| Failure::Usage(anyhow!("--nir: {e}")))?;
    for (i, former) in args.former.iter().enumerate() {
        Nir::parse(former).map_err(|e| Failure::Usage(anyhow!("--former (number {} given): {e}", i + 1)))?;
    }
    let checked_by = args.identity_checked_by.trim();
    if checked_by.is_empty() || !passerelle_protocol::untrusted::is_identifier(checked_by) {
        return Err(Failure::Usage(anyhow!(
            "--identity-checked-by: the agent id of who confirmed the person's identity outside the product \
             (lower-case letters, digits, `-`, `_`, `.`)"
        )));
    }
    let kind = match args.kind {
        Kind::Access => AskedRight::Access,
        Kind::Rectification => AskedRight::Rectification,
        Kind::Opposition => AskedRight::Opposition,
    };
    let corrected = match (kind, &args.changes) {
        (AskedRight::Rectification, Some(path)) => read_changes(path)?,
        (AskedRight::Rectification, None) => {
            return Err(Failure::Usage(anyhow!(
                "--changes FILE is required for a rectification (a CSV `category,value` with its header)"
            )))
        }
        (_, Some(_)) => {
            return Err(Failure::Usage(anyhow!(
                "--changes is for a rectification only (an {} request corrects nothing)",
                kind.as_str()
            )))
        }
        (_, None) => Vec::new(),
    };
    let body = OpenBody {
        kind,
        nir: args.nir.clone(),
        former_nirs: args.former.clone(),
        corrected,
        identity_checked_by: checked_by.to_owned(),
    };
    let client = args.api.client()?;
    let opened: Opened = call(async { client.post_json("/v1/rights", &body).await })?;
    if args.json {
        return print_json(super::json::RIGHTS_OPENED, &opened);
    }
    let mut out = String::new();
    match &opened.refused {
        Some(reason) => {
            out.push_str("opposition refused: the decree excludes it. Give the person this answer:\n\n");
            out.push_str(reason);
            out.push_str(&format!(
                "\n\n(nothing stored; the refusal is recorded in the access log as rights-opposition-{})\n",
                opened.request_id
            ));
        }
        None => {
            out.push_str(&format!(
                "{} request {} opened: the observatories are asked, then the parties they name.\n",
                kind.as_str(),
                opened.request_id
            ));
            if let Some(by) = &opened.answer_by {
                out.push_str(&format!("answer due by {by}; follow it with `passerelle rights list`.\n"));
            }
        }
    }
    write_out(&out)
}

fn list(args: &ListArgs) -> CliResult {
    let client = args.api.client()?;
    let requests: Vec<RequestSummary> = call(async { client.get_json("/v1/rights").await })?;
    let mut out = String::new();
    if args.json {
        for r in &requests {
            out.push_str(&super::json::line(super::json::RIGHTS_REQUEST, r).context("cannot write the output")?);
            out.push('\n');
        }
        return write_out(&out);
    }
    if requests.is_empty() {
        out.push_str("no rights request\n");
    }
    for r in &requests {
        out.push_str(&format!(
            "{}  {:<13} {:<8}  opened {} by {}  answer by {}  answered {}/{}\n",
            r.request_id,
            kind_text(r.kind),
            state_text(r.state),
            r.opened_at,
            r.opened_by,
            r.answer_by,
            r.parties_answered,
            r.parties_asked
        ));
        if r.late_answers > 0 {
            out.push_str(&format!(
                "    {} LATE ANSWER(S) since the answer was ready: show it again and print a new letter \
                 (`passerelle rights print {}`)\n",
                r.late_answers, r.request_id
            ));
        }
        if let Some(at) = &r.delivered_at {
            out.push_str(&format!("    delivered {at}\n"));
        }
        if let Some(at) = &r.purged_at {
            out.push_str(&format!("    purged {at}: only this line remains\n"));
        }
    }
    write_out(&out)
}

fn show(args: &ShowArgs) -> CliResult {
    let id = request_id(&args.id)?;
    let client = args.api.client()?;
    let answer: ConsolidatedAnswer = call(async { client.get_json(&format!("/v1/rights/{id}")).await })?;
    if args.json {
        return print_json(super::json::RIGHTS_ANSWER, &answer);
    }
    write_out(&summary(&answer))
}

/// The officer's summary of an answer, in English.
pub fn summary(a: &ConsolidatedAnswer) -> String {
    let mut out = format!(
        "{} request {} at {} — {}\n  opened {} by {} (identity confirmed by {}); answer due by {}\n",
        kind_text(a.kind),
        a.request_id,
        a.observatory,
        state_text(a.state),
        a.opened_at,
        a.opened_by,
        a.identity_checked_by,
        a.answer_by
    );
    out.push_str(&format!("  person: NIR {}", a.nir));
    if !a.former_nirs.is_empty() {
        out.push_str(&format!(" (formerly {})", a.former_nirs.join(", ")));
    }
    out.push('\n');
    if !a.corrected.is_empty() {
        out.push_str("  corrected values asked:\n");
        for v in &a.corrected {
            out.push_str(&format!("    {} = {}\n", v.category, v.value));
        }
    }
    out.push_str(&format!("\n{} part{} asked:\n", a.parties.len(), if a.parties.len() == 1 { "y" } else { "ies" }));
    for p in &a.parties {
        let answered = match (&p.answered_at, p.late) {
            (Some(at), true) => format!("answered LATE {at}"),
            (Some(at), false) => format!("answered {at}"),
            (None, _) if a.state == RequestState::Asking => "not answered yet".to_owned(),
            (None, _) => "DID NOT ANSWER in time (listed so on the letter)".to_owned(),
        };
        out.push_str(&format!("  {} ({}): asked {}, {}\n", p.party, p.role, p.asked_at, answered));
        if p.answered_at.is_some() && p.holdings.is_empty() {
            out.push_str("    holds nothing about the person\n");
        }
        for h in &p.holdings {
            out.push_str(&format!(
                "    {} — case {}{}, since {}, kept until {}\n",
                holding_text(h.kind),
                h.case_id,
                if h.requester.is_empty() { String::new() } else { format!(" for {}", h.requester) },
                h.since.as_deref().unwrap_or("?"),
                h.until.as_deref().unwrap_or("?")
            ));
            for v in &h.values {
                out.push_str(&format!("      {} = {} (from {})\n", v.category, v.value, v.source));
            }
            if let Some(outcome) = &h.outcome {
                out.push_str(&format!("      offer {outcome} {}\n", h.outcome_date.as_deref().unwrap_or("")));
            }
        }
        for r in &p.rectified {
            out.push_str(&format!("    rectified {} in case {} ({})\n", r.category, r.case_id, holding_text(r.kind)));
        }
    }
    if a.nothing_held() && a.unanswered().next().is_none() && a.state != RequestState::Asking {
        out.push_str("\nnothing held: no party of the exchange holds data about this person.\n");
    }
    let silent = a.unanswered().count();
    if silent > 0 && a.state == RequestState::Answered {
        out.push_str(&format!(
            "\n{silent} party(ies) did not answer in time: the letter lists them with the date asked.\n"
        ));
    }
    out.push_str(&format!(
        "\nNext: `passerelle rights print {} --out answer.html`, hand or send it, then `passerelle rights delivered {}`.\n",
        a.request_id, a.request_id
    ));
    out
}

fn print(args: &PrintArgs) -> CliResult {
    let id = request_id(&args.id)?;
    let client = args.api.client()?;
    call(async { client.download(&format!("/v1/rights/{id}/page"), &args.out).await })?;
    write_out(&format!(
        "the answer for the person written to {} (mode 0600).\nTo make a PDF: open it in a browser and print it \
         (Ctrl+P, \"Save as PDF\", A4), or\n  chromium --headless --print-to-pdf=answer.pdf {}\nDelete both files once \
         the letter is sent; then `passerelle rights delivered {id}`.\n",
        args.out.display(),
        args.out.display()
    ))
}

fn delivered(args: &DeliveredArgs) -> CliResult {
    let id = request_id(&args.id)?;
    let client = args.api.client()?;
    let body = DeliveredBody { anyway: args.anyway };
    let summary: RequestSummary = call(async { client.post_json(&format!("/v1/rights/{id}/delivered"), &body).await })?;
    write_out(&format!(
        "request {} recorded delivered{}: its NIRs, answers and page are purged{}.\n",
        summary.request_id,
        summary.delivered_at.as_deref().map(|at| format!(" {at}")).unwrap_or_default(),
        summary.purged_at.as_deref().map(|at| format!(" ({at})")).unwrap_or_default()
    ))
}

fn kind_text(kind: RightsKind) -> &'static str {
    match kind {
        RightsKind::Access => "access",
        RightsKind::Rectification => "rectification",
    }
}

fn state_text(state: RequestState) -> &'static str {
    match state {
        RequestState::Asking => "asking",
        RequestState::Answered => "answered",
        RequestState::Purged => "purged",
    }
}

fn holding_text(kind: HoldingKind) -> &'static str {
    match kind {
        HoldingKind::Selection => "selected for a contact list",
        HoldingKind::ReceivedValues => "values received",
        HoldingKind::OfferOutcome => "an offer's outcome",
        HoldingKind::CaseInFlight => "a case in flight",
        HoldingKind::Statistics => "statistics rows (pseudonymised)",
    }
}

fn print_json<T: serde::Serialize>(format: &'static str, body: &T) -> CliResult {
    let object = super::json::Versioned { format, body };
    let text = serde_json::to_string_pretty(&object).context("cannot write the output")?;
    write_out(&format!("{text}\n"))
}

fn write_out(text: &str) -> CliResult {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::Runtime(anyhow!(e).context("cannot write the output")))?;
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(text: &str) -> Result<Vec<Correction>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changes.csv");
        std::fs::write(&path, text).unwrap();
        read_changes(&path).map_err(|f| match f {
            Failure::Usage(e) => format!("{e:#}"),
            other => panic!("a usage error: {other:?}"),
        })
    }

    #[test]
    fn a_changes_file_is_checked_line_by_line() {
        let ok =
            changes("category,value\nfamily_situation,married\nhousehold_annual_resources,\"12345,50\"\n").unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].value, "12345,50");
        let e = changes("category,value\ncss,peut-être\nshoe_size,42\nrsa,\n").unwrap_err();
        assert!(e.contains("line 2 (css)"), "{e}");
        assert!(e.contains("line 3: unknown category"), "{e}");
        assert!(e.contains("line 4 (rsa): the value is empty"), "{e}");
        assert!(changes("cat,val\ncss,true\n").unwrap_err().contains("header must be `category,value`"));
        assert!(changes("category,value\n").unwrap_err().contains("no corrected value"));
    }
}
