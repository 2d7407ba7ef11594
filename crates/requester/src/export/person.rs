//! One person's row of a case's contact list, as an agent looks one person up (`requester
//! person`): the same object a line of the case's JSON Lines file holds (`requester fetch`
//! writes that file), ranked among the persons of the case — computed here, no file read.

use passerelle_protocol::nir::Nir;

use super::{consolidate_person, score_of, ExportError, JsonPerson, Plan};
use crate::ranking::{self, Ranked, Scorer};
use crate::store::{CaseRecord, CaseState, Store, SubmissionRecord};

/// Where a person stands in a case.
#[derive(Debug, Clone, PartialEq)]
pub enum PersonLookup {
    /// In the contact list: the JSON Lines object of the person (rank, score, line, case,
    /// observatory, the selection's cells, the consolidated categories, each body's status),
    /// and how many persons the list holds.
    Listed { row: serde_json::Value, persons: u64 },
    /// In the case, but refused by the observatory (the case's summary says why, by line).
    Refused { line: u64 },
    /// Not in the case.
    Absent,
}

/// Looks `nir` up in `case` (of `submission`): its row of the case's contact list as the JSON
/// Lines file gives it.
pub fn person_in_case(
    store: &Store,
    scorer: &Scorer,
    submission: &SubmissionRecord,
    case: &CaseRecord,
    nir: &Nir,
) -> Result<PersonLookup, ExportError> {
    let cases = std::slice::from_ref(case);
    let plan = Plan::new(submission, cases);
    let bodies: Vec<String> = case.bodies.iter().map(|b| b.body.clone()).collect();
    let case_refused = case.state == CaseState::Refused;
    let mut people: Vec<Ranked<i64>> = Vec::new();
    let mut target: Option<(i64, bool, u64)> = None;
    store.for_each_person(&[case.id], |p| {
        let refused = p.refusal.is_some() || case_refused;
        if p.nir == nir.as_str() {
            target = Some((p.id, refused, p.line));
        }
        if !refused {
            let row = consolidate_person(&plan, &p, &bodies);
            people.push(Ranked {
                score: score_of(scorer, &row, &p.known),
                tie_key: ranking::tie_key(&p.nir),
                item: p.id,
            });
        }
        Ok(())
    })?;
    let Some((id, refused, line)) = target else { return Ok(PersonLookup::Absent) };
    if refused {
        return Ok(PersonLookup::Refused { line });
    }
    let ranked = ranking::rank(people);
    let persons = ranked.len() as u64;
    let (index, score) = ranked
        .iter()
        .enumerate()
        .find(|(_, r)| r.item == id)
        .map(|(i, r)| (i, r.score))
        .expect("a person not refused is ranked");
    let p = store.person(id)?;
    let row = consolidate_person(&plan, &p, &bodies);
    let json = JsonPerson {
        plan: &plan,
        person: &p,
        row: &row,
        score,
        rank: index as u64 + 1,
        observatory: &case.observatory,
    };
    let row = serde_json::to_value(&json).map_err(|e| ExportError::Io {
        path: std::path::PathBuf::from(case.id.to_string()),
        source: std::io::Error::other(e),
    })?;
    Ok(PersonLookup::Listed { row, persons })
}
