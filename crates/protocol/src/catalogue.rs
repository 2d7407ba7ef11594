//! The category catalogue: the one source of truth on the data of Décret n° 2017-334, art. 2.
//!
//! For each category a requester may ask for (2° to 7°): its stable text code, its decree
//! reference, its domain, its value type and the bodies that hold it by default. For the
//! identification data of 1°: which fields are *identifying* (1° a, b, e) and so may never enter
//! the statistics store (art. 4). The CLI, the CSV readers, the routing table and the statistics
//! filter all read this table; nothing else lists categories.

use crate::v1::Category;

/// The domains of art. 2 (1° to 7°). 8° (management data, the audit trail) is not exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Domain {
    /// 1°: identification data.
    Identity = 1,
    /// 2°: family situation.
    FamilySituation = 2,
    /// 3°: health-insurance rights and access to care.
    HealthInsurance = 3,
    /// 4°: retirement rights and benefits.
    Retirement = 4,
    /// 5°: family benefits.
    FamilyBenefits = 5,
    /// 6°: social action.
    SocialAction = 6,
    /// 7°: other risk factors of early loss of autonomy.
    OtherRiskFactors = 7,
}

impl Domain {
    /// The decree's numbering, e.g. `3°`.
    pub fn decree_number(self) -> String {
        format!("{}°", self as u8)
    }
}

/// The type of a category's value, which fixes its text syntax (see [`crate::value`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// `true/false/1/0/oui/non/yes/no`, any case.
    Bool,
    /// A non-negative integer.
    Count,
    /// `YYYY-MM-DD`.
    Date,
    /// Euros with `.` or `,` as the decimal mark, at most two decimals; carried in euro cents.
    Amount,
    /// One of `married, civil_partnership, cohabiting, separated, divorced, widowed, single`
    /// (or the French words).
    FamilySituation,
    /// A `|`-separated list of `YYYY-MM-DD/DAYS/MODE`.
    HospitalStays,
}

impl ValueType {
    /// A short description of the accepted syntax, for error messages and `--help`.
    pub fn syntax(self) -> &'static str {
        match self {
            ValueType::Bool => "a boolean (true/false, 1/0, oui/non, yes/no)",
            ValueType::Count => "a whole number",
            ValueType::Date => "a date YYYY-MM-DD",
            ValueType::Amount => "an amount in euros with at most 2 decimals (e.g. 1234.56 or 1234,56)",
            ValueType::FamilySituation => {
                "one of married, civil_partnership, cohabiting, separated, divorced, widowed, single"
            }
            ValueType::HospitalStays => {
                "a |-separated list of YYYY-MM-DD/DAYS/MODE, MODE one of full, partial, ambulatory, home, rehabilitation"
            }
        }
    }
}

/// The branch codes of the bodies of art. L. 115-2-1 that take part (DESIGN §2).
pub mod body {
    /// Assurance Maladie: the CNAM, the CPAMs, the health branch of the CGSS.
    pub const CNAM: &str = "cnam";
    /// Assurance retraite: the CNAV, the CARSATs, the pension branch of the CGSS.
    pub const CNAV: &str = "cnav";
    /// The CNAF and the CAFs.
    pub const CNAF: &str = "cnaf";
    /// The CCMSA and the MSA funds.
    pub const MSA: &str = "msa";
    /// Every branch, in a stable order.
    pub const ALL: [&str; 4] = [CNAM, CNAV, CNAF, MSA];
}

/// What the catalogue knows of one requestable category.
#[derive(Debug, Clone, Copy)]
pub struct CategoryInfo {
    pub category: Category,
    /// The stable code used in the CLI, configuration and CSV headers, e.g. `long_term_condition`.
    pub code: &'static str,
    /// The decree reference, e.g. `art. 2, 3° f`.
    pub decree_ref: &'static str,
    pub domain: Domain,
    pub value_type: ValueType,
    /// The bodies the default routing table asks for it (domain-facts §3, DESIGN §2).
    pub default_holders: &'static [&'static str],
    /// A short English label for reports.
    pub label: &'static str,
}

use body::{CNAF, CNAM, CNAV, MSA};
use Domain as D;
use ValueType as T;

const fn c(
    category: Category,
    code: &'static str,
    decree_ref: &'static str,
    domain: Domain,
    value_type: ValueType,
    default_holders: &'static [&'static str],
    label: &'static str,
) -> CategoryInfo {
    CategoryInfo { category, code, decree_ref, domain, value_type, default_holders, label }
}

