//! The value syntax shared by selection files, extracts and result files, and typed access to the
//! per-category fields of [`CategoryValues`].
//!
//! The same syntax everywhere (README, "Value syntax"): booleans `true/false/1/0/oui/non/yes/no`
//! in any case; dates `YYYY-MM-DD`; counts as whole numbers; amounts in euros with `.` or `,` as
//! the decimal mark and at most two decimals, no thousands separator; family situations by their
//! English code or French word; hospital stays as a `|`-separated list of `YYYY-MM-DD/DAYS/MODE`.
//! An empty cell means *unknown*.

use crate::catalogue::{self, ValueType};
use crate::v1::{self, Category, CategoryValues, FamilySituation, HospitalStay, HospitalStays, Sex, TreatmentMode};

/// One category's value, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Count(u32),
    Date(v1::Date),
    /// Euro cents.
    Amount(i64),
    FamilySituation(FamilySituation),
    HospitalStays(Vec<HospitalStay>),
}

/// Why a text is not a valid value of its type. The message never repeats the text itself when
/// it could be personal data; here the values are not identifying, so it is quoted (shortened).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{shown}` is not {expected}")]
pub struct ValueError {
    shown: String,
    expected: &'static str,
}

impl ValueError {
    fn new(text: &str, expected: &'static str) -> Self {
        let mut shown: String = text.chars().take(40).collect();
        if text.chars().count() > 40 {
            shown.push('…');
        }
        ValueError { shown, expected }
    }
}

/// Parses a cell of the given type. An empty (or all-blank) cell is `Ok(None)`: unknown.
pub fn parse(value_type: ValueType, text: &str) -> Result<Option<Value>, ValueError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let err = || ValueError::new(text, value_type.syntax());
    let value = match value_type {
        ValueType::Bool => Value::Bool(parse_bool(text).ok_or_else(err)?),
        ValueType::Count => Value::Count(parse_count(text).ok_or_else(err)?),
        ValueType::Date => Value::Date(parse_date(text).ok_or_else(err)?),
        ValueType::Amount => Value::Amount(parse_amount(text).ok_or_else(err)?),
        ValueType::FamilySituation => Value::FamilySituation(parse_family_situation(text).ok_or_else(err)?),
        ValueType::HospitalStays => Value::HospitalStays(parse_hospital_stays(text).ok_or_else(err)?),
    };
    Ok(Some(value))
}

/// Parses the value of a category.
pub fn parse_category(category: Category, text: &str) -> Result<Option<Value>, ValueError> {
    let info = catalogue::info(category).expect("a catalogue category");
    parse(info.value_type, text)
}

/// The canonical text form of a value (what result files and extracts write). A known empty
/// list of stays is `none`: an empty cell reads as *unknown*.
pub fn format(value: &Value) -> String {
    match value {
        Value::HospitalStays(stays) if stays.is_empty() => "none".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Count(n) => n.to_string(),
        Value::Date(d) => format_date(d),
        Value::Amount(cents) => {
            let sign = if *cents < 0 { "-" } else { "" };
            format!("{sign}{}.{:02}", cents.unsigned_abs() / 100, cents.unsigned_abs() % 100)
        }
        Value::FamilySituation(s) => family_situation_code(*s).to_owned(),
        Value::HospitalStays(stays) => stays
            .iter()
            .map(|s| {
                let date = s.admission.as_ref().map(format_date).unwrap_or_default();
                let mode = TreatmentMode::try_from(s.mode).map_or("unspecified", treatment_mode_code);
                format!("{date}/{}/{mode}", s.length_days)
            })
            .collect::<Vec<_>>()
            .join("|"),
    }
}

pub fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "oui" | "yes" | "vrai" => Some(true),
        "false" | "0" | "non" | "no" | "faux" => Some(false),
        _ => None,
    }
}

