//! The case-level summary of a submission (`*.summary.json`, and printed by the CLI): what each
//! observatory and body did, and who was refused and why — never a NIR, a name or a contact.

use passerelle_protocol::catalogue;
use passerelle_protocol::untrusted::{Shown, REASON_CHARS};
use passerelle_protocol::v1;
use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::OutputPaths;
use crate::store::{CaseRecord, CaseState, ProblemRecord, Store, StoreError, SubmissionRecord};

/// The case-level summary of a submission (`*.summary.json`, and printed by the CLI). No NIR,
/// name or contact in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub submission: String,
    pub submitted_at: String,
    /// When everything of the submission is purged (files included).
    pub purge_after: String,
    pub service: String,
    pub wanted: Vec<Cow<'static, str>>,
    pub selection: SelectionCounts,
    /// Persons in the contact list.
    pub persons_listed: u64,
    pub cases: Vec<CaseSummary>,
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SelectionCounts {
    pub lines: u64,
    pub rejected: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseSummary {
    pub case_id: String,
    pub observatory: String,
    pub state: CaseState,
    pub persons: u64,
    /// `complete` or `partial` once answered.
    pub completeness: Option<Cow<'static, str>>,
    pub bodies: Vec<BodySummary>,
    /// Why the observatory refused the whole case, if it did.
    pub case_refused: Vec<ProblemRecord>,
    /// The persons it refused, by selection line, with the reasons.
    pub refused_persons: Vec<RefusedPerson>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BodySummary {
    pub body: String,
    pub asked: Vec<Cow<'static, str>>,
    pub answered: bool,
    /// Persons its responses left out (their status is `missing`): « réponse incomplète de
    /// l'organisme ».
    #[serde(default)]
    pub missing: u32,
    pub declined: Vec<DeclineSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeclineSummary {
    /// The category code, or its number when it is not one of the decree's.
    pub category: String,
    pub reason: Cow<'static, str>,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefusedPerson {
    pub line: u64,
    pub problems: Vec<ProblemRecord>,
}

/// RFC 3339, UTC, with the fraction of a second only as long as it needs to be
/// (`2026-03-01T09:30:00Z`, `2026-03-01T09:30:00.25Z`).
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let t = chrono::DateTime::<chrono::Utc>::from(t);
    let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos != 0 {
        out.push_str(format!(".{nanos:09}").trim_end_matches('0'));
    }
    out.push('Z');
    out
}

fn category_text(n: i32) -> String {
    catalogue::by_number(n).map_or_else(|| format!("category {n}"), |i| i.code.to_owned())
}

fn decline_reason(n: i32) -> &'static str {
    match v1::DeclineReason::try_from(n) {
        Ok(v1::DeclineReason::NotInDecree) => "not_in_decree",
        Ok(v1::DeclineReason::NotHeld) => "not_held",
        Ok(v1::DeclineReason::SourceUnavailable) => "source_unavailable",
        _ => "unspecified",
    }
}

impl CaseSummary {
    pub fn build(store: &Store, case: &CaseRecord) -> Result<CaseSummary, StoreError> {
        let refused_persons = store
            .refused_persons(case.id)?
            .into_iter()
            .map(|(line, problems)| RefusedPerson { line, problems })
            .collect();
        Ok(CaseSummary {
            case_id: case.id.to_string(),
            observatory: case.observatory.clone(),
            state: case.state,
            persons: case.persons,
            completeness: match case.completeness {
                v1::Completeness::Complete => Some("complete".into()),
                v1::Completeness::Partial => Some("partial".into()),
                v1::Completeness::Unspecified => None,
            },
            bodies: case
                .bodies
                .iter()
                .map(|b| BodySummary {
                    body: b.body.clone(),
                    asked: b
                        .asked
                        .iter()
                        .map(|&c| catalogue::by_number(c).map_or("unspecified", |i| i.code).into())
                        .collect(),
                    answered: b.answered,
                    missing: b.missing,
                    declined: b
                        .declined
                        .iter()
                        .map(|d| DeclineSummary {
                            category: category_text(d.category),
                            reason: decline_reason(d.reason).into(),
                            detail: d.detail.clone(),
                        })
                        .collect(),
                })
                .collect(),
            case_refused: case.case_problems.clone(),
            refused_persons,
        })
    }
}

impl Summary {
    pub fn build(
        store: &Store,
        submission: &SubmissionRecord,
        cases: &[CaseRecord],
        persons_listed: u64,
        paths: &OutputPaths,
    ) -> Result<Summary, StoreError> {
        Ok(Summary {
            submission: submission.id.to_string(),
            submitted_at: rfc3339(submission.submitted_at),
            purge_after: rfc3339(submission.purge_after),
            service: submission.service.clone(),
            wanted: submission.wanted.iter().map(|c| c.code().into()).collect(),
            selection: SelectionCounts { lines: submission.lines, rejected: submission.rejected },
            persons_listed,
            cases: cases.iter().map(|c| CaseSummary::build(store, c)).collect::<Result<_, _>>()?,
            files: paths.files().iter().map(|p| p.display().to_string()).collect(),
        })
    }
}

/// The summary as sentences, for the terminal.
pub fn render_summary(summary: &Summary) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ =
        writeln!(out, "submission {} — {} person(s) in the contact list", summary.submission, summary.persons_listed);
    for c in &summary.cases {
        render_case(&mut out, c);
    }
    for f in &summary.files {
        let _ = writeln!(out, "  written: {f}");
    }
    let _ = writeln!(out, "  purged on {} (decree art. 5: 24 months at most)", summary.purge_after);
    out
}

