//! From the decree's values to a new case file (DESIGN §7.2): when a person
//! of a requester's contact list accepts the offer, the file opens with the identity from the
//! requester's store and the decree's values (Décret n° 2017-334, art. 2) that have a home among
//! the norm's categories; the others stay behind, at the requester, under the decree's cap.
//!
//! [`mapping_table`] is the rule as data (the README prints it, a test keeps both in step) and
//! [`open_from_decree`] applies it. Every category and identity field of the decree's catalogue
//! has exactly one row. When in doubt a value stays behind: the norm's list is a ceiling.

use std::fmt;

use passerelle_protocol::catalogue::{self as decree, CATEGORIES, IDENTITY_FIELDS};
use passerelle_protocol::nir::Nir;
use passerelle_protocol::v1::{self, Category, CategoryValues, SocialFile};
use passerelle_protocol::value::Value;

use crate::catalogue;

/// One row of the mapping: a decree value, the case-file field it becomes (none: it stays
/// behind) and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappingRow {
    /// The decree catalogue's code (`quarters_contributed`, `nir`).
    pub decree_code: &'static str,
    /// The case-file field path, or `None` when the value stays behind.
    pub norm_field: Option<&'static str>,
    /// How the value is carried, or why it stays behind.
    pub how: &'static str,
}

impl MappingRow {
    /// The decree reference, from the decree's catalogue (`art. 2, 7° c`).
    pub fn decree_ref(&self) -> &'static str {
        decree::by_code(self.decree_code)
            .map(|i| i.decree_ref)
            .or_else(|| decree::identity_field(self.decree_code).map(|f| f.decree_ref))
            .unwrap_or("?")
    }

    /// The norm item of the field it becomes (`I.5`), from the case file's catalogue.
    pub fn norm_ref(&self) -> Option<&'static str> {
        self.norm_field.and_then(catalogue::field).map(|f| f.norm_ref)
    }
}

const fn row(decree_code: &'static str, norm_field: Option<&'static str>, how: &'static str) -> MappingRow {
    MappingRow { decree_code, norm_field, how }
}

const BEHIND: Option<&str> = None;

/// The mapping: the identity fields (art. 2, 1°) then the categories (2° to 7°), in the decree
/// catalogue's order.
#[rustfmt::skip]
static TABLE: [MappingRow; 38] = [
    row("nir", Some("identity.nir"), "as is; `identity.number_kind` nir, or temporary for a number being registered or provisional (sex digit 3, 4, 7, 8)"),
    row("former_nirs", BEHIND, "I.1 holds the person's number (and a temporary one), not the numbers they had before"),
    row("family_name", Some("identity.family_name"), "as is"),
    row("usage_name", Some("identity.usage_name"), "as is"),
    row("given_names", Some("identity.given_names"), "as is"),
    row("sex", Some("identity.sex"), "as is"),
    row("birth_year", BEHIND, "I.3 is the birth date, which the decree does not carry; the social worker records it"),
    row("commune_code", BEHIND, "the residence commune's code; the postal address (I.4) names the commune"),
    row("postal_address", Some("contacts.postal_address"), "as is"),
    row("email", Some("contacts.email"), "as is"),
    row("phone", Some("contacts.phones"), "the one number, as the list's first"),
    row("family_situation", Some("family.situation"), "as is (the same closed list)"),
    row("css", Some("health_cover.cover"), "true: css; false: none"),
    row("complementary_cover", BEHIND, "a complementary insurer is neither CMU/CMU-C/ACS (I.15) nor a social body (I.14)"),
    row("hospital_stays_12m", BEHIND, "hospital stays are none of the care arrangements I.9 lists"),
    row("work_accident_12m", BEHIND, "a 12-month flag mixing work accident and occupational disease; I.12 is the risk the service acts on, which the worker records"),
    row("sick_pay_over_90d_12m", BEHIND, "I.17 records sick leaves with their dates; the flag has none"),
    row("long_term_condition", BEHIND, "an ALD is not in the norm's list; it exempts from the ticket modérateur (I.9) only in most cases, so the worker records the exemption"),
    row("no_reimbursement_12m", BEHIND, "no norm category"),
    row("no_declared_gp", Some("care.declared_gp"), "negated: true becomes false"),
    row("invalidity_pension", Some("rights.benefits"), "true: a granted invalidity_pension; false stays behind"),
    row("work_incapacity", Some("medical.opinions"), "true: an unfit_for_work opinion, undated; false stays behind"),
    row("survivor_pension", Some("rights.benefits"), "true: a granted survivor_pension; false stays behind"),
    row("old_age_minimum", Some("rights.benefits"), "true: a granted old_age_minimum; false stays behind"),
    row("contributory_minimum", Some("rights.benefits"), "true: a granted contributory_minimum; false stays behind"),
    row("housing_aid", Some("rights.benefits"), "true: a granted housing_aid; false stays behind"),
    row("disabled_adult_allowance", Some("rights.benefits"), "true: a granted disabled_adult_allowance; false stays behind"),
    row("rsa", Some("rights.benefits"), "true: a granted rsa; false stays behind"),
    row("activity_bonus", Some("rights.benefits"), "true: a granted activity_bonus; false stays behind"),
    row("home_return_aid", Some("prevention.aids"), "true: a granted social_action aid; false stays behind"),
    row("csg_exemption", BEHIND, "a tax status, no norm category"),
    row("job_seeker_registration", Some("occupation.employment"), "true: job_seeker; false stays behind"),
    row("quarters_contributed", BEHIND, "a pension-rights count, no norm category"),
    row("multi_scheme_pensions", BEHIND, "I.13 names the schemes themselves; a yes/no without them has no home"),
    row("pension_start_date", Some("rights.benefits"), "a granted retirement_pension since that date"),
    row("pension_payment_date", BEHIND, "no norm category"),
    row("household_annual_resources", Some("budget.lines"), "a resource line of the whole household: all_resources, annual, in cents"),
    row("resources_per_consumption_unit", BEHIND, "derived from I.8's amounts and the household (I.6); recomputed, not kept"),
];