fn parse_count(text: &str) -> Option<u32> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `YYYY-MM-DD`, a real calendar date.
pub fn parse_date(text: &str) -> Option<v1::Date> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |s: &str| -> Option<u32> { s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())? };
    let (year, month, day) = (num(&text[0..4])?, num(&text[5..7])?, num(&text[8..10])?);
    chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(v1::Date { year, month, day })
}

pub fn format_date(d: &v1::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

/// Euros to cents: `1234`, `1234.5`, `1234,56`, `-12.30`. No thousands separator, at most two
/// decimals.
pub fn parse_amount(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (euros, cents) = match digits.split_once(['.', ',']) {
        Some((e, c)) => (e, c),
        None => (digits, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if euros.is_empty() || !all_digits(euros) || !all_digits(cents) || cents.len() > 2 {
        return None;
    }
    if digits.contains(['.', ',']) && cents.is_empty() {
        return None;
    }
    let cents_value: i64 = match cents.len() {
        0 => 0,
        1 => cents.parse::<i64>().ok()? * 10,
        _ => cents.parse().ok()?,
    };
    let total = euros.parse::<i64>().ok()?.checked_mul(100)?.checked_add(cents_value)?;
    Some(if negative { -total } else { total })
}

/// English codes and the decree's French words, any case, accents optional.
pub fn parse_family_situation(text: &str) -> Option<FamilySituation> {
    use FamilySituation as F;
    let lower = text.to_lowercase();
    Some(match lower.as_str() {
        "married" | "marié" | "marie" | "mariée" | "mariee" => F::Married,
        "civil_partnership" | "pacsé" | "pacse" | "pacsée" | "pacsee" | "pacs" => F::CivilPartnership,
        "cohabiting" | "concubin" | "concubine" | "concubinage" => F::Cohabiting,
        "separated" | "séparé" | "separe" | "séparée" | "separee" => F::Separated,
        "divorced" | "divorcé" | "divorce" | "divorcée" | "divorcee" => F::Divorced,
        "widowed" | "veuf" | "veuve" => F::Widowed,
        "single" | "célibataire" | "celibataire" => F::Single,
        _ => return None,
    })
}

pub fn family_situation_code(s: FamilySituation) -> &'static str {
    use FamilySituation as F;
    match s {
        F::Unspecified => "unspecified",
        F::Married => "married",
        F::CivilPartnership => "civil_partnership",
        F::Cohabiting => "cohabiting",
        F::Separated => "separated",
        F::Divorced => "divorced",
        F::Widowed => "widowed",
        F::Single => "single",
    }
}

pub fn parse_treatment_mode(text: &str) -> Option<TreatmentMode> {
    use TreatmentMode as M;
    Some(match text.to_ascii_lowercase().as_str() {
        "full" => M::Full,
        "partial" => M::Partial,
        "ambulatory" => M::Ambulatory,
        "home" => M::Home,
        "rehabilitation" => M::Rehabilitation,
        _ => return None,
    })
}

pub fn treatment_mode_code(m: TreatmentMode) -> &'static str {
    use TreatmentMode as M;
    match m {
        M::Unspecified => "unspecified",
        M::Full => "full",
        M::Partial => "partial",
        M::Ambulatory => "ambulatory",
        M::Home => "home",
        M::Rehabilitation => "rehabilitation",
    }
}

/// `YYYY-MM-DD/DAYS/MODE|…`; the single word `none` (or `aucun`) means a known empty list.
fn parse_hospital_stays(text: &str) -> Option<Vec<HospitalStay>> {
    if matches!(text.to_ascii_lowercase().as_str(), "none" | "aucun" | "aucune") {
        return Some(Vec::new());
    }
    text.split('|')
        .map(|stay| {
            let mut parts = stay.trim().split('/');
            let date = parse_date(parts.next()?)?;
            let days = parse_count(parts.next()?)?;
            let mode = parse_treatment_mode(parts.next()?)?;
            if parts.next().is_some() {
                return None;
            }
            Some(HospitalStay { admission: Some(date), length_days: days, mode: mode as i32 })
        })
        .collect()
}

/// `M`/`F`/`1`/`2` (and `H` for *homme*), any case.
pub fn parse_sex(text: &str) -> Option<Sex> {
    match text.trim().to_ascii_uppercase().as_str() {
        "M" | "H" | "1" => Some(Sex::Male),
        "F" | "2" => Some(Sex::Female),
        _ => None,
    }
}

pub fn sex_code(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "M",
        Sex::Female => "F",
        Sex::Unspecified => "",
    }
}