/// One case as sentences: state, declines, refusals with their reasons.
pub fn render_case(out: &mut String, c: &CaseSummary) {
    use std::fmt::Write as _;
    let completeness = c.completeness.as_ref().map(|s| format!(", {s}")).unwrap_or_default();
    let _ =
        writeln!(out, "  case {} → {}: {} person(s), {}{}", c.case_id, c.observatory, c.persons, c.state, completeness);
    for b in &c.bodies {
        if !b.answered {
            let _ = writeln!(out, "    {}: did not answer before the deadline (its persons are no_answer)", b.body);
        }
        if b.missing > 0 {
            let _ = writeln!(
                out,
                "    {}: left {} person(s) out of its response (their status is missing: réponse incomplète de l'organisme)",
                b.body, b.missing
            );
        }
        for d in &b.declined {
            // The body wrote the detail.
            let detail = if d.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", Shown::text(&d.detail).at_most(REASON_CHARS))
            };
            let _ = writeln!(out, "    {} declined {}: {}{}", b.body, d.category, d.reason, detail);
        }
    }
    if !c.case_refused.is_empty() {
        let _ = writeln!(out, "    the observatory REFUSED the whole case:");
        for p in &c.case_refused {
            let _ = writeln!(out, "      {}", problem_text(p));
        }
    }
    for r in &c.refused_persons {
        let reasons: Vec<String> = r.problems.iter().map(problem_text).collect();
        let _ = writeln!(out, "    line {} refused by the observatory: {}", r.line, reasons.join("; "));
    }
}

/// A problem as the terminal shows it: the observatory wrote both parts.
fn problem_text(p: &ProblemRecord) -> String {
    let reason = Shown::text(&p.reason).at_most(REASON_CHARS);
    if p.field.is_empty() {
        reason.to_string()
    } else {
        format!("{}: {reason}", Shown::text(&p.field))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::rfc3339;

    #[test]
    fn times_are_rfc3339_in_utc_with_the_shortest_fraction() {
        let whole = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(whole), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(whole + Duration::from_millis(250)), "2023-11-14T22:13:20.25Z");
        assert_eq!(rfc3339(whole + Duration::from_millis(7)), "2023-11-14T22:13:20.007Z");
    }

    #[test]
    fn a_body_that_left_persons_out_is_said_to_have_answered_incompletely() {
        let case: super::CaseSummary = serde_json::from_value(serde_json::json!({
            "case_id": "c", "observatory": "obs", "state": "answered", "persons": 3, "completeness": "partial",
            "bodies": [{"body": "cnav", "asked": ["rsa"], "answered": true, "missing": 2, "declined": []},
                       {"body": "msa", "asked": ["rsa"], "answered": true, "declined": []}],
            "case_refused": [], "refused_persons": []
        }))
        .unwrap();
        let mut out = String::new();
        super::render_case(&mut out, &case);
        assert!(out.contains("cnav: left 2 person(s) out of its response"), "{out}");
        assert!(out.contains("réponse incomplète de l'organisme") && !out.contains("msa: left"), "{out}");
    }
}
