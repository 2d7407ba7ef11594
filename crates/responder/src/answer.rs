//! Minimisation and the response: what a body may answer to a solicitation, and the response it
//! sends. Pure functions, no IO.
//!
//! **Invariant:** a response carries values only for categories both *asked* in the solicitation
//! and *held* by this body's configuration; [`build_response`] enforces it on whatever the source
//! returned, so a source that returns too much cannot leak it.
//!
//! Each asked category that is not answered is declined, the same way on every chunk:
//! - a number that is not a category of art. 2, 2° to 7° (unknown to this schema, or
//!   `CATEGORY_UNSPECIFIED`) → `NOT_IN_DECREE`;
//! - a category of the decree this body is not configured to hold → `NOT_HELD`;
//! - a held category whose lookup failed for this chunk → `SOURCE_UNAVAILABLE`, with a detail
//!   free of personal data.

use std::time::{Duration, SystemTime};

use passerelle_protocol::catalogue;
use passerelle_protocol::rules::OBSERVATORY_RETENTION_CAP;
use passerelle_protocol::v1::{self, Category, Decline, DeclineReason, PersonStatus};

use crate::source::SourceAnswer;

/// How long after the solicitation's `respond_by` the response stays deliverable in the broker.
/// An observatory that was down at its deadline still gets the answers once it is back, within
/// a day; past that the case has been returned (partial) and the response would be a copy kept
/// for nothing. Either way the copy never outlives the 30-day cap (see [`response_expiry`]).
pub const RESPONSE_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The categories of a solicitation split into those to look up and those declined.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Asked ∩ held, in catalogue order, without duplicates.
    pub answerable: Vec<Category>,
    /// The rest of what was asked, each with its reason, in the order asked.
    pub declined: Vec<Decline>,
}

/// Splits the asked category numbers (as on the wire, possibly outside the enum) against the
/// held categories.
pub fn plan(asked: &[i32], held: &[Category]) -> Plan {
    let mut answerable = Vec::new();
    let mut declined: Vec<Decline> = Vec::new();
    for &number in asked {
        match catalogue::by_number(number) {
            Some(info) if held.contains(&info.category) => answerable.push(info.category),
            Some(info) => push_decline(
                &mut declined,
                number,
                DeclineReason::NotHeld,
                format!("{} is not held by this body", info.code),
            ),
            None => push_decline(
                &mut declined,
                number,
                DeclineReason::NotInDecree,
                format!("category number {number} is not one of art. 2, 2° to 7°"),
            ),
        }
    }
    answerable.sort_by_key(|c| *c as i32);
    answerable.dedup();
    Plan { answerable, declined }
}

fn push_decline(declined: &mut Vec<Decline>, category: i32, reason: DeclineReason, detail: String) {
    if !declined.iter().any(|d| d.category == category) {
        declined.push(Decline { category, reason: reason as i32, detail });
    }
}

/// The response to one solicitation chunk: one answer per person, in order, found or not; values
/// only for `plan.answerable` minus the categories the source could not read.
pub fn build_response(body: &str, solicitation: &v1::Solicitation, plan: &Plan, source: SourceAnswer) -> v1::Response {
    let mut declined = plan.declined.clone();
    let unavailable: Vec<Category> = source.unavailable.iter().map(|(c, _)| *c).collect();
    for (category, detail) in source.unavailable {
        if plan.answerable.contains(&category) {
            push_decline(&mut declined, category as i32, DeclineReason::SourceUnavailable, detail);
        }
    }
    let permitted = |c: Category| plan.answerable.contains(&c) && !unavailable.contains(&c);
    let answers = solicitation
        .persons
        .iter()
        .zip(source.persons.into_iter().chain(std::iter::repeat(None)))
        .map(|(person, found)| match found {
            Some(mut values) => {
                values.retain(permitted);
                v1::PersonAnswer {
                    person_ref: person.person_ref,
                    status: PersonStatus::Found as i32,
                    values: Some(values),
                }
            }
            None => {
                v1::PersonAnswer { person_ref: person.person_ref, status: PersonStatus::NotFound as i32, values: None }
            }
        })
        .collect();
    v1::Response {
        schema_minor: passerelle_protocol::SCHEMA_MINOR,
        schema_version: v1::SchemaVersion::SchemaVersion1 as i32,
        sender: body.to_owned(),
        case_id: solicitation.case_id.clone(),
        solicitation_id: solicitation.solicitation_id.clone(),
        chunk_index: solicitation.chunk_index,
        chunk_count: solicitation.chunk_count,
        answers,
        declined,
    }
}

