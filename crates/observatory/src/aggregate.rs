//! Aggregation (art. 3, fourth paragraph): taking the bodies' responses in, and building the
//! consolidated result per person, each value with its source body.
//!
//! On receipt ([`receive`]) the observatory keeps only what it asked that body (minimisation on
//! receipt): values of other categories, values for a person "not found", answers about persons
//! outside the chunk are dropped and counted as violations for the audit trail (by counts and
//! category codes, never values). In the result ([`result_chunk`]) every accepted person appears,
//! found by some body or not; a body silent at the deadline is `NO_ANSWER` for its persons.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::SystemTime;

use passerelle_observatory_store::statistics::REQUESTER_SOURCE;
use passerelle_observatory_store::{
    CaseRecord, Pseudonymiser, StatisticsRow, StatisticsValue, StoredAnswer, StoredPerson, StoredSolicitation,
};
use passerelle_protocol::catalogue::CategorySet;
use passerelle_protocol::ids::ObservatoryCode;
use passerelle_protocol::v1::{self, Category, Completeness, PersonStatus};
use passerelle_protocol::value;
use prost::Message as _;

/// What a body sent that it should not have (counts only).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Violations {
    /// Values of categories the body was not asked (dropped).
    pub values_not_asked: u64,
    /// Those categories' codes.
    pub categories_not_asked: BTreeSet<String>,
    /// Values given for a person the body says it does not know (dropped).
    pub values_when_not_found: u64,
    /// Answers about a person reference outside the chunk (dropped).
    pub unknown_persons: u64,
    /// A second answer about the same person in one response (dropped).
    pub duplicate_persons: u64,
    /// Persons of the chunk the response does not answer (they stay `NO_ANSWER`).
    pub missing_persons: u64,
    /// Answers whose status is neither found nor not found (dropped).
    pub bad_status: u64,
}

impl Violations {
    pub fn any(&self) -> bool {
        self.values_not_asked
            + self.values_when_not_found
            + self.unknown_persons
            + self.duplicate_persons
            + self.missing_persons
            + self.bad_status
            > 0
    }
}

/// A response chunk, reduced to what may be kept.
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub answers: Vec<StoredAnswer>,
    /// The declines about categories that were asked.
    pub declines: Vec<v1::Decline>,
    pub found: u64,
    pub not_found: u64,
    pub violations: Violations,
}

/// Takes a response chunk in: only the asked categories, only the chunk's persons.
pub fn receive(response: &v1::Response, solicitation: &StoredSolicitation, refs: Range<u64>) -> Received {
    let mut asked = CategorySet::default();
    for &number in &solicitation.categories {
        asked.insert_number(number);
    }
    let mut out = Received::default();
    let mut seen = BTreeSet::new();
    for answer in &response.answers {
        if !refs.contains(&answer.person_ref) {
            out.violations.unknown_persons += 1;
            continue;
        }
        if !seen.insert(answer.person_ref) {
            out.violations.duplicate_persons += 1;
            continue;
        }
        let mut values = answer.values.clone().unwrap_or_default();
        let status = PersonStatus::try_from(answer.status).unwrap_or(PersonStatus::Unspecified);
        match status {
            PersonStatus::Found => {
                for (category, _) in values.present().collect::<Vec<_>>() {
                    if !asked.contains(category) {
                        out.violations.values_not_asked += 1;
                        out.violations.categories_not_asked.insert(category.code().to_owned());
                    }
                }
                values.retain(|c| asked.contains(c));
                out.found += 1;
            }
            PersonStatus::NotFound => {
                let extra = values.present().count() as u64;
                out.violations.values_when_not_found += extra;
                values = v1::CategoryValues::default();
                out.not_found += 1;
            }
            _ => {
                out.violations.bad_status += 1;
                seen.remove(&answer.person_ref);
                continue;
            }
        }
        out.answers.push(StoredAnswer {
            person_ref: answer.person_ref,
            body: solicitation.body.clone(),
            status: status as i32,
            values: values.encode_to_vec(),
        });
    }
    out.violations.missing_persons = (refs.end - refs.start).saturating_sub(seen.len() as u64);
    out.declines = response.declined.iter().filter(|d| asked.contains_number(d.category)).cloned().collect();
    out
}