/// Every category of art. 2, 2° to 7°, in decree order (which is also the enum's order).
#[rustfmt::skip]
pub static CATEGORIES: [CategoryInfo; 27] = [
    c(Category::FamilySituation, "family_situation", "art. 2, 2°", D::FamilySituation, T::FamilySituation, &[CNAV, CNAF, MSA], "family situation"),
    c(Category::Css, "css", "art. 2, 3° a", D::HealthInsurance, T::Bool, &[CNAM, MSA], "complementary health cover (CSS, ex CMU-C/ACS)"),
    c(Category::ComplementaryCover, "complementary_cover", "art. 2, 3° b", D::HealthInsurance, T::Bool, &[CNAM, MSA], "complementary health insurer"),
    c(Category::HospitalStays12m, "hospital_stays_12m", "art. 2, 3° c", D::HealthInsurance, T::HospitalStays, &[CNAM, MSA], "hospital stays, last 12 months"),
    c(Category::WorkAccident12m, "work_accident_12m", "art. 2, 3° d", D::HealthInsurance, T::Bool, &[CNAM, MSA], "work accident or occupational disease, last 12 months"),
    c(Category::SickPayOver90d12m, "sick_pay_over_90d_12m", "art. 2, 3° e", D::HealthInsurance, T::Bool, &[CNAM, MSA], "sick pay over 90 days, last 12 months"),
    c(Category::LongTermCondition, "long_term_condition", "art. 2, 3° f", D::HealthInsurance, T::Bool, &[CNAM, MSA], "long-term condition (ALD)"),
    c(Category::NoReimbursement12m, "no_reimbursement_12m", "art. 2, 3° g", D::HealthInsurance, T::Bool, &[CNAM, MSA], "no reimbursed care, last 12 months"),
    c(Category::NoDeclaredGp, "no_declared_gp", "art. 2, 3° h", D::HealthInsurance, T::Bool, &[CNAM, MSA], "no declared GP"),
    c(Category::InvalidityPension, "invalidity_pension", "art. 2, 4° a", D::Retirement, T::Bool, &[CNAM, CNAV, MSA], "invalidity pension"),
    c(Category::WorkIncapacity, "work_incapacity", "art. 2, 4° b", D::Retirement, T::Bool, &[CNAV, MSA], "incapacity for work"),
    c(Category::SurvivorPension, "survivor_pension", "art. 2, 4° c", D::Retirement, T::Bool, &[CNAV, MSA], "survivor's pension"),
    c(Category::OldAgeMinimum, "old_age_minimum", "art. 2, 4° d", D::Retirement, T::Bool, &[CNAV, MSA], "old-age minimum (ASPA/ASV)"),
    c(Category::ContributoryMinimum, "contributory_minimum", "art. 2, 4° e", D::Retirement, T::Bool, &[CNAV, MSA], "minimum contributif"),
    c(Category::HousingAid, "housing_aid", "art. 2, 5° a", D::FamilyBenefits, T::Bool, &[CNAF, MSA], "housing aid"),
    c(Category::DisabledAdultAllowance, "disabled_adult_allowance", "art. 2, 5° b", D::FamilyBenefits, T::Bool, &[CNAF, MSA], "disabled adult allowance (AAH)"),
    c(Category::Rsa, "rsa", "art. 2, 5° c", D::FamilyBenefits, T::Bool, &[CNAF, MSA], "RSA"),
    c(Category::ActivityBonus, "activity_bonus", "art. 2, 5° d", D::FamilyBenefits, T::Bool, &[CNAF, MSA], "prime d'activité"),
    c(Category::HomeReturnAid, "home_return_aid", "art. 2, 6°", D::SocialAction, T::Bool, &[CNAV, MSA], "home-return aid after hospitalisation"),
    c(Category::CsgExemption, "csg_exemption", "art. 2, 7° a", D::OtherRiskFactors, T::Bool, &[CNAV, MSA], "CSG exemption"),
    c(Category::JobSeekerRegistration, "job_seeker_registration", "art. 2, 7° b", D::OtherRiskFactors, T::Bool, &[CNAV, CNAF, MSA], "registered job seeker"),
    c(Category::QuartersContributed, "quarters_contributed", "art. 2, 7° c", D::OtherRiskFactors, T::Count, &[CNAV, MSA], "quarters contributed"),
    c(Category::MultiSchemePensions, "multi_scheme_pensions", "art. 2, 7° d", D::OtherRiskFactors, T::Bool, &[CNAV, MSA], "pensions from several schemes"),
    c(Category::PensionStartDate, "pension_start_date", "art. 2, 7° e", D::OtherRiskFactors, T::Date, &[CNAV, MSA], "pension start date"),
    c(Category::PensionPaymentDate, "pension_payment_date", "art. 2, 7° f", D::OtherRiskFactors, T::Date, &[CNAV, MSA], "pension payment date"),
    c(Category::HouseholdAnnualResources, "household_annual_resources", "art. 2, 7° g", D::OtherRiskFactors, T::Amount, &[CNAF, MSA], "household annual resources"),
    c(Category::ResourcesPerConsumptionUnit, "resources_per_consumption_unit", "art. 2, 7° h", D::OtherRiskFactors, T::Amount, &[CNAF, MSA], "resources per consumption unit"),
];

