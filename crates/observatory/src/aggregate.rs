//! Aggregation (art. 3, fourth paragraph): taking the bodies' responses in, and building the
//! consolidated result per person, each value with its source body.
//!
//! On receipt ([`receive`]) the observatory keeps only what it asked that body (minimisation on
//! receipt): values of other categories and values for a person "not found" are dropped and
//! counted as violations for the audit trail (by counts and category codes, never values), and a
//! person of the chunk the response leaves out is `MISSING` for that body (a violation too). A
//! response that cannot be merged as a whole (persons outside the chunk or answered twice, a
//! status other than found/not found, undecodable values) is faulty ([`Faults`]): refused, it
//! answers nothing. In the result ([`result_chunk`]) every accepted person appears, found by
//! some body or not; a body silent at the deadline is `NO_ANSWER` for its persons.

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

/// What a body sent that it should not have, in a response that could be merged (counts only).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Violations {
    /// Values of categories the body was not asked (dropped).
    pub values_not_asked: u64,
    /// Those categories' codes.
    pub categories_not_asked: BTreeSet<String>,
    /// Values given for a person the body says it does not know (dropped).
    pub values_when_not_found: u64,
    /// Persons of the chunk the response leaves out: `MISSING` for this body in the result.
    pub missing_persons: u64,
}

impl Violations {
    pub fn any(&self) -> bool {
        self.values_not_asked + self.values_when_not_found + self.missing_persons > 0
    }
}

/// Why a response cannot be merged as a whole (a faulty response): it is refused with a notice
/// (`NOTICE_REASON_FAULTY_RESPONSE`) and does not answer its chunk, so a corrected one is taken.
/// Counts only, and the category's code for undecodable values, never a value.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Faults {
    /// Answers about a person reference outside the chunk.
    pub persons_outside_chunk: u64,
    /// Persons answered more than once.
    pub persons_twice: u64,
    /// Answers whose status is neither `FOUND` nor `NOT_FOUND`.
    pub bad_status: u64,
    /// Answers whose values do not decode as the categories' values (the first reason).
    pub undecodable_values: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_undecodable: Option<String>,
}

impl Faults {
    pub fn any(&self) -> bool {
        self.persons_outside_chunk + self.persons_twice + self.bad_status + self.undecodable_values > 0
    }

    /// The notice's reason: what to fix, by counts.
    pub fn reason(&self) -> String {
        let mut parts = Vec::new();
        if self.persons_outside_chunk > 0 {
            parts.push(format!("{} answer(s) about a person_ref outside the chunk", self.persons_outside_chunk));
        }
        if self.persons_twice > 0 {
            parts.push(format!("{} person(s) answered twice", self.persons_twice));
        }
        if self.bad_status > 0 {
            parts.push(format!("{} answer(s) with a status other than FOUND or NOT_FOUND", self.bad_status));
        }
        if let Some(first) = &self.first_undecodable {
            parts.push(format!("{} answer(s) with undecodable values ({first})", self.undecodable_values));
        }
        format!("faulty response, not merged (send a corrected one): {}", parts.join("; "))
    }
}

/// A response chunk, reduced to what may be kept.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// One per person of the chunk: found, not found, or `MISSING` (left out by the body).
    pub answers: Vec<StoredAnswer>,
    /// The declines about categories that were asked.
    pub declines: Vec<v1::Decline>,
    pub found: u64,
    pub not_found: u64,
    pub violations: Violations,
}

/// Takes a response chunk in: only the asked categories; every person of the chunk `refs`
/// answered once, found or not found, else the response is faulty ([`Faults`]). Persons the
/// response leaves out are recorded `MISSING` for this body (a violation).
pub fn receive(
    response: &v1::Response,
    solicitation: &StoredSolicitation,
    refs: Range<u64>,
) -> Result<Received, Faults> {
    let mut asked = CategorySet::default();
    for &number in &solicitation.categories {
        asked.insert_number(number);
    }
    let mut out = Received::default();
    let mut faults = Faults::default();
    let mut seen = BTreeSet::new();
    for answer in &response.answers {
        if !refs.contains(&answer.person_ref) {
            faults.persons_outside_chunk += 1;
            continue;
        }
        if !seen.insert(answer.person_ref) {
            faults.persons_twice += 1;
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
                if let Err(why) = values.check_values() {
                    faults.undecodable_values += 1;
                    faults.first_undecodable.get_or_insert(why);
                    continue;
                }
                out.found += 1;
            }
            PersonStatus::NotFound => {
                let extra = values.present().count() as u64;
                out.violations.values_when_not_found += extra;
                values = v1::CategoryValues::default();
                out.not_found += 1;
            }
            _ => {
                faults.bad_status += 1;
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
    if faults.any() {
        return Err(faults);
    }
    for person_ref in refs.filter(|r| !seen.contains(r)) {
        out.violations.missing_persons += 1;
        out.answers.push(StoredAnswer {
            person_ref,
            body: solicitation.body.clone(),
            status: PersonStatus::Missing as i32,
            values: Vec::new(),
        });
    }
    out.declines = response.declined.iter().filter(|d| asked.contains_number(d.category)).cloned().collect();
    Ok(out)
}

/// What the store keeps per solicitation of the body's outcome so far: the declines (the same
/// on every chunk) and how many persons its responses left out (summed over its chunks).
pub fn encode_outcome(declines: &[v1::Decline], missing: u32) -> Vec<u8> {
    // A `BodyOutcome` is a ready-made container for both.
    v1::BodyOutcome { declined: declines.to_vec(), missing, ..Default::default() }.encode_to_vec()
}

/// Decodes what [`encode_outcome`] stored: (declines, persons left out).
pub fn decode_outcome(bytes: &[u8]) -> (Vec<v1::Decline>, u32) {
    v1::BodyOutcome::decode(bytes).map(|o| (o.declined, o.missing)).unwrap_or_default()
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
            declined: decode_outcome(&s.declines).0,
            missing: decode_outcome(&s.declines).1,
        })
        .collect()
}

