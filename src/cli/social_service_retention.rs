//! `passerelle social-service retention …`: the 18 months of norm 43. `run` runs the daemon's
//! retention pass now (an `operator` or a `director-delegate`) and prints what it did;
//! `flagged` shows a `social-worker` the office's files the pass flags, and why, and those about
//! to leave the live store. Each is a call of the daemon's local API; the `--json` outputs are
//! its answers, each with its `format` (docs/JSON.md).

use passerelle_social_service::service::retention_flagged::{Fate, FlagReason, FlaggedList};
use passerelle_social_service::RetentionReport;

use super::requester_api::call;
use super::social_service::{json, print, Api};
use crate::exit::CliResult;

/// The long help of `social-service retention`: the clock, what is flagged and why, the pass.
pub const HELP: &str = "\
A case file is kept 18 months in the live store (norm 43, `[retention] live_months`), counted
from the end of its last action — or from its last activity when it has none. Then, unless the
person refused the archive, it enters the archive for at most 3 years more (`archive_months`;
`social-service archive --help`); a refused archive, or archive_months = 0, means it is erased.

The daemon runs the RETENTION PASS at start and every hour. The pass:
  1. flags each open action idle 90 days (`idle_flag_days`) to the office, and closes those idle
     365 days (`idle_close_days`) at the day of their last activity, so their 18 months start;
  2. takes each file whose 18 months ran out: admitted to the archive then erased from the live
     store, or erased; a file whose person's objection is pending is not taken: it waits,
     flagged, for the director's decision (`social-service rights decide`);
  3. erases from the archive the files whose time there ran out.
Erased means every row of the file, a `delete` by daemon:social-service in the access log
written before the erasure commits, and the store rebuilt so nothing of it is readable on disk.

FLAGGED, and what the office does about it:
  idle action         nothing recorded since DATE: follow the person up (a contact), or close
                      the file; otherwise the pass closes it at DATE once idle 365 days
  objection pending   the 18 months ran out on DATE but the person objected: the file stays
                      until the director's delegate upholds (erased) or refuses the objection
`flagged` also lists the files leaving the live store within 30 days, with the day and what
becomes of them (archive, erase, wait): a last chance to record what is still to be recorded.
Reading the list is a read of each file listed in the access log.

Examples:
  passerelle social-service retention flagged --config /etc/passerelle/social-service.toml
  passerelle social-service retention run --config /etc/passerelle/social-service.toml --json
(the first as a social worker of the office, the second as an operator or the director's delegate)";

#[derive(Debug, clap::Subcommand)]
pub enum RetentionCommand {
    /// Run the retention pass now (operator, director-delegate) and print what it did.
    #[command(after_long_help = HELP)]
    Run(ReportArgs),
    /// The office's flagged files and why, and the files leaving the live store within 30 days
    /// (social worker).
    #[command(after_long_help = HELP)]
    Flagged(ReportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub api: Api,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

pub fn run(command: RetentionCommand) -> CliResult {
    match command {
        RetentionCommand::Run(a) => {
            let report: RetentionReport = call(a.api.client()?.post_json("/v1/retention/run", &serde_json::json!({})))?;
            if a.json {
                return print(&json(&report)?);
            }
            print(&report_text(&report))
        }
        RetentionCommand::Flagged(a) => {
            let list: FlaggedList = call(a.api.client()?.get_json("/v1/retention/flagged"))?;
            if a.json {
                return print(&json(&list)?);
            }
            print(&flagged_text(&list))
        }
    }
}

/// The pass's report: its counts, then the ids of the files it flagged.
fn report_text(r: &RetentionReport) -> String {
    let mut out = format!(
        "Retention pass at {}:\n  archived {} (admitted to the archive, erased from the live store)\n  \
         erased {} (no archive)\n  archive erased {} (their time in the archive ran out)\n  \
         idle closed {} (closed at their last activity)\n  flagged {} ({} idle, {} waiting for a decision on an objection)\n",
        r.at,
        r.archived,
        r.erased,
        r.archive_erased,
        r.idle_closed,
        r.flagged_idle.len() + r.waiting_objection.len(),
        r.flagged_idle.len(),
        r.waiting_objection.len(),
    );
    for id in &r.flagged_idle {
        out.push_str(&format!("  idle action        {id}\n"));
    }
    for id in &r.waiting_objection {
        out.push_str(&format!("  objection pending  {id}\n"));
    }
    out
}

/// The office's flagged files with their reason, then the due files with their day.
fn flagged_text(l: &FlaggedList) -> String {
    let mut out = format!("Retention of {}, {} ({} months live)\n", l.office, l.today, l.live_months);
    if l.flagged.is_empty() {
        out.push_str("Flagged: none.\n");
    } else {
        out.push_str(&format!("Flagged ({}):\n", l.flagged.len()));
    }
    for f in &l.flagged {
        let why = match f.reason {
            FlagReason::IdleAction => format!(
                "an action idle since {}: follow it up or close the file (closed by the pass from {})",
                f.since,
                f.closes_on.as_deref().unwrap_or("?")
            ),
            FlagReason::ObjectionPending => {
                format!("an objection pending: due since {}, waits for the director's decision", f.since)
            }
        };
        out.push_str(&format!("  {}  {why}\n", f.file));
    }
    if l.due.is_empty() {
        out.push_str(&format!("Leaving the live store within {} days: none.\n", l.within_days));
    } else {
        out.push_str(&format!("Leaving the live store within {} days ({}):\n", l.within_days, l.due.len()));
    }
    for d in &l.due {
        let fate = match d.fate {
            Fate::Archive => "to the archive",
            Fate::Erase => "erased (no archive)",
            Fate::Wait => "waits: an objection is pending",
        };
        out.push_str(&format!("  {}  {}  {fate}\n", d.file, d.leaves_on));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_social_service::service::retention_flagged::{DueFile, FlaggedFile};

    #[test]
    fn the_texts_say_why_and_when() {
        let list = FlaggedList {
            format: "f".into(),
            office: "ss-13".into(),
            today: "2027-07-20".into(),
            live_months: 18,
            within_days: 30,
            flagged: vec![FlaggedFile {
                file: "f-1".into(),
                reason: FlagReason::IdleAction,
                since: "2027-04-16".into(),
                closes_on: Some("2028-04-15".into()),
            }],
            due: vec![DueFile { file: "f-2".into(), leaves_on: "2027-08-04".into(), fate: Fate::Erase }],
        };
        let text = flagged_text(&list);
        assert!(text.contains("f-1  an action idle since 2027-04-16"), "{text}");
        assert!(text.contains("from 2028-04-15"), "{text}");
        assert!(text.contains("f-2  2027-08-04  erased (no archive)"), "{text}");
        let report = RetentionReport { archived: 2, waiting_objection: vec!["f-3".into()], ..Default::default() };
        let text = report_text(&report);
        assert!(text.contains("archived 2 ") && text.contains("flagged 1 (0 idle, 1 waiting"), "{text}");
        assert!(text.contains("objection pending  f-3"), "{text}");
    }
}