/// One field of the identification data (art. 2, 1°).
#[derive(Debug, Clone, Copy)]
pub struct IdentityField {
    /// The column / field code, e.g. `family_name`.
    pub code: &'static str,
    pub decree_ref: &'static str,
    /// 1° a, b and e: never in the statistics store (art. 4), never in logs.
    pub identifying: bool,
    /// Whether a selection file must fill it.
    pub required_in_selection: bool,
}

const fn f(code: &'static str, decree_ref: &'static str, identifying: bool, required: bool) -> IdentityField {
    IdentityField { code, decree_ref, identifying, required_in_selection: required }
}

/// The identification data of art. 2, 1°, as columns of a selection file.
pub static IDENTITY_FIELDS: [IdentityField; 11] = [
    f("nir", "art. 2, 1° a", true, true),
    f("former_nirs", "art. 2, 1° a", true, false),
    f("family_name", "art. 2, 1° b", true, true),
    f("usage_name", "art. 2, 1° b", true, false),
    f("given_names", "art. 2, 1° b", true, true),
    f("sex", "art. 2, 1° c", false, true),
    f("birth_year", "art. 2, 1° d", false, true),
    f("commune_code", "art. 2, 1° e", true, true),
    f("postal_address", "art. 2, 1° e", true, false),
    f("email", "art. 2, 1° e", true, false),
    f("phone", "art. 2, 1° e", true, false),
];

/// The catalogue entry of a category. `None` for `Unspecified`.
pub fn info(category: Category) -> Option<&'static CategoryInfo> {
    CATEGORIES.iter().find(|i| i.category == category)
}

/// The category of a text code (`long_term_condition`), exact match.
pub fn by_code(code: &str) -> Option<&'static CategoryInfo> {
    CATEGORIES.iter().find(|i| i.code == code)
}

/// The category of a wire number, if it is one of art. 2, 2° to 7°.
pub fn by_number(number: i32) -> Option<&'static CategoryInfo> {
    Category::try_from(number).ok().and_then(info)
}

/// The identity field of a column code.
pub fn identity_field(code: &str) -> Option<&'static IdentityField> {
    IDENTITY_FIELDS.iter().find(|f| f.code == code)
}

/// Whether a field or category code is identifying (art. 2, 1° a, b, e): such data never enters
/// the statistics store. Unknown codes count as identifying, so a new field fails closed.
pub fn is_identifying(code: &str) -> bool {
    if by_code(code).is_some() {
        return false;
    }
    identity_field(code).is_none_or(|f| f.identifying)
}

/// Parses a comma-separated list of category codes (`--want css,rsa`), or a domain (`3`, `3°`)
/// for all its categories. Duplicates are removed; order follows the catalogue.
pub fn parse_list(text: &str) -> Result<Vec<Category>, UnknownCategory> {
    let mut wanted = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let domain: Option<u8> = item.trim_end_matches('°').parse().ok();
        match (by_code(item), domain) {
            (Some(info), _) => wanted.push(info.category),
            (None, Some(d)) if (2..=7).contains(&d) => {
                wanted.extend(CATEGORIES.iter().filter(|i| i.domain as u8 == d).map(|i| i.category))
            }
            _ => return Err(UnknownCategory(item.to_owned())),
        }
    }
    wanted.sort_by_key(|c| *c as i32);
    wanted.dedup();
    Ok(wanted)
}

