//! Merging what the bodies said about one person into one value per requested category.
//!
//! A person belongs to one scheme, so most of the time a category has at most one value. When
//! several bodies give one and they **agree**, the value is kept and every one of them is its
//! source. When they **disagree**, this rule decides, and the row says so:
//!
//! - a boolean is `true` if any body says `true` (precaution: the point of the exchange is to
//!   find the persons at risk, and a risk factor one body knows of is a risk factor);
//! - any other value is the one of the category's primary holder: the first body of the
//!   catalogue's holder list for that category (`cnam` before `msa` for health insurance, `cnav`
//!   before `msa` for retirement, `cnaf` before `msa` for family benefits), then other bodies in
//!   alphabetical order.
//!
//! In result files, `<category>__source` lists the bodies whose value was kept, `|`-separated,
//! then — only when some disagreed — `!` and the dissenting bodies: `cnav!msa` reads "cnav's value
//! was kept, msa said otherwise". JSON Lines carries the dissenting values too.
//!
//! A requested category that no body gave but that the selection itself has a value for keeps
//! the selection's value, with the source `selection`.

use passerelle_protocol::catalogue;
use passerelle_protocol::v1::{BodyAnswer, Category, CategoryValues, PersonStatus};
use passerelle_protocol::value::Value;

/// The pseudo-source of a value the requester already had in its selection.
pub const SELECTION_SOURCE: &str = "selection";

/// One requested category of one person, consolidated.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub category: Category,
    /// The kept value; `None` when nobody knows.
    pub value: Option<Value>,
    /// The bodies that gave the kept value (or [`SELECTION_SOURCE`]), in preference order.
    pub sources: Vec<String>,
    /// The bodies that gave another value, with that value.
    pub dissent: Vec<(String, Value)>,
}

impl Merged {
    /// The `<category>__source` cell: `cnam|msa`, `cnav!msa`, `selection`, or empty.
    pub fn source_text(&self) -> String {
        let mut text = self.sources.join("|");
        if !self.dissent.is_empty() {
            text.push('!');
            text.push_str(&self.dissent.iter().map(|(b, _)| b.as_str()).collect::<Vec<_>>().join("|"));
        }
        text
    }
}

/// The preference rank of a body for a category: its position in the catalogue's holder list,
/// bodies outside it after, alphabetically (the caller sorts on `(rank, name)`).
fn preference(category: Category, body: &str) -> usize {
    catalogue::info(category).and_then(|i| i.default_holders.iter().position(|h| *h == body)).unwrap_or(usize::MAX)
}

/// Merges one category from the answers of the bodies (only `FOUND` answers carry values).
pub fn merge(category: Category, answers: &[BodyAnswer], known: Option<&CategoryValues>) -> Merged {
    let mut given: Vec<(&str, Value)> = answers
        .iter()
        .filter(|a| a.status == PersonStatus::Found as i32)
        .filter_map(|a| a.values.as_ref().and_then(|v| v.get(category)).map(|v| (a.body.as_str(), v)))
        .collect();
    given.sort_by(|(a, _), (b, _)| preference(category, a).cmp(&preference(category, b)).then_with(|| a.cmp(b)));
    given.dedup_by(|(a, _), (b, _)| a == b);
    let Some((_, first)) = given.first() else {
        let value = known.and_then(|k| k.get(category));
        let sources = if value.is_some() { vec![SELECTION_SOURCE.to_owned()] } else { Vec::new() };
        return Merged { category, value, sources, dissent: Vec::new() };
    };
    let kept = if given.iter().any(|(_, v)| *v == Value::Bool(true)) { Value::Bool(true) } else { first.clone() };
    let mut sources = Vec::new();
    let mut dissent = Vec::new();
    for (body, v) in given {
        if v == kept {
            sources.push(body.to_owned());
        } else {
            dissent.push((body.to_owned(), v));
        }
    }
    Merged { category, value: Some(kept), sources, dissent }
}

/// The status of one body for one person, as written in `status__<body>`: `found`,
/// `not_found`, `missing` (the body answered the chunk but left the person out — a violation by
/// the body, never "not found"), `no_answer` (no answer before the deadline); a body solicited for
/// the case but absent from the person's answers did not answer for them.
pub fn status_text(answers: &[BodyAnswer], body: &str) -> &'static str {
    match answers.iter().find(|a| a.body == body).map(|a| PersonStatus::try_from(a.status)) {
        Some(Ok(PersonStatus::Found)) => "found",
        Some(Ok(PersonStatus::NotFound)) => "not_found",
        Some(Ok(PersonStatus::Missing)) => "missing",
        _ => "no_answer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str, status: PersonStatus, set: impl FnOnce(&mut CategoryValues)) -> BodyAnswer {
        let mut values = CategoryValues::default();
        set(&mut values);
        BodyAnswer { body: body.into(), status: status as i32, values: Some(values) }
    }

    #[test]
    fn agreeing_bodies_are_all_sources() {
        let answers = [
            answer("msa", PersonStatus::Found, |v| v.family_situation = Some(6)),
            answer("cnav", PersonStatus::Found, |v| v.family_situation = Some(6)),
        ];
        let m = merge(Category::FamilySituation, &answers, None);
        assert_eq!(m.source_text(), "cnav|msa");
        assert!(m.dissent.is_empty());
    }

    #[test]
    fn disagreement_true_wins_for_booleans_primary_holder_otherwise() {
        let answers = [
            answer("cnam", PersonStatus::Found, |v| v.long_term_condition = Some(false)),
            answer("msa", PersonStatus::Found, |v| v.long_term_condition = Some(true)),
        ];
        let m = merge(Category::LongTermCondition, &answers, None);
        assert_eq!(m.value, Some(Value::Bool(true)));
        assert_eq!(m.source_text(), "msa!cnam");

        let answers = [
            answer("msa", PersonStatus::Found, |v| v.quarters_contributed = Some(90)),
            answer("cnav", PersonStatus::Found, |v| v.quarters_contributed = Some(120)),
        ];
        let m = merge(Category::QuartersContributed, &answers, None);
        assert_eq!(m.value, Some(Value::Count(120)));
        assert_eq!(m.source_text(), "cnav!msa");
        assert_eq!(m.dissent, vec![("msa".to_owned(), Value::Count(90))]);
    }

    #[test]
    fn not_found_answers_carry_nothing_and_the_selection_fills_in() {
        let answers = [answer("cnaf", PersonStatus::NotFound, |v| v.rsa = Some(true))];
        let m = merge(Category::Rsa, &answers, None);
        assert_eq!((m.value.clone(), m.source_text()), (None, String::new()));
        let known = CategoryValues { rsa: Some(false), ..Default::default() };
        let m = merge(Category::Rsa, &answers, Some(&known));
        assert_eq!((m.value.clone(), m.source_text()), (Some(Value::Bool(false)), "selection".to_owned()));
        assert_eq!(status_text(&answers, "cnaf"), "not_found");
        assert_eq!(status_text(&answers, "msa"), "no_answer");
        let left_out = [answer("cnaf", PersonStatus::Missing, |_| {})];
        assert_eq!(status_text(&left_out, "cnaf"), "missing", "left out by the body: neither not found nor no answer");
    }
}