/// Encodes declines for the store.
pub fn encode_declines(declines: &[v1::Decline]) -> Vec<u8> {
    // A `BodyOutcome` is a ready-made container for a list of declines.
    v1::BodyOutcome { declined: declines.to_vec(), ..Default::default() }.encode_to_vec()
}

/// Decodes what [`encode_declines`] stored.
pub fn decode_declines(bytes: &[u8]) -> Vec<v1::Decline> {
    v1::BodyOutcome::decode(bytes).map(|o| o.declined).unwrap_or_default()
}

/// The case-level outcome per solicited body. `answered[i]`: body `i` answered every chunk.
pub fn body_outcomes(solicitations: &[StoredSolicitation], answered: &[bool]) -> Vec<v1::BodyOutcome> {
    solicitations
        .iter()
        .zip(answered)
        .map(|(s, &answered)| v1::BodyOutcome {
            body: s.body.to_string(),
            asked: s.categories.clone(),
            answered,
            declined: decode_declines(&s.declines),
            // Set by the observatory once it records persons left out (issue 28).
            missing: 0,
        })
        .collect()
}

/// The completeness of a result.
pub fn completeness(answered: &[bool]) -> Completeness {
    if answered.iter().all(|a| *a) {
        Completeness::Complete
    } else {
        Completeness::Partial
    }
}

