//! The contact list's order (decree art. 3, last step: "identifier les personnes les plus
//! susceptibles de présenter un risque … et les contacter"): a configurable score per person,
//! then a rank.
//!
//! **The score** is the sum, over the categories of art. 2, of the category's weight when the
//! person's value for it *counts*:
//!
//! | value type | counts when |
//! |---|---|
//! | boolean | it is `true` |
//! | family situation | it is one of `ranking.family_situations` (default: widowed, divorced, separated, single — living alone) |
//! | hospital stays | there are at least `ranking.hospital_stays_at_least` stays (default 1) |
//! | `quarters_contributed` | it is below `ranking.quarters_contributed_below` (default 100: a short, broken career) |
//! | `household_annual_resources` | it is below `ranking.household_annual_resources_below` euros (default 14 600) |
//! | `resources_per_consumption_unit` | it is below `ranking.resources_per_consumption_unit_below` euros (default 14 600, about the poverty line: 60 % of the median living standard, INSEE 2022, 1 216 €/month) |
//! | date | it is present (default weight 0) |
//!
//! The value used is the consolidated one of the result (see `consolidate`); for a category no
//! body gave, the requester's own value from the selection, if any. Unknown counts as nothing.
//! Weights may be negative (e.g. `complementary_cover = -1`: having one lowers the score).
//!
//! **The rank** orders by score, highest first; ties are broken by the NIR in ascending byte
//! order, so the same data always gives the same list, whatever the order of the file or of the
//! result chunks. Ranks are 1, 2, 3… with no gaps and no two persons sharing one.

use std::collections::BTreeMap;

use passerelle_protocol::catalogue::{self, ValueType, CATEGORIES};
use passerelle_protocol::v1::{Category, FamilySituation};
use passerelle_protocol::value::{self, Value};

use crate::settings::{check_family_situations, check_weights, SettingsError};

/// The default weight of each category, by code. Chosen from the fragility indicators the
/// observatories publish: low income and its markers (old-age minimum, CSS, RSA, CSG exemption,
/// resources per consumption unit) and health events (long-term condition, hospital stays,
/// long sick leave, home-return aid) weigh most; isolation (living alone, widowhood) next;
/// weaker or indirect signals 1; neutral facts (dates, several pension schemes) 0.
pub const DEFAULT_WEIGHTS: [(&str, f64); 27] = [
    ("family_situation", 2.0),
    ("css", 2.0),
    ("complementary_cover", 0.0),
    ("hospital_stays_12m", 2.0),
    ("work_accident_12m", 1.0),
    ("sick_pay_over_90d_12m", 2.0),
    ("long_term_condition", 2.0),
    ("no_reimbursement_12m", 1.0),
    ("no_declared_gp", 1.0),
    ("invalidity_pension", 2.0),
    ("work_incapacity", 2.0),
    ("survivor_pension", 2.0),
    ("old_age_minimum", 3.0),
    ("contributory_minimum", 1.0),
    ("housing_aid", 1.0),
    ("disabled_adult_allowance", 2.0),
    ("rsa", 2.0),
    ("activity_bonus", 1.0),
    ("home_return_aid", 2.0),
    ("csg_exemption", 2.0),
    ("job_seeker_registration", 1.0),
    ("quarters_contributed", 1.0),
    ("multi_scheme_pensions", 0.0),
    ("pension_start_date", 0.0),
    ("pension_payment_date", 0.0),
    ("household_annual_resources", 1.0),
    ("resources_per_consumption_unit", 2.0),
];

/// A career this short (in quarters) is a sign of precariousness; a full career is 166–172.
pub const DEFAULT_QUARTERS_BELOW: u32 = 100;

/// About the poverty line for one consumption unit, in euros a year (INSEE, 2022: 60 % of the
/// median living standard, 1 216 € a month).
pub const DEFAULT_RESOURCES_BELOW_EUROS: f64 = 14_600.0;

/// The family situations that count by default: the person lives alone.
pub const DEFAULT_FAMILY_SITUATIONS: [&str; 4] = ["widowed", "divorced", "separated", "single"];

