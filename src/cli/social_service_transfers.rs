//! `passerelle social-service transfer …` and `transfers …`: a case file follows the insured to
//! their new health-insurance body (norm 43, A.3). `transfer` sends a file (a `social-worker` of
//! its office); `transfers release` releases its medical opinions for that transfer (a
//! `medical-officer`); `transfers list|show|accept|refuse` follow the office's transfers both
//! ways and decide the received ones. Each is a call of the daemon's local API
//! (`passerelle_social_service::service::transfer_views` has the routes); the `--json` outputs
//! are its answers, format `passerelle.social-service-transfers/1` (docs/JSON.md).

use anyhow::anyhow;
use passerelle_social_service::service::transfer_views::*;

use super::requester_api::call;
use super::social_service::{json, print, Api};
use crate::exit::{CliResult, Failure};

/// The long help of `transfer` and `transfers`: who does what, in which order.
pub const HELP: &str = "\
When an insured moves to another health-insurance body (norm 43, A.3), their case file follows
them to that body's social service — a CARSAT, the CRAMIF, a CGSS, the CSS of Mayotte or an MSA
fund, never a CAF or a pension service: any other destination is refused before anything is
sent. The daemon must have a [broker]; BODY/OFFICE is the receiving social service
(`cramif/ss-75`), one of the deployment's [broker.social_services].