/// One result chunk: each person of the chunk with one answer per solicited body.
#[allow(clippy::too_many_arguments)]
pub fn result_chunk(
    observatory: &ObservatoryCode,
    case: &CaseRecord,
    solicitations: &[StoredSolicitation],
    outcomes: &[v1::BodyOutcome],
    completeness: Completeness,
    chunk_index: u32,
    chunk_count: u32,
    persons: &[StoredPerson],
    answers: &[StoredAnswer],
) -> v1::Result {
    let by_person = index_answers(answers);
    v1::Result {
        schema_minor: passerelle_protocol::SCHEMA_MINOR,
        schema_version: v1::SchemaVersion::SchemaVersion1 as i32,
        sender: observatory.to_string(),
        case_id: case.case_id.clone(),
        chunk_index,
        chunk_count,
        completeness: completeness as i32,
        bodies: outcomes.to_vec(),
        persons: persons
            .iter()
            .map(|p| v1::ResultPerson {
                nir: p.nir.clone(),
                answers: solicitations
                    .iter()
                    .map(|s| match by_person.get(&(p.person_ref, s.body.as_str())) {
                        Some(a) if a.status == PersonStatus::Found as i32 => v1::BodyAnswer {
                            body: s.body.to_string(),
                            status: a.status,
                            values: v1::CategoryValues::decode(a.values.as_slice()).ok(),
                        },
                        Some(a) => v1::BodyAnswer { body: s.body.to_string(), status: a.status, values: None },
                        None => v1::BodyAnswer {
                            body: s.body.to_string(),
                            status: PersonStatus::NoAnswer as i32,
                            values: None,
                        },
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn index_answers(answers: &[StoredAnswer]) -> BTreeMap<(u64, &str), &StoredAnswer> {
    answers.iter().map(|a| ((a.person_ref, a.body.as_str()), a)).collect()
}

/// The statistics rows of a chunk of persons: pseudonym instead of NIR, the values received
/// with their source, the requester's known risk factors, each body's status.
pub fn statistics_rows(
    pseudonymiser: &Pseudonymiser,
    case: &CaseRecord,
    solicitations: &[StoredSolicitation],
    persons: &[StoredPerson],
    answers: &[StoredAnswer],
    now: SystemTime,
) -> Vec<StatisticsRow> {
    let by_person = index_answers(answers);
    let requested: Vec<String> =
        case.wanted.iter().filter_map(|n| Category::try_from(*n).ok()).map(|c| c.code().to_owned()).collect();
    persons
        .iter()
        .map(|p| {
            let mut values = Vec::new();
            let mut push = |bytes: &[u8], source: &str| {
                if let Ok(v) = v1::CategoryValues::decode(bytes) {
                    for (category, val) in v.present() {
                        values.push(StatisticsValue {
                            category: category.code().to_owned(),
                            source: source.to_owned(),
                            value: value::format(&val),
                        });
                    }
                }
            };
            push(&p.risk_factors, REQUESTER_SOURCE);
            let mut statuses = Vec::new();
            for s in solicitations {
                let status = match by_person.get(&(p.person_ref, s.body.as_str())) {
                    Some(a) if a.status == PersonStatus::Found as i32 => {
                        push(&a.values, s.body.as_str());
                        "found"
                    }
                    Some(_) => "not_found",
                    None => "no_answer",
                };
                statuses.push((s.body.to_string(), status.to_owned()));
            }
            StatisticsRow {
                pseudonym: pseudonymiser.pseudonym(&p.nir),
                case_id: case.case_id.clone(),
                recorded_at: now,
                territory: p.departement.clone(),
                requester: case.requester.clone(),
                requester_office: case.requester_office.clone(),
                service: passerelle_observatory_store::service_code(case.service),
                requested: requested.clone(),
                sex: value::sex_code(v1::Sex::try_from(p.sex).unwrap_or(v1::Sex::Unspecified)).to_owned(),
                birth_year: p.birth_year,
                values,
                answers: statuses,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solicitation() -> StoredSolicitation {
        StoredSolicitation {
            solicitation_id: "s".into(),
            case_id: "c".into(),
            body: passerelle_protocol::ids::BodyCode::parse("cnaf").unwrap(),
            categories: vec![Category::HousingAid as i32, Category::Rsa as i32],
            chunk_count: 1,
            declines: vec![],
            created_at: SystemTime::now(),
        }
    }

    fn answer(person_ref: u64, status: PersonStatus, values: v1::CategoryValues) -> v1::PersonAnswer {
        v1::PersonAnswer { person_ref, status: status as i32, values: Some(values) }
    }

    #[test]
    fn only_what_was_asked_of_the_chunk_s_persons_is_kept() {
        let too_much = v1::CategoryValues { housing_aid: Some(true), css: Some(true), ..Default::default() };
        let response = v1::Response {
            answers: vec![
                answer(10, PersonStatus::Found, too_much.clone()),
                answer(11, PersonStatus::NotFound, too_much.clone()),
                answer(10, PersonStatus::Found, too_much.clone()),
                answer(99, PersonStatus::Found, too_much.clone()),
                answer(12, PersonStatus::NoAnswer, too_much),
            ],
            declined: vec![
                v1::Decline { category: Category::Rsa as i32, reason: 2, detail: String::new() },
                v1::Decline { category: Category::Css as i32, reason: 2, detail: String::new() },
            ],
            ..Default::default()
        };
        let r = receive(&response, &solicitation(), 10..13);
        assert_eq!(r.answers.len(), 2);
        let kept = v1::CategoryValues::decode(r.answers[0].values.as_slice()).unwrap();
        assert_eq!(kept, v1::CategoryValues { housing_aid: Some(true), ..Default::default() });
        assert!(r.answers[1].values.is_empty(), "nothing kept for a person not found");
        let v = &r.violations;
        assert_eq!(
            (
                v.values_not_asked,
                v.values_when_not_found,
                v.duplicate_persons,
                v.unknown_persons,
                v.bad_status,
                v.missing_persons
            ),
            (1, 2, 1, 1, 1, 1)
        );
        assert_eq!(v.categories_not_asked.iter().collect::<Vec<_>>(), ["css"]);
        assert_eq!(r.declines.len(), 1, "a decline of an unasked category is ignored");
        assert_eq!(decode_declines(&encode_declines(&r.declines)), r.declines);
    }
}