/// When the response's broker copy expires: the solicitation's `respond_by` plus
/// [`RESPONSE_GRACE`], but never later than `now` plus the observatory's 30-day cap
/// ([`OBSERVATORY_RETENTION_CAP`]). The observatory sets `respond_by` at most 21 days after the
/// request arrived, so the first bound already falls inside the case's own cap; the second keeps
/// a bogus far-future deadline from stretching it.
pub fn response_expiry(respond_by: SystemTime, now: SystemTime) -> SystemTime {
    (respond_by + RESPONSE_GRACE).min(now + OBSERVATORY_RETENTION_CAP)
}

/// A protobuf timestamp as a `SystemTime` (`None` before the epoch or out of range).
pub fn system_time(timestamp: &prost_types::Timestamp) -> Option<SystemTime> {
    let secs = u64::try_from(timestamp.seconds).ok()?;
    let nanos = u32::try_from(timestamp.nanos).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_protocol::v1::CategoryValues;

    const HELD: [Category; 2] = [Category::HousingAid, Category::Rsa];

    #[test]
    fn asked_and_held_are_answered_the_rest_declined_with_a_reason() {
        let asked = [Category::Rsa as i32, Category::LongTermCondition as i32, 99, 0, Category::Rsa as i32, 99];
        let p = plan(&asked, &HELD);
        assert_eq!(p.answerable, vec![Category::Rsa]);
        let reasons: Vec<(i32, i32)> = p.declined.iter().map(|d| (d.category, d.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (Category::LongTermCondition as i32, DeclineReason::NotHeld as i32),
                (99, DeclineReason::NotInDecree as i32),
                (0, DeclineReason::NotInDecree as i32),
            ]
        );
    }

    fn solicitation(persons: u64) -> v1::Solicitation {
        v1::Solicitation {
            case_id: "case".into(),
            solicitation_id: "sol".into(),
            chunk_index: 2,
            chunk_count: 5,
            persons: (0..persons).map(|i| v1::SolicitedPerson { person_ref: 10 + i, ..Default::default() }).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_response_never_carries_more_than_asked_and_held() {
        let p = plan(&[Category::Rsa as i32, Category::HousingAid as i32], &HELD);
        // A source that returns everything it has: values of categories not asked, not held.
        let too_much = CategoryValues {
            rsa: Some(true),
            housing_aid: Some(false),
            long_term_condition: Some(true),
            quarters_contributed: Some(100),
            ..Default::default()
        };
        let source = SourceAnswer {
            persons: vec![Some(too_much), None],
            unavailable: vec![(Category::HousingAid, "timeout".into()), (Category::Css, "not asked".into())],
            generation: None,
        };
        let r = build_response("cnaf", &solicitation(3), &p, source);
        assert_eq!((r.sender.as_str(), r.case_id.as_str(), r.solicitation_id.as_str()), ("cnaf", "case", "sol"));
        assert_eq!((r.chunk_index, r.chunk_count), (2, 5));
        assert_eq!(r.answers.len(), 3, "one answer per person, found or not");
        let first = &r.answers[0];
        assert_eq!((first.person_ref, first.status), (10, PersonStatus::Found as i32));
        let only_rsa = CategoryValues { rsa: Some(true), ..Default::default() };
        assert_eq!(first.values.as_ref(), Some(&only_rsa));
        for a in &r.answers[1..] {
            assert_eq!((a.status, a.values.as_ref()), (PersonStatus::NotFound as i32, None));
        }
        assert_eq!(r.declined.len(), 1, "{:?}", r.declined);
        assert_eq!(r.declined[0].category, Category::HousingAid as i32);
        assert_eq!(r.declined[0].reason, DeclineReason::SourceUnavailable as i32);
    }

    #[test]
    fn responses_expire_after_the_deadline_within_the_cap() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let week = Duration::from_secs(7 * 24 * 3600);
        assert_eq!(response_expiry(now + week, now), now + week + RESPONSE_GRACE);
        let bogus = now + Duration::from_secs(365 * 24 * 3600);
        assert_eq!(response_expiry(bogus, now), now + OBSERVATORY_RETENTION_CAP);
        let t = prost_types::Timestamp { seconds: 1_000_000_000, nanos: 5 };
        assert_eq!(system_time(&t), Some(now + Duration::from_nanos(5)));
        assert_eq!(system_time(&prost_types::Timestamp { seconds: -1, nanos: 0 }), None);
    }
}