impl CategoryValues {
    /// The value of one category, if present.
    pub fn get(&self, category: Category) -> Option<Value> {
        use Category as C;
        let b = |v: Option<bool>| v.map(Value::Bool);
        match category {
            C::Unspecified => None,
            C::FamilySituation => {
                self.family_situation.and_then(|n| FamilySituation::try_from(n).ok()).map(Value::FamilySituation)
            }
            C::Css => b(self.css),
            C::ComplementaryCover => b(self.complementary_cover),
            C::HospitalStays12m => self.hospital_stays_12m.as_ref().map(|h| Value::HospitalStays(h.stays.clone())),
            C::WorkAccident12m => b(self.work_accident_12m),
            C::SickPayOver90d12m => b(self.sick_pay_over_90d_12m),
            C::LongTermCondition => b(self.long_term_condition),
            C::NoReimbursement12m => b(self.no_reimbursement_12m),
            C::NoDeclaredGp => b(self.no_declared_gp),
            C::InvalidityPension => b(self.invalidity_pension),
            C::WorkIncapacity => b(self.work_incapacity),
            C::SurvivorPension => b(self.survivor_pension),
            C::OldAgeMinimum => b(self.old_age_minimum),
            C::ContributoryMinimum => b(self.contributory_minimum),
            C::HousingAid => b(self.housing_aid),
            C::DisabledAdultAllowance => b(self.disabled_adult_allowance),
            C::Rsa => b(self.rsa),
            C::ActivityBonus => b(self.activity_bonus),
            C::HomeReturnAid => b(self.home_return_aid),
            C::CsgExemption => b(self.csg_exemption),
            C::JobSeekerRegistration => b(self.job_seeker_registration),
            C::QuartersContributed => self.quarters_contributed.map(Value::Count),
            C::MultiSchemePensions => b(self.multi_scheme_pensions),
            C::PensionStartDate => self.pension_start_date.map(Value::Date),
            C::PensionPaymentDate => self.pension_payment_date.map(Value::Date),
            C::HouseholdAnnualResources => self.household_annual_resources.map(Value::Amount),
            C::ResourcesPerConsumptionUnit => self.resources_per_consumption_unit.map(Value::Amount),
        }
    }

    /// Sets one category's value; a value of the wrong type for the category is refused.
    pub fn set(&mut self, category: Category, value: Value) -> Result<(), WrongType> {
        use Category as C;
        let wrong = || WrongType(category.code());
        match (category, value) {
            (C::FamilySituation, Value::FamilySituation(s)) => self.family_situation = Some(s as i32),
            (C::HospitalStays12m, Value::HospitalStays(stays)) => {
                self.hospital_stays_12m = Some(HospitalStays { stays })
            }
            (C::QuartersContributed, Value::Count(n)) => self.quarters_contributed = Some(n),
            (C::PensionStartDate, Value::Date(d)) => self.pension_start_date = Some(d),
            (C::PensionPaymentDate, Value::Date(d)) => self.pension_payment_date = Some(d),
            (C::HouseholdAnnualResources, Value::Amount(a)) => self.household_annual_resources = Some(a),
            (C::ResourcesPerConsumptionUnit, Value::Amount(a)) => self.resources_per_consumption_unit = Some(a),
            (category, Value::Bool(v)) => *self.bool_field(category).ok_or_else(wrong)? = Some(v),
            _ => return Err(wrong()),
        }
        Ok(())
    }