/// A category code that is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown category `{0}`: the decree (art. 2, 2° to 7°) lists only {codes}", codes = all_codes())]
pub struct UnknownCategory(pub String);

fn all_codes() -> String {
    CATEGORIES.iter().map(|i| i.code).collect::<Vec<_>>().join(", ")
}

impl Category {
    /// The stable text code, e.g. `long_term_condition`; `unspecified` for the zero value.
    pub fn code(self) -> &'static str {
        info(self).map_or("unspecified", |i| i.code)
    }
}

/// A set of categories, one bit a category: `contains` costs one instruction where a list
/// costs a scan, for the filters that run on every person of a chunk (minimisation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CategorySet(u64);

impl CategorySet {
    pub fn contains(self, category: Category) -> bool {
        self.contains_number(category as i32)
    }

    /// By wire number (a decline, a solicitation's list); one that is no category is not held.
    pub fn contains_number(self, number: i32) -> bool {
        Self::bit(number).is_some_and(|bit| self.0 & bit != 0)
    }

    /// Adds a category by its wire number; one that is no category is ignored (it can match
    /// no value).
    pub fn insert_number(&mut self, number: i32) {
        if let Some(bit) = Self::bit(number) {
            self.0 |= bit;
        }
    }

    fn bit(number: i32) -> Option<u64> {
        u32::try_from(number).ok().filter(|&n| n < u64::BITS).map(|n| 1 << n)
    }
}

impl FromIterator<Category> for CategorySet {
    fn from_iter<I: IntoIterator<Item = Category>>(categories: I) -> Self {
        let mut set = CategorySet::default();
        for c in categories {
            set.insert_number(c as i32);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_category_set_holds_exactly_its_categories() {
        let set: CategorySet = [Category::Css, Category::ResourcesPerConsumptionUnit].into_iter().collect();
        for info in &CATEGORIES {
            let expected = matches!(info.category, Category::Css | Category::ResourcesPerConsumptionUnit);
            assert_eq!(set.contains(info.category), expected, "{}", info.code);
        }
        assert!(CATEGORIES.iter().all(|i| (i.category as i32) < 64), "every category has its bit");
        let mut numbers = CategorySet::default();
        for n in [-1, 0, 2, 64, 1000] {
            numbers.insert_number(n);
        }
        assert!(numbers.contains(Category::Css), "2 is css");
        assert!(numbers.contains_number(2) && !numbers.contains_number(64) && !numbers.contains_number(-1));
        assert!(!numbers.contains(Category::FamilySituation));
        assert!(CATEGORIES.iter().filter(|i| numbers.contains(i.category)).count() == 1, "no stray bit: {numbers:?}");
    }

    #[test]
    fn catalogue_follows_the_enum_one_to_one() {
        for (n, info) in CATEGORIES.iter().enumerate() {
            assert_eq!(info.category as i32, n as i32 + 1, "{} out of order", info.code);
            // The text code is the enum's name without its prefix, in lower case.
            assert_eq!(info.category.as_str_name().trim_start_matches("CATEGORY_").to_lowercase(), info.code);
            assert!(!info.default_holders.is_empty(), "{} has no holder", info.code);
        }
        assert!(by_number(28).is_none());
        assert!(by_number(0).is_none());
    }

    #[test]
    fn identifying_fields_are_the_decree_s_1_a_b_e() {
        for code in [
            "nir",
            "former_nirs",
            "family_name",
            "usage_name",
            "given_names",
            "commune_code",
            "postal_address",
            "email",
            "phone",
        ] {
            assert!(is_identifying(code), "{code}");
        }
        for code in ["sex", "birth_year", "rsa", "hospital_stays_12m"] {
            assert!(!is_identifying(code), "{code}");
        }
        assert!(is_identifying("shoe_size"), "unknown fields fail closed");
    }

    #[test]
    fn lists_parse_codes_and_domains() {
        assert_eq!(parse_list("rsa, css").unwrap(), vec![Category::Css, Category::Rsa]);
        assert_eq!(parse_list("5°").unwrap().len(), 4);
        assert_eq!(parse_list("6,home_return_aid").unwrap(), vec![Category::HomeReturnAid]);
        let err = parse_list("css,religion").unwrap_err();
        assert!(err.to_string().contains("unknown category `religion`"));
        assert!(parse_list("1").is_err(), "identity is not requestable");
    }
}
