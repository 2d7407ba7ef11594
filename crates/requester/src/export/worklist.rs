//! One case's contact list as the social service works through it (decree art. 3, last step):
//! its persons in rank order — the same score and rank as the case's result files — and, for a
//! person who accepts the offer, the consolidated values the result files hold for them.
//! Computed here from the store, one case at a time: memory holds one case's ranking (an id and
//! a score per person), never the names of more persons than a page lists. The worklist computes
//! a case's ranking once and keeps it in the store (`store::worklist`), its pages read from there.

use passerelle_protocol::v1::Category;
use passerelle_protocol::value::Value;

use super::{consolidate_person, score_of, ExportError, Plan};
use crate::ranking::{self, Ranked, Scorer};
use crate::store::{CaseRecord, CaseState, PersonRow, Store, SubmissionRecord};

/// A person of a case's contact list, in rank order (the rank of the i-th is i + 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ListedPerson {
    /// The store's id of the person ([`Store::person`] reads their cells).
    pub id: i64,
    /// Their selection line.
    pub line: u64,
    pub score: f64,
}

/// The contact list of `case` (of `submission`), in rank order: the persons the observatory did
/// not refuse; none when the case was refused whole.
pub fn case_ranking(
    store: &Store,
    scorer: &Scorer,
    submission: &SubmissionRecord,
    case: &CaseRecord,
) -> Result<Vec<ListedPerson>, ExportError> {
    if case.state != CaseState::Answered {
        return Ok(Vec::new());
    }
    let plan = Plan::new(submission, std::slice::from_ref(case));
    let bodies: Vec<String> = case.bodies.iter().map(|b| b.body.clone()).collect();
    let mut people = Vec::new();
    store.for_each_person(&[case.id], |p| {
        if p.refusal.is_none() {
            let row = consolidate_person(&plan, &p, &bodies);
            let score = score_of(scorer, &row, &p.known);
            people.push(Ranked { score, tie_key: ranking::tie_key(&p.nir), item: (p.id, p.line) });
        }
        Ok(())
    })?;
    Ok(ranking::rank(people)
        .into_iter()
        .map(|r| ListedPerson { id: r.item.0, line: r.item.1, score: r.score })
        .collect())
}

/// The consolidated values of `person` (read with [`Store::person`]) for the categories the
/// submission asked for, in catalogue order, as the result files hold them; unknown ones left
/// out.
pub fn consolidated_values(
    submission: &SubmissionRecord,
    case: &CaseRecord,
    person: &PersonRow,
) -> Vec<(Category, Value)> {
    let plan = Plan::new(submission, std::slice::from_ref(case));
    let bodies: Vec<String> = case.bodies.iter().map(|b| b.body.clone()).collect();
    consolidate_person(&plan, person, &bodies).merged.into_iter().filter_map(|m| Some((m.category, m.value?))).collect()
}

/// The selection's cell of `column` among a person's `cells` (as [`Store::person`] or a
/// worklist page reads them), `None` when the selection had no such column or left it empty.
pub fn cell<'a>(submission: &SubmissionRecord, cells: &'a [String], column: &str) -> Option<&'a str> {
    let index = submission.columns.iter().position(|c| c == column)?;
    cells.get(index).map(String::as_str).filter(|c| !c.is_empty())
}