/// How persons are scored (`[ranking]` in the settings). See the module documentation.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RankingSettings {
    /// Weights by category code, overriding [`DEFAULT_WEIGHTS`] one by one (a category not
    /// named keeps its default; set 0 to ignore one).
    #[serde(default)]
    pub weights: BTreeMap<String, f64>,
    #[serde(default = "default_quarters")]
    pub quarters_contributed_below: u32,
    /// Euros a year.
    #[serde(default = "default_resources")]
    pub household_annual_resources_below: f64,
    /// Euros a year.
    #[serde(default = "default_resources")]
    pub resources_per_consumption_unit_below: f64,
    /// Codes (or French words) of the family situations that count.
    #[serde(default = "default_family_situations")]
    pub family_situations: Vec<String>,
    #[serde(default = "default_stays")]
    pub hospital_stays_at_least: u32,
}

fn default_quarters() -> u32 {
    DEFAULT_QUARTERS_BELOW
}
fn default_resources() -> f64 {
    DEFAULT_RESOURCES_BELOW_EUROS
}
fn default_family_situations() -> Vec<String> {
    DEFAULT_FAMILY_SITUATIONS.iter().map(|s| s.to_string()).collect()
}
fn default_stays() -> u32 {
    1
}

impl Default for RankingSettings {
    fn default() -> Self {
        RankingSettings {
            weights: BTreeMap::new(),
            quarters_contributed_below: default_quarters(),
            household_annual_resources_below: default_resources(),
            resources_per_consumption_unit_below: default_resources(),
            family_situations: default_family_situations(),
            hospital_stays_at_least: default_stays(),
        }
    }
}

impl RankingSettings {
    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        check_weights(&self.weights)?;
        check_family_situations(&self.family_situations)?;
        for (key, v) in [
            ("ranking.household_annual_resources_below", self.household_annual_resources_below),
            ("ranking.resources_per_consumption_unit_below", self.resources_per_consumption_unit_below),
        ] {
            if !v.is_finite() {
                return Err(SettingsError::new(key, "must be a finite amount in euros"));
            }
        }
        Ok(())
    }
}

/// The scoring rule, resolved from the settings once.
#[derive(Debug, Clone)]
pub struct Scorer {
    /// Indexed by `Category as usize`.
    weights: [f64; CATEGORIES.len() + 1],
    quarters_below: u32,
    household_below_cents: i64,
    per_unit_below_cents: i64,
    family_situations: Vec<FamilySituation>,
    stays_at_least: usize,
}

impl Scorer {
    /// Resolves validated settings (unknown codes were refused by `validate`, and are ignored).
    pub fn new(settings: &RankingSettings) -> Scorer {
        let mut weights = [0.0; CATEGORIES.len() + 1];
        for (code, w) in
            DEFAULT_WEIGHTS.iter().map(|(c, w)| (*c, *w)).chain(settings.weights.iter().map(|(c, w)| (c.as_str(), *w)))
        {
            if let Some(info) = catalogue::by_code(code) {
                weights[info.category as usize] = w;
            }
        }
        let cents = |euros: f64| (euros * 100.0).round() as i64;
        Scorer {
            weights,
            quarters_below: settings.quarters_contributed_below,
            household_below_cents: cents(settings.household_annual_resources_below),
            per_unit_below_cents: cents(settings.resources_per_consumption_unit_below),
            family_situations: settings
                .family_situations
                .iter()
                .filter_map(|s| value::parse_family_situation(s))
                .collect(),
            stays_at_least: settings.hospital_stays_at_least as usize,
        }
    }

    /// The weight of a category.
    pub fn weight(&self, category: Category) -> f64 {
        self.weights[category as usize]
    }

    /// Whether a value counts toward the score (see the module documentation).
    pub fn counts(&self, category: Category, v: &Value) -> bool {
        match (category, v) {
            (Category::QuartersContributed, Value::Count(n)) => *n < self.quarters_below,
            (Category::HouseholdAnnualResources, Value::Amount(c)) => *c < self.household_below_cents,
            (Category::ResourcesPerConsumptionUnit, Value::Amount(c)) => *c < self.per_unit_below_cents,
            (_, Value::Bool(b)) => *b,
            (_, Value::FamilySituation(s)) => self.family_situations.contains(s),
            (_, Value::HospitalStays(stays)) => stays.len() >= self.stays_at_least.max(1),
            (_, Value::Date(_)) => true,
            (_, Value::Count(_)) | (_, Value::Amount(_)) => false,
        }
    }

    /// The score of a person whose value of each category is given by `value_of`.
    pub fn score(&self, mut value_of: impl FnMut(Category) -> Option<Value>) -> f64 {
        let mut total = 0.0;
        for info in &CATEGORIES {
            let w = self.weight(info.category);
            if w == 0.0 {
                continue;
            }
            if let Some(v) = value_of(info.category) {
                if self.counts(info.category, &v) {
                    total += w;
                }
            }
        }
        total
    }
}