AT THE SENDING OFFICE, in this order:
  1. a medical officer of the body releases the medical service's opinions (I.10) for this
     transfer, if they are to travel:
       passerelle social-service transfers release --file FILE --to cramif/ss-75
  2. a social worker of the file's office sends it, releasing their assessment (I.7) or not:
       passerelle social-service transfer --file FILE --to cramif/ss-75 [--release-assessment]
     The file is frozen at once (no new action, contact or offer; rectifications and the
     person's rights still apply, and are sent on). What was not released stays here and is
     listed as withheld: the receiving office is told it exists and may ask for it.
  3. the answer comes back on its own (`transfers list --out`, `transfers show ID`):
       accepted  the office's action is closed at the transfer date; the file stays here, frozen,
                 under its normal retention
       refused   the file is unfrozen; the reason is shown (unknown-office, not-health-insurance,
                 person-not-attached, file-malformed, already-followed)
     A transfer waits for the receiving service while it is down: `sending` (not yet given to
     the broker) then `sent` (waiting for the receipt).

AT THE RECEIVING OFFICE:
  - with a membership source ([transfers.membership]), the person's attachment is checked on
    arrival: attached, the file is imported and the sender told; not attached, refused;
  - without one, a social worker of the office confirms it:
       passerelle social-service transfers list --in
       passerelle social-service transfers show ID      # the person's identity, to check
       passerelle social-service transfers accept ID    # imported: visible with its origin
       passerelle social-service transfers refuse ID --reason person-not-attached
     (`already-followed`: the office already follows the person in a file of its own).
Every step is recorded in the daemon's access log before it answers.";

#[derive(Debug, clap::Args)]
pub struct TransferArgs {
    #[command(flatten)]
    pub api: Api,
    /// The case file's id in this office (from `list` or `show`).
    #[arg(long, value_name = "ID")]
    pub file: String,
    /// The receiving health-insurance social service, BODY/OFFICE (e.g. cramif/ss-75).
    #[arg(long, value_name = "BODY/OFFICE")]
    pub to: String,
    /// Release the social worker's assessment (norm 43, I.7) for this transfer; without it, it
    /// stays here and the receiver is told it exists.
    #[arg(long)]
    pub release_assessment: bool,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum TransfersCommand {
    /// The office's transfers, sent and received, newest first (social worker).
    #[command(after_long_help = HELP)]
    List(ListArgs),
    /// One transfer; for one awaiting this office's decision, the person's identity to check.
    #[command(after_long_help = HELP)]
    Show(IdArgs),
    /// The person is attached to this office: import the received file (social worker).
    #[command(after_long_help = HELP)]
    Accept(IdArgs),
    /// Refuse a received transfer, with the reason (social worker).
    #[command(after_long_help = HELP)]
    Refuse(RefuseArgs),
    /// Release a file's medical opinions (I.10) for its transfer to BODY/OFFICE (medical officer).
    #[command(after_long_help = HELP)]
    Release(ReleaseArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("direction").args(["incoming", "outgoing"])))]
pub struct ListArgs {
    #[command(flatten)]
    pub api: Api,
    /// Only the transfers sent to this office.
    #[arg(long = "in")]
    pub incoming: bool,
    /// Only the transfers this office sent.
    #[arg(long = "out")]
    pub outgoing: bool,
    /// The page after this transfer id (the `next` of the previous page).
    #[arg(long, value_name = "ID")]
    pub after: Option<String>,
    /// At most this many transfers (1 to 1000, default 100).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct IdArgs {
    #[command(flatten)]
    pub api: Api,
    /// The transfer's id (from `transfers list`).
    pub id: String,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Reason {
    /// The person is not attached to this office.
    PersonNotAttached,
    /// This office already follows the person in a file of its own.
    AlreadyFollowed,
}

impl Reason {
    fn code(self) -> &'static str {
        match self {
            Reason::PersonNotAttached => "person-not-attached",
            Reason::AlreadyFollowed => "already-followed",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct RefuseArgs {
    #[command(flatten)]
    pub api: Api,
    /// The transfer's id (from `transfers list --in`).
    pub id: String,
    #[arg(long, value_enum)]
    pub reason: Reason,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    pub api: Api,
    /// The case file's id.
    #[arg(long, value_name = "ID")]
    pub file: String,
    /// The social service the file is about to be transferred to, BODY/OFFICE.
    #[arg(long, value_name = "BODY/OFFICE")]
    pub to: String,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

/// `BODY/OFFICE`, checked for its shape (the daemon checks the body is a health-insurance one).
fn destination(to: &str) -> Result<String, Failure> {
    let to = to.trim();
    let usable = |code: &str| passerelle_protocol::ids::is_office_code(code);
    match to.split_once('/') {
        Some((body, office)) if usable(body) && usable(office) => Ok(to.to_owned()),
        _ => Err(Failure::Usage(anyhow!(
            "--to takes the receiving social service as BODY/OFFICE (e.g. cramif/ss-75), not `{to}`"
        ))),
    }
}

/// A transfer id or file id as a path segment (anything but letters, digits and `-` dropped).
fn segment(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
}

/// One transfer view as one JSON line, under the transfers' format.
fn view_json(view: &TransferView) -> Result<String, Failure> {
    Ok(super::json::line(TRANSFERS_FORMAT, view).map_err(|e| anyhow!(e).context("cannot write JSON"))? + "\n")
}

pub fn send(a: TransferArgs) -> CliResult {
    let request = SendTransfer {
        file: a.file.trim().to_owned(),
        to: destination(&a.to)?,
        release_assessment: a.release_assessment,
    };
    let view: TransferView = call(a.api.client()?.post_json("/v1/transfers", &request))?;
    if a.json {
        return print(&view_json(&view)?);
    }
    print(&sent_text(&view))
}

pub fn run(command: TransfersCommand) -> CliResult {
    match command {
        TransfersCommand::List(a) => {
            let mut query = format!("/v1/transfers?limit={}", a.limit.unwrap_or(100));
            if a.incoming {
                query.push_str("&direction=in");
            } else if a.outgoing {
                query.push_str("&direction=out");
            }
            if let Some(after) = &a.after {
                query.push_str(&format!("&after={}", segment(after)));
            }
            let list: TransferList = call(a.api.client()?.get_json(&query))?;
            if a.json {
                return print(&json(&list)?);
            }
            print(&list_text(&list))
        }
        TransfersCommand::Show(a) => {
            let view: IncomingTransferView =
                call(a.api.client()?.get_json(&format!("/v1/transfers/{}", segment(&a.id))))?;
            if a.json {
                return print(&json(&view)?);
            }
            print(&show_text(&view))
        }
        TransfersCommand::Accept(a) => {
            let path = format!("/v1/transfers/{}/accept", segment(&a.id));
            let view: TransferView = call(a.api.client()?.post_json(&path, &serde_json::json!({})))?;
            if a.json {
                return print(&view_json(&view)?);
            }
            print(&decided_text(&view))
        }
        TransfersCommand::Refuse(a) => {
            let path = format!("/v1/transfers/{}/refuse", segment(&a.id));
            let body = RefuseTransfer { reason: a.reason.code().to_owned() };
            let view: TransferView = call(a.api.client()?.post_json(&path, &body))?;
            if a.json {
                return print(&view_json(&view)?);
            }
            print(&decided_text(&view))
        }
        TransfersCommand::Release(a) => {
            let body = ReleaseMedical { file: a.file.trim().to_owned(), to: destination(&a.to)? };
            let view: ReleaseView = call(a.api.client()?.post_json("/v1/transfers/release", &body))?;
            if a.json {
                return print(&json(&view)?);
            }
            print(&format!(
                "Medical opinions of file {} released for its transfer to {} by {} at {}.\n\
                 Next: a social worker of the office sends it: passerelle social-service transfer --file {} --to {}\n",
                view.file, view.to, view.released_by, view.released_at, view.file, view.to
            ))
        }
    }
}

/// What a withheld item is, in words.
fn withheld_item(item: &str) -> &str {
    match item {
        "medical-opinions" => "the medical service's opinions (I.10; a medical officer releases them)",
        "social-assessment" => "the social worker's assessment (I.7; --release-assessment)",
        other => other,
    }
}

/// A transfer's state and what it means, in words.
fn state_text(v: &TransferView) -> String {
    let refusal = || match (&v.refusal, &v.refusal_text) {
        (Some(code), Some(text)) => format!("{code}: {text}"),
        (Some(code), None) => code.clone(),
        _ => "no reason given".to_owned(),
    };
    match (v.direction.as_str(), v.state.as_str()) {
        ("out", "sending") => "sending (frozen and queued; not yet given to the broker)".into(),
        ("out", "sent") => format!("sent, waiting for {}'s receipt", v.to),
        ("out", "accepted") => {
            "accepted: this office's action closed at the transfer date; the file stays frozen".into()
        }
        ("out", "refused") => format!("refused ({}): the file is unfrozen", refusal()),
        ("in", "receiving") => "receiving (parts of the file still to arrive)".into(),
        ("in", "awaiting-attachment") => {
            "awaiting this office's decision: is the person attached to it? (transfers accept|refuse)".into()
        }
        ("in", "accepted") => "accepted: the file was imported".into(),
        ("in", "refused") => format!("refused ({})", refusal()),
        (_, state) => state.to_owned(),
    }
}

/// A transfer's lines: id, way, state, file, dates, withheld items.
fn view_lines(v: &TransferView) -> String {
    let mut out = format!("Transfer {}  {} → {}\n  state     {}\n", v.id, v.from, v.to, state_text(v));
    if let Some(file) = &v.file {
        out.push_str(&format!("  file      {file}\n"));
    }
    out.push_str(&format!("  sent at   {}\n", v.sent_at));
    if let Some(at) = &v.decided_at {
        out.push_str(&format!("  decided   {at}\n"));
    }
    if v.withheld.is_empty() {
        out.push_str("  withheld  nothing\n");
    }
    for item in &v.withheld {
        out.push_str(&format!("  withheld  {}\n", withheld_item(item)));
    }
    if v.amendments > 0 {
        let verb = if v.direction == "out" { "sent on" } else { "applied" };
        out.push_str(&format!("  amendments {verb}: {}\n", v.amendments));
    }
    out
}

/// The answer to `transfer`: the transfer, then what happens next.
fn sent_text(v: &TransferView) -> String {
    let mut out = view_lines(v);
    if !v.withheld.is_empty() {
        out.push_str("What is withheld stays here; the receiving office is told it exists and may ask for it.\n");
    }
    out.push_str(&format!(
        "Next: the file is frozen (no new action, contact or offer) until {to} answers.\n  \
         accepted: your action closes at the transfer date; the file stays here, frozen, under its retention.\n  \
         refused: the file is unfrozen and the reason shown.\n\
         Follow it: passerelle social-service transfers show {id}\n",
        to = v.to,
        id = v.id
    ));
    out
}

/// The answer to `accept` or `refuse`.
fn decided_text(v: &TransferView) -> String {
    let mut out = view_lines(v);
    match v.state.as_str() {
        "accepted" => out.push_str(&format!(
            "The file is imported in this office (origin {}); {} is told it was accepted.\n",
            v.from, v.from
        )),
        "refused" => out.push_str(&format!("{} is told it was refused, and why; nothing was imported.\n", v.from)),
        _ => {}
    }
    out
}

/// `transfers list`.
fn list_text(l: &TransferList) -> String {
    let mut out = format!("Transfers of office {} ({}):\n", l.office, l.transfers.len());
    if l.transfers.is_empty() {
        out.push_str("  none\n");
    }
    for v in &l.transfers {
        let way = if v.direction == "out" { format!("to {}", v.to) } else { format!("from {}", v.from) };
        let reason = v.refusal.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
        let withheld =
            if v.withheld.is_empty() { String::new() } else { format!("  withheld: {}", v.withheld.join(", ")) };
        out.push_str(&format!(
            "  {}  {:<4} {:<22} {}{reason}  sent {}{withheld}\n",
            v.id, v.direction, way, v.state, v.sent_at
        ));
    }
    if let Some(next) = &l.next {
        out.push_str(&format!("More: --after {next}\n"));
    }
    out
}

/// `transfers show`: the transfer, and the person to check for one awaiting this office.
fn show_text(v: &IncomingTransferView) -> String {
    let mut out = view_lines(&v.transfer);
    if let Some(p) = &v.person {
        let or_dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".to_owned());
        out.push_str(&format!(
            "The person, to check against this office's insured:\n  NIR         {}\n  family name {}\n  \
             usage name  {}\n  given names {}\n  born        {}\n",
            or_dash(&p.nir),
            or_dash(&p.family_name),
            or_dash(&p.usage_name),
            or_dash(&p.given_names),
            or_dash(&p.birth_date)
        ));
        out.push_str(&format!(
            "Then: passerelle social-service transfers accept {id}  (attached: the file is imported)\n   \
             or: passerelle social-service transfers refuse {id} --reason person-not-attached|already-followed\n",
            id = v.transfer.id
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(direction: &str, state: &str) -> TransferView {
        TransferView {
            id: "0190c0de-0000-7000-8000-000000000001".into(),
            direction: direction.into(),
            file: Some("f-1".into()),
            from: "carsat-sud-est/ss-13".into(),
            to: "cramif/ss-75".into(),
            state: state.into(),
            sent_at: "2026-12-07T10:00:00Z".into(),
            decided_at: None,
            refusal: None,
            refusal_text: None,
            withheld: vec!["medical-opinions".into()],
            amendments: 0,
        }
    }

    #[test]
    fn the_destination_is_body_slash_office() {
        assert_eq!(destination(" cramif/ss-75 ").unwrap(), "cramif/ss-75");
        for bad in ["cramif", "cramif/", "/ss-75", "cramif.ss-75", "CRAMIF/ss 75"] {
            assert!(matches!(destination(bad), Err(Failure::Usage(_))), "{bad}");
        }
    }

    #[test]
    fn the_texts_say_what_is_withheld_and_what_happens_next() {
        let text = sent_text(&view("out", "sending"));
        assert!(text.contains("withheld  the medical service's opinions (I.10"), "{text}");
        assert!(text.contains("frozen") && text.contains("transfers show 0190c0de"), "{text}");
        let mut refused = view("out", "refused");
        refused.refusal = Some("person-not-attached".into());
        assert!(view_lines(&refused).contains("refused (person-not-attached): the file is unfrozen"));
        let list = TransferList {
            format: TRANSFERS_FORMAT.into(),
            office: "ss-13".into(),
            transfers: vec![refused],
            next: None,
        };
        let text = list_text(&list);
        assert!(text.contains("out  to cramif/ss-75") && text.contains("refused (person-not-attached)"), "{text}");
        let shown = IncomingTransferView {
            format: TRANSFERS_FORMAT.into(),
            transfer: view("in", "awaiting-attachment"),
            person: Some(TransferredPerson {
                nir: None,
                family_name: Some("Transferta".into()),
                usage_name: None,
                given_names: Some("Alix".into()),
                birth_date: Some("1950-03-01".into()),
            }),
        };
        let text = show_text(&shown);
        assert!(text.contains("family name Transferta") && text.contains("transfers accept 0190c0de"), "{text}");
    }
}