/// The completeness of a result: `COMPLETE` only when every body answered every chunk and left
/// nobody out.
pub fn completeness(outcomes: &[v1::BodyOutcome]) -> Completeness {
    if outcomes.iter().all(|o| o.answered && o.missing == 0) {
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
                    Some(a) if a.status == PersonStatus::Missing as i32 => "missing",
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

    fn response(answers: Vec<v1::PersonAnswer>) -> v1::Response {
        v1::Response { answers, ..Default::default() }
    }

    #[test]
    fn only_what_was_asked_is_kept_and_persons_left_out_are_missing() {
        let too_much = v1::CategoryValues { housing_aid: Some(true), css: Some(true), ..Default::default() };
        let response = v1::Response {
            declined: vec![
                v1::Decline { category: Category::Rsa as i32, reason: 2, detail: String::new() },
                v1::Decline { category: Category::Css as i32, reason: 2, detail: String::new() },
            ],
            ..response(vec![
                answer(10, PersonStatus::Found, too_much.clone()),
                answer(11, PersonStatus::NotFound, too_much.clone()),
            ])
        };
        let r = receive(&response, &solicitation(), 10..13).expect("valid, with violations");
        assert_eq!(r.answers.len(), 3, "one per person of the chunk");
        let kept = v1::CategoryValues::decode(r.answers[0].values.as_slice()).unwrap();
        assert_eq!(kept, v1::CategoryValues { housing_aid: Some(true), ..Default::default() });
        assert!(r.answers[1].values.is_empty(), "nothing kept for a person not found");
        assert_eq!((r.answers[2].person_ref, r.answers[2].status), (12, PersonStatus::Missing as i32));
        let v = &r.violations;
        assert_eq!((v.values_not_asked, v.values_when_not_found, v.missing_persons), (1, 2, 1));
        assert_eq!(v.categories_not_asked.iter().collect::<Vec<_>>(), ["css"]);
        assert_eq!(r.declines.len(), 1, "a decline of an unasked category is ignored");
        assert_eq!(decode_outcome(&encode_outcome(&r.declines, 3)), (r.declines.clone(), 3));
    }

    #[test]
    fn a_response_that_cannot_be_merged_as_a_whole_is_faulty() {
        let found = v1::CategoryValues { housing_aid: Some(true), ..Default::default() };
        let ok = |r| answer(r, PersonStatus::Found, found.clone());
        let faults = |answers| receive(&response(answers), &solicitation(), 10..12).unwrap_err();
        let outside = faults(vec![ok(10), ok(11), ok(12)]);
        assert_eq!(outside, Faults { persons_outside_chunk: 1, ..Default::default() });
        assert!(outside.reason().contains("outside the chunk"), "{}", outside.reason());
        assert_eq!(faults(vec![ok(10), ok(11), ok(10)]), Faults { persons_twice: 1, ..Default::default() });
        let no_answer = answer(11, PersonStatus::NoAnswer, v1::CategoryValues::default());
        assert_eq!(faults(vec![ok(10), no_answer]), Faults { bad_status: 1, ..Default::default() });
        let unknown_situation = v1::CategoryValues { family_situation: Some(99), ..Default::default() };
        let mut solicitation = solicitation();
        solicitation.categories.push(Category::FamilySituation as i32);
        let undecodable =
            receive(&response(vec![ok(10), answer(11, PersonStatus::Found, unknown_situation)]), &solicitation, 10..12)
                .unwrap_err();
        assert_eq!(undecodable.undecodable_values, 1);
        assert!(undecodable.reason().contains("undecodable values"), "{}", undecodable.reason());
        assert!(receive(&response(vec![ok(10), ok(11)]), &solicitation, 10..12).is_ok());
    }

    #[test]
    fn a_result_with_a_person_left_out_is_not_complete() {
        let outcome = |answered, missing| v1::BodyOutcome { answered, missing, ..Default::default() };
        assert_eq!(completeness(&[outcome(true, 0), outcome(true, 0)]), Completeness::Complete);
        assert_eq!(completeness(&[outcome(true, 0), outcome(true, 1)]), Completeness::Partial);
        assert_eq!(completeness(&[outcome(false, 0), outcome(true, 0)]), Completeness::Partial);
        let s = StoredSolicitation { declines: encode_outcome(&[], 2), ..solicitation() };
        assert_eq!(body_outcomes(&[s], &[true])[0].missing, 2);
    }
}