    /// Removes one category's value.
    pub fn clear(&mut self, category: Category) {
        use Category as C;
        match category {
            C::FamilySituation => self.family_situation = None,
            C::HospitalStays12m => self.hospital_stays_12m = None,
            C::QuartersContributed => self.quarters_contributed = None,
            C::PensionStartDate => self.pension_start_date = None,
            C::PensionPaymentDate => self.pension_payment_date = None,
            C::HouseholdAnnualResources => self.household_annual_resources = None,
            C::ResourcesPerConsumptionUnit => self.resources_per_consumption_unit = None,
            other => {
                if let Some(field) = self.bool_field(other) {
                    *field = None;
                }
            }
        }
    }

    /// Keeps only the categories for which `keep` is true (minimisation: drop what was not
    /// asked or is not held).
    pub fn retain(&mut self, mut keep: impl FnMut(Category) -> bool) {
        for info in &catalogue::CATEGORIES {
            if !keep(info.category) {
                self.clear(info.category);
            }
        }
    }

    /// The categories that have a value, in catalogue order.
    pub fn present(&self) -> impl Iterator<Item = (Category, Value)> + '_ {
        catalogue::CATEGORIES.iter().filter_map(|i| self.get(i.category).map(|v| (i.category, v)))
    }

    /// Whether no category has a value.
    pub fn is_empty(&self) -> bool {
        self.present().next().is_none()
    }

    /// Refuses values that are not values of the decree's categories, as a value that arrives to
    /// be stored (a rectification's) must be: each must read back from its text as itself (an
    /// unspecified family situation, a 13th month or an unknown treatment mode do not), and no
    /// field may be set that no category reads (an unknown enum number). The reason names the
    /// category, never the value.
    pub fn check_values(&self) -> Result<(), String> {
        let mut rebuilt = CategoryValues::default();
        for (category, v) in self.present() {
            let Some(info) = catalogue::info(category) else {
                return Err(format!("category {} is not in the catalogue", category as i32));
            };
            let back = parse(info.value_type, &format(&v));
            if !matches!(&back, Ok(Some(b)) if *b == v) || rebuilt.set(category, v).is_err() {
                return Err(format!("the {} given is not {}", info.code, info.value_type.syntax()));
            }
        }
        if rebuilt != *self {
            return Err("a field no category of the decree reads (an unknown value)".to_owned());
        }
        Ok(())
    }

    fn bool_field(&mut self, category: Category) -> Option<&mut Option<bool>> {
        use Category as C;
        Some(match category {
            C::Css => &mut self.css,
            C::ComplementaryCover => &mut self.complementary_cover,
            C::WorkAccident12m => &mut self.work_accident_12m,
            C::SickPayOver90d12m => &mut self.sick_pay_over_90d_12m,
            C::LongTermCondition => &mut self.long_term_condition,
            C::NoReimbursement12m => &mut self.no_reimbursement_12m,
            C::NoDeclaredGp => &mut self.no_declared_gp,
            C::InvalidityPension => &mut self.invalidity_pension,
            C::WorkIncapacity => &mut self.work_incapacity,
            C::SurvivorPension => &mut self.survivor_pension,
            C::OldAgeMinimum => &mut self.old_age_minimum,
            C::ContributoryMinimum => &mut self.contributory_minimum,
            C::HousingAid => &mut self.housing_aid,
            C::DisabledAdultAllowance => &mut self.disabled_adult_allowance,
            C::Rsa => &mut self.rsa,
            C::ActivityBonus => &mut self.activity_bonus,
            C::HomeReturnAid => &mut self.home_return_aid,
            C::CsgExemption => &mut self.csg_exemption,
            C::JobSeekerRegistration => &mut self.job_seeker_registration,
            C::MultiSchemePensions => &mut self.multi_scheme_pensions,
            _ => return None,
        })
    }
}