/// The mapping from the decree's values to the case file, one row per decree value.
pub fn mapping_table() -> &'static [MappingRow] {
    &TABLE
}

/// The mapping as the README's Markdown table (kept in step with the README by a test).
pub fn mapping_markdown() -> String {
    let mut out = String::from("| decree value | decree | case-file field | norm 43 | how |\n|---|---|---|---|---|\n");
    for r in mapping_table() {
        let field = r.norm_field.map_or("stays behind".to_owned(), |f| format!("`{f}`"));
        let norm = r.norm_ref().unwrap_or("—");
        out.push_str(&format!("| `{}` | {} | {field} | {norm} | {} |\n", r.decree_code, r.decree_ref(), r.how));
    }
    out
}

/// The identity of a person who accepted, from the requester's store (art. 2, 1°).
#[derive(Clone, PartialEq, Eq)]
pub struct DecreeIdentity {
    pub nir: Nir,
    pub former_nirs: Vec<Nir>,
    pub family_name: String,
    pub usage_name: Option<String>,
    pub given_names: String,
    pub sex: v1::Sex,
    pub birth_year: Option<u32>,
    pub commune_code: Option<String>,
    pub postal_address: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl fmt::Debug for DecreeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DecreeIdentity(…)")
    }
}

macro_rules! group {
    ($file:ident . $group:ident) => {
        $file.$group.get_or_insert_with(Default::default)
    };
}

/// Opens a case file from the decree's identity and values. Returns the file and the decree
/// codes of the values that stay behind (present, but with no home in the norm or a value the
/// mapping does not carry, like a `false` benefit flag), in the table's order.
pub fn open_from_decree(identity: &DecreeIdentity, values: &CategoryValues) -> (SocialFile, Vec<&'static str>) {
    let mut file = SocialFile::default();
    let mut left = Vec::new();
    let id = group!(file.identity);
    id.nir = Some(identity.nir.as_str().to_owned());
    let kind = if identity.nir.is_provisional() {
        v1::RegistrationNumberKind::Temporary
    } else {
        v1::RegistrationNumberKind::Nir
    };
    id.number_kind = Some(kind as i32);
    id.family_name = Some(identity.family_name.clone());
    id.usage_name = identity.usage_name.clone();
    id.given_names = Some(identity.given_names.clone());
    id.sex = (identity.sex != v1::Sex::Unspecified).then_some(identity.sex as i32);
    if identity.postal_address.is_some() || identity.email.is_some() || identity.phone.is_some() {
        let contacts = group!(file.contacts);
        contacts.postal_address = identity.postal_address.clone();
        contacts.email = identity.email.clone();
        contacts.phones = identity.phone.iter().cloned().collect();
    }
    let present = [
        ("former_nirs", !identity.former_nirs.is_empty()),
        ("birth_year", identity.birth_year.is_some()),
        ("commune_code", identity.commune_code.is_some()),
    ];
    left.extend(present.into_iter().filter(|(_, p)| *p).map(|(code, _)| code));
    for (category, value) in values.present() {
        if !carry(&mut file, category, &value) {
            left.push(category.code());
        }
    }
    (file, left)
}

