//! `passerelle requester person --case ID --nir NIR`: one person of a case's contact list, as
//! an agent looks one person up instead of opening the whole list. A call of the requester
//! daemon's local API (`POST /v1/cases/{case}/person`, the NIR in the body): the daemon checks
//! the role (`prevention-agent` of its office) and records the lookup in its access log (a
//! `read` of the case, the person as a keyed hash) before it answers.

use std::io::{self, BufRead, Write};

use anyhow::{anyhow, Context};
use passerelle_protocol::nir::Nir;
use passerelle_requester::api::{PersonAnswer, PersonQuery};
use passerelle_requester::Uuid;

use super::requester_api::{self, RequesterApi};
use crate::exit::{CliResult, Failure, Outcome};

/// The long help of `requester person`.
pub const PERSON_HELP: &str = "\
What it shows:
  the person's row of the case's contact list, as `requester fetch` writes it (one line of its
  JSON Lines file): rank among the case's persons and score, the selection's line and cells
  (names, contact details), each requested category with the bodies it came from, and each
  body's answer (found, not_found, missing: the body's response left the person out, or
  no_answer: no answer before the deadline).

The NIR goes to the daemon in the request's body, never in its address, so no log or refusal
record quotes it; give `--nir -` to read it from stdin and keep it out of the process list.
A malformed NIR is said without being repeated (exit 2); a person not in the case, or refused
by the observatory, is exit 2 too (`requester status` shows refusals and their reasons).

The daemon records each lookup in its access log: who (your agent id), when, a read of the
case, and the person as a keyed hash only, which the daemon drops when its 24-month cap for
the person's data passes.

Exit codes: 0 shown; 2 bad arguments, unknown case or person, case not settled yet; 4 no
daemon at the socket; 6 refused (not an authorised agent, or not a prevention agent of the
daemon's office).

With --json: one object on stdout, {\"format\": \"passerelle.requester-person/1\", \"case\": …,
\"persons\": N, then the JSON Lines row's keys} (docs/JSON.md).

Example:
  passerelle requester person --socket /run/passerelle/requester.sock \\
    --case 0190b6a2-7c1e-7f00-8000-000000000001 --nir -";

#[derive(Debug, clap::Args)]
pub struct PersonArgs {
    #[command(flatten)]
    pub api: RequesterApi,
    /// The case id (from `submit` or `status`).
    #[arg(long, value_name = "CASE")]
    pub case: String,
    /// The person's NIR (15 characters, spaces allowed), or `-` to read it from stdin.
    #[arg(long, value_name = "NIR")]
    pub nir: String,
    /// One JSON object on stdout instead of sentences.
    #[arg(long)]
    pub json: bool,
}

/// `requester person`.
pub fn person(args: PersonArgs) -> CliResult {
    let case = Uuid::parse_str(args.case.trim())
        .map_err(|_| Failure::Usage(anyhow!("`{}` is not a case id (see `requester status`)", args.case)))?;
    let nir = if args.nir == "-" {
        let mut line = String::new();
        io::stdin().lock().read_line(&mut line).context("cannot read the NIR from stdin")?;
        line.trim().to_owned()
    } else {
        args.nir.clone()
    };
    // Checked here first (no daemon needed to say so), never repeated.
    Nir::parse(&nir).map_err(|e| Failure::Usage(anyhow!("--nir is not a NIR: {e}")))?;
    let client = args.api.client()?;
    let path = format!("/v1/cases/{case}/person");
    let answer: PersonAnswer = requester_api::call(client.post_json(&path, &PersonQuery { nir }))?;
    let text = if args.json { json(&answer) } else { sentences(&answer) };
    io::stdout().lock().write_all(text.as_bytes()).context("cannot write to stdout")?;
    Ok(Outcome::Success)
}

fn json(answer: &PersonAnswer) -> String {
    let mut object = serde_json::Map::new();
    object.insert("format".into(), super::json::REQUESTER_PERSON.into());
    object.insert("case".into(), answer.case.to_string().into());
    object.insert("persons".into(), answer.persons.into());
    if let Some(row) = answer.row.as_object() {
        for (key, value) in row {
            object.insert(key.clone(), value.clone());
        }
    }
    format!("{}\n", serde_json::Value::Object(object))
}

fn sentences(answer: &PersonAnswer) -> String {
    let row = &answer.row;
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "unknown".to_owned(),
        other => other.to_string(),
    };
    let mut out = format!(
        "case {} ({}): rank {} of {} (score {}), selection line {}\n",
        answer.case,
        text(&row["observatory"]),
        text(&row["rank"]),
        answer.persons,
        text(&row["score"]),
        text(&row["line"]),
    );
    for (key, value) in row["selection"].as_object().into_iter().flatten() {
        out.push_str(&format!("  {key}: {}\n", text(value)));
    }
    for (code, category) in row["categories"].as_object().into_iter().flatten() {
        let sources: Vec<String> = category["sources"].as_array().into_iter().flatten().map(text).collect();
        let from = if sources.is_empty() { String::new() } else { format!(" (from {})", sources.join(", ")) };
        out.push_str(&format!("  {code}: {}{from}\n", text(&category["value"])));
    }
    let statuses: Vec<String> = row["status"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(body, status)| format!("{body} {}", text(status)))
        .collect();
    if !statuses.is_empty() {
        out.push_str(&format!("  bodies: {}\n", statuses.join(", ")));
    }
    out
}