/// The value type of a category (for callers that format thresholds).
pub fn value_type(category: Category) -> Option<ValueType> {
    catalogue::info(category).map(|i| i.value_type)
}

/// One person to rank: the score and the tie-breaking key (the NIR's bytes), plus whatever the
/// caller needs to find the person again.
#[derive(Debug, Clone)]
pub struct Ranked<T> {
    pub score: f64,
    pub tie_key: [u8; 15],
    pub item: T,
}

/// Orders by score (highest first), then by NIR. Returns the items in rank order; the rank of
/// the i-th is i + 1.
pub fn rank<T>(mut people: Vec<Ranked<T>>) -> Vec<Ranked<T>> {
    people.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.tie_key.cmp(&b.tie_key)));
    people
}

/// The tie key of a NIR (15 ASCII characters; shorter input is padded with zero bytes).
pub fn tie_key(nir: &str) -> [u8; 15] {
    let mut key = [0u8; 15];
    for (k, b) in key.iter_mut().zip(nir.bytes()) {
        *k = b;
    }
    key
}

/// A score as written in result files: at most two decimals, no trailing zeros (`3`, `2.5`).
pub fn format_score(score: f64) -> String {
    let text = format!("{score:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_protocol::v1::{self, HospitalStay};

    #[test]
    fn defaults_cover_every_category_once() {
        for (i, info) in CATEGORIES.iter().enumerate() {
            assert_eq!(DEFAULT_WEIGHTS[i].0, info.code);
        }
        RankingSettings::default().validate().unwrap();
    }

    #[test]
    fn configured_weights_override_the_defaults_one_by_one() {
        let mut s = RankingSettings::default();
        s.weights.insert("rsa".into(), 10.0);
        let scorer = Scorer::new(&s);
        assert_eq!(scorer.weight(Category::Rsa), 10.0);
        assert_eq!(scorer.weight(Category::OldAgeMinimum), 3.0);
    }

    #[test]
    fn what_counts() {
        let scorer = Scorer::new(&RankingSettings::default());
        assert!(scorer.counts(Category::Rsa, &Value::Bool(true)));
        assert!(!scorer.counts(Category::Rsa, &Value::Bool(false)));
        assert!(scorer.counts(Category::QuartersContributed, &Value::Count(80)));
        assert!(!scorer.counts(Category::QuartersContributed, &Value::Count(160)));
        assert!(scorer.counts(Category::ResourcesPerConsumptionUnit, &Value::Amount(1_000_000)));
        assert!(!scorer.counts(Category::ResourcesPerConsumptionUnit, &Value::Amount(2_000_000)));
        assert!(scorer.counts(Category::FamilySituation, &Value::FamilySituation(FamilySituation::Widowed)));
        assert!(!scorer.counts(Category::FamilySituation, &Value::FamilySituation(FamilySituation::Married)));
        assert!(!scorer.counts(Category::HospitalStays12m, &Value::HospitalStays(vec![])));
        let stay = HospitalStay { admission: Some(v1::Date { year: 2025, month: 1, day: 2 }), length_days: 3, mode: 1 };
        assert!(scorer.counts(Category::HospitalStays12m, &Value::HospitalStays(vec![stay])));
    }

    #[test]
    fn score_sums_weights_and_ties_break_by_nir() {
        let scorer = Scorer::new(&RankingSettings::default());
        let s = scorer.score(|c| match c {
            Category::Rsa | Category::OldAgeMinimum => Some(Value::Bool(true)),
            Category::Css => Some(Value::Bool(false)),
            _ => None,
        });
        assert_eq!(s, 5.0);
        let people = vec![
            Ranked { score: 1.0, tie_key: tie_key("2"), item: "b" },
            Ranked { score: 3.0, tie_key: tie_key("9"), item: "top" },
            Ranked { score: 1.0, tie_key: tie_key("1"), item: "a" },
        ];
        let order: Vec<_> = rank(people).into_iter().map(|r| r.item).collect();
        assert_eq!(order, vec!["top", "a", "b"]);
        assert_eq!(format_score(3.0), "3");
        assert_eq!(format_score(2.5), "2.5");
        assert_eq!(format_score(-0.0), "0");
    }
}