/// Carries one decree value into the file; `false` when it stays behind.
fn carry(file: &mut SocialFile, category: Category, value: &Value) -> bool {
    use v1::BenefitKind as B;
    use Category as C;
    let granted = |kind: B, since: Option<v1::Date>| v1::Benefit {
        kind: kind as i32,
        status: v1::BenefitStatus::Granted as i32,
        body_code: None,
        since,
    };
    let benefit = match (category, value) {
        (C::InvalidityPension, Value::Bool(true)) => Some(granted(B::InvalidityPension, None)),
        (C::SurvivorPension, Value::Bool(true)) => Some(granted(B::SurvivorPension, None)),
        (C::OldAgeMinimum, Value::Bool(true)) => Some(granted(B::OldAgeMinimum, None)),
        (C::ContributoryMinimum, Value::Bool(true)) => Some(granted(B::ContributoryMinimum, None)),
        (C::HousingAid, Value::Bool(true)) => Some(granted(B::HousingAid, None)),
        (C::DisabledAdultAllowance, Value::Bool(true)) => Some(granted(B::DisabledAdultAllowance, None)),
        (C::Rsa, Value::Bool(true)) => Some(granted(B::Rsa, None)),
        (C::ActivityBonus, Value::Bool(true)) => Some(granted(B::ActivityBonus, None)),
        (C::PensionStartDate, Value::Date(d)) => Some(granted(B::RetirementPension, Some(*d))),
        _ => None,
    };
    if let Some(benefit) = benefit {
        group!(file.rights).benefits.push(benefit);
        return true;
    }
    match (category, value) {
        (C::FamilySituation, Value::FamilySituation(s)) => group!(file.family).situation = Some(*s as i32),
        (C::Css, Value::Bool(b)) => {
            let cover = if *b { v1::LowIncomeCover::Css } else { v1::LowIncomeCover::None };
            group!(file.health_cover).cover = Some(cover as i32);
        }
        (C::NoDeclaredGp, Value::Bool(b)) => group!(file.care).declared_gp = Some(!b),
        (C::WorkIncapacity, Value::Bool(true)) => group!(file.medical)
            .opinions
            .push(v1::MedicalOpinion { kind: v1::MedicalOpinionKind::UnfitForWork as i32, date: None }),
        (C::HomeReturnAid, Value::Bool(true)) => group!(file.prevention).aids.push(v1::PreventionAid {
            kind: v1::AidKind::SocialAction as i32,
            status: v1::BenefitStatus::Granted as i32,
            ..Default::default()
        }),
        (C::JobSeekerRegistration, Value::Bool(true)) => {
            group!(file.occupation).employment = Some(v1::EmploymentSituation::JobSeeker as i32)
        }
        (C::HouseholdAnnualResources, Value::Amount(cents)) if *cents >= 0 => {
            group!(file.budget).lines.push(v1::BudgetLine {
                member: None,
                kind: v1::BudgetKind::Resource as i32,
                item: v1::BudgetItem::AllResources as i32,
                amount_cents: *cents,
                period: v1::AmountPeriod::Annual as i32,
            })
        }
        _ => return false,
    }
    true
}

/// Every decree code, in the table's order: the identity fields then the categories.
pub fn decree_codes() -> impl Iterator<Item = &'static str> {
    IDENTITY_FIELDS.iter().map(|f| f.code).chain(CATEGORIES.iter().map(|c| c.code))
}
