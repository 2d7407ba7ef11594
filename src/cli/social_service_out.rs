//! What `social-service` commands print without `--json`: a few lines a social worker reads.

use passerelle_social_service::requester_client::{Outcome, Worklist};
use passerelle_social_service::service::opposition::{DecisionView, Held};
use passerelle_social_service::service::views::*;
use passerelle_social_service::store::Decision;

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Accepted => "accepted",
        Outcome::Declined => "declined",
        Outcome::NoReply => "no reply",
    }
}

/// The worklist, one person a line, in rank order.
pub fn worklist(page: &Worklist) -> String {
    let mut out = format!("Worklist of {} ({} persons on this page)\n", page.office, page.entries.len());
    for e in &page.entries {
        let contact = [e.phone.as_deref(), e.email.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ");
        let mut outcome = e
            .outcome
            .as_ref()
            .map(|o| format!(" — {} on {} by {}", outcome_word(o.outcome), o.date, o.agent))
            .unwrap_or_default();
        if e.opposed {
            outcome.push_str(" — objection upheld — do not offer");
        }
        out.push_str(&format!(
            "  case {} line {:>5}  rank {:>4}/{}  score {:>5.1}  {} {}{}  {}{}\n",
            e.case,
            e.line,
            e.rank,
            e.persons,
            e.score,
            e.family_name,
            e.given_names,
            e.birth_year.map(|y| format!(" ({y})")).unwrap_or_default(),
            contact,
            outcome
        ));
    }
    if let Some(next) = &page.next {
        out.push_str(&format!("More: --after {next}\n"));
    }
    out
}

/// An outcome recorded, and the file opened for an acceptance.
pub fn outcome(o: &OutcomeView) -> String {
    let mut out = format!(
        "Recorded at the requester: case {} line {} {} on {} by {}.\n",
        o.case,
        o.line,
        outcome_word(o.outcome),
        o.date,
        o.agent
    );
    match &o.file {
        Some(file) if o.existing => out.push_str(&format!("The person already has case file {file}.\n")),
        Some(file) => out.push_str(&format!("Case file opened: {file}\n")),
        None => out.push_str("Nothing of the person is kept by the social service.\n"),
    }
    if !o.left_behind.is_empty() {
        out.push_str(&format!("Decree values with no home in the norm, left behind: {}\n", o.left_behind.join(", ")));
    }
    out
}

/// The office's files, one a line.
pub fn list(list: &FileList) -> String {
    let mut out = format!("Case files of {} ({} on this page)\n", list.office, list.files.len());
    for f in &list.files {
        out.push_str(&format!(
            "  {}  {:<6}  {} {}  opened {}  last activity {}\n",
            f.file,
            match f.state {
                passerelle_social_service::store::FileState::Open => "open",
                passerelle_social_service::store::FileState::Closed => "closed",
            },
            f.family_name.as_deref().unwrap_or("?"),
            f.given_names.as_deref().unwrap_or(""),
            f.opened_at,
            f.last_activity_at
        ));
    }
    if let Some(next) = &list.next {
        out.push_str(&format!("More: --after {next}\n"));
    }
    out
}

/// One file: its fields by path, its actions and offers.
pub fn file(v: &FileView) -> String {
    let mut out = format!(
        "Case file {} ({:?}, office {}), opened {} by {}\n",
        v.file, v.state, v.office, v.opened_at, v.opened_by
    );
    for (path, value) in &v.fields {
        out.push_str(&format!("  {path} = {value}\n"));
    }
    for a in &v.actions {
        out.push_str(&format!(
            "  action {} ({}) from {} to {}\n",
            a.action,
            a.purpose,
            a.start.as_deref().unwrap_or("?"),
            a.end.as_deref().unwrap_or("(open)")
        ));
        for c in &a.contacts {
            out.push_str(&format!(
                "    contact {} on {} by {}\n",
                c.channel,
                c.date.as_deref().unwrap_or("?"),
                c.agent
            ));
        }
    }
    for o in &v.offers {
        let dates: Vec<&str> = o.sessions.iter().filter_map(|s| s.date.as_deref()).collect();
        out.push_str(&format!(
            "  offer {} {} ({}), {} participant(s){}\n",
            o.kind,
            o.theme,
            o.offer,
            o.participants.len(),
            if dates.is_empty() { String::new() } else { format!(", sessions {}", dates.join(", ")) }
        ));
    }
    out
}

/// A change made.
pub fn changed(c: &Changed) -> String {
    if c.items.is_empty() {
        format!("Case file {}: {} done.\n", c.file, c.what)
    } else {
        format!("Case file {}: {} ({}).\n", c.file, c.what, c.items.join(", "))
    }
}

/// A rights request recorded.
pub fn right(r: &RightView) -> String {
    let decision = r.decision.as_deref().map(|d| format!(", decision {d}")).unwrap_or_default();
    format!("Case file {}: {:?} recorded at {}{decision}.\n", r.file, r.kind, r.at)
}

/// A decision on an objection, in a sentence.
pub fn decision(d: &DecisionView) -> String {
    let held = match d.held {
        Held::Live => "live store",
        Held::Archive => "archive",
    };
    match d.decision {
        Decision::Upheld => format!(
            "Case file {}: objection upheld at {}; the file is erased from the {held} and the person gets no new offer.\n",
            d.file, d.at
        ),
        Decision::Refused => format!("Case file {}: objection refused at {}; the reason is recorded.\n", d.file, d.at),
    }
}