/// A value whose type does not match its category.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("wrong value type for category `{0}`")]
pub struct WrongType(pub &'static str);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::CATEGORIES;

    #[test]
    fn booleans_in_every_accepted_spelling() {
        for t in ["true", "TRUE", "1", "oui", "Oui", "yes"] {
            assert_eq!(parse(ValueType::Bool, t).unwrap(), Some(Value::Bool(true)), "{t}");
        }
        for t in ["false", "0", "non", "NO"] {
            assert_eq!(parse(ValueType::Bool, t).unwrap(), Some(Value::Bool(false)), "{t}");
        }
        assert!(parse(ValueType::Bool, "peut-être").is_err());
        assert_eq!(parse(ValueType::Bool, "  ").unwrap(), None);
    }

    #[test]
    fn amounts_in_cents() {
        assert_eq!(parse_amount("1234"), Some(123_400));
        assert_eq!(parse_amount("1234,5"), Some(123_450));
        assert_eq!(parse_amount("1234.56"), Some(123_456));
        assert_eq!(parse_amount("-0.07"), Some(-7));
        for bad in ["1 234", "1.234,56", "12.345", "12.", ".5", "abc", "", "-"] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
        assert_eq!(format(&Value::Amount(123_450)), "1234.50");
        assert_eq!(format(&Value::Amount(-7)), "-0.07");
    }

    #[test]
    fn dates_must_exist() {
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2023-02-29").is_none());
        assert!(parse_date("2023-13-01").is_none());
        assert!(parse_date("23-01-01").is_none());
    }

    #[test]
    fn family_situation_in_french_and_english() {
        assert_eq!(parse_family_situation("Veuf"), Some(FamilySituation::Widowed));
        assert_eq!(parse_family_situation("civil_partnership"), Some(FamilySituation::CivilPartnership));
        assert_eq!(parse_family_situation("pacsé"), Some(FamilySituation::CivilPartnership));
        assert_eq!(parse_family_situation("compliqué"), None);
        // Feminine forms, with or without their accents.
        assert_eq!(parse_family_situation("Séparée"), Some(FamilySituation::Separated));
        assert_eq!(parse_family_situation("separee"), Some(FamilySituation::Separated));
        assert_eq!(parse_family_situation("divorcee"), Some(FamilySituation::Divorced));
        assert_eq!(parse_family_situation("mariee"), Some(FamilySituation::Married));
        assert_eq!(parse_family_situation("pacsee"), Some(FamilySituation::CivilPartnership));
    }

    #[test]
    fn hospital_stays_round_trip() {
        let v = parse(ValueType::HospitalStays, "2025-03-02/5/full|2025-06-10/0/ambulatory").unwrap().unwrap();
        assert_eq!(format(&v), "2025-03-02/5/full|2025-06-10/0/ambulatory");
        assert!(parse(ValueType::HospitalStays, "2025-03-02/5/spa").is_err());
        assert!(parse(ValueType::HospitalStays, "2025-03-02/5").is_err());
        assert_eq!(parse(ValueType::HospitalStays, "none").unwrap(), Some(Value::HospitalStays(vec![])));
        // A body that knows of no stay says so: written `none`, never an empty (unknown) cell.
        assert_eq!(format(&Value::HospitalStays(vec![])), "none");
    }

    #[test]
    fn every_category_round_trips_through_category_values() {
        let sample = |t: ValueType| match t {
            ValueType::Bool => "oui",
            ValueType::Count => "120",
            ValueType::Date => "2020-07-01",
            ValueType::Amount => "15000,50",
            ValueType::FamilySituation => "veuve",
            ValueType::HospitalStays => "2025-01-05/3/partial",
        };
        let mut values = CategoryValues::default();
        for info in &CATEGORIES {
            let v = parse(info.value_type, sample(info.value_type)).unwrap().unwrap();
            values.set(info.category, v.clone()).unwrap();
            assert_eq!(values.get(info.category), Some(v), "{}", info.code);
        }
        assert_eq!(values.present().count(), CATEGORIES.len());
        values.retain(|c| c == Category::Rsa);
        assert_eq!(values.present().map(|(c, _)| c).collect::<Vec<_>>(), vec![Category::Rsa]);
        assert!(values.set(Category::Rsa, Value::Count(3)).is_err());
    }
}
