//! The validation of a case file: every value checked against the norm's reading, every
//! problem named by its field path (`family.household_members[1].birth_year`), all problems
//! listed, not the first only.

use std::collections::HashSet;

use passerelle_protocol::nir::Nir;
use passerelle_protocol::v1::{self, SocialFile};

use crate::enums::{self, EnumKind};
use crate::text::TextKind;

/// One value of a file (or of an action or offer) that breaks a rule. The problem never repeats
/// the value itself: it may be personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}` {problem}")]
pub struct FieldProblem {
    /// The field path, with list indexes: `budget.lines[0].amount_cents`.
    pub path: String,
    /// What is wrong, in words, e.g. "is 7: a GIR level is 1 to 6".
    pub problem: String,
}

/// The earliest year a date of the file may have: a birth date of a person alive today.
pub const EARLIEST_YEAR: u32 = 1900;
/// The latest year a date of the file may have (a planned session, a benefit's end).
pub const LATEST_YEAR: u32 = 2100;
/// The largest amount the file holds, in euro cents (ten million euros): larger is a typo.
pub const MAX_AMOUNT_CENTS: i64 = 1_000_000_000;

/// Checks a whole case file. `Ok` when every value is valid.
pub fn validate(file: &SocialFile) -> Result<(), Vec<FieldProblem>> {
    let mut c = Check::default();
    c.file(file);
    c.finish()
}

/// Collects problems; the helpers each check one value.
#[derive(Default)]
pub(crate) struct Check {
    problems: Vec<FieldProblem>,
}

impl Check {
    pub(crate) fn finish(self) -> Result<(), Vec<FieldProblem>> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(self.problems)
        }
    }

    pub(crate) fn problem(&mut self, path: impl Into<String>, problem: impl Into<String>) {
        self.problems.push(FieldProblem { path: path.into(), problem: problem.into() });
    }

    pub(crate) fn text(&mut self, path: &str, value: Option<&String>, kind: TextKind) {
        if let Some(Err(reason)) = value.map(|v| kind.check(v)) {
            self.problem(path, reason);
        }
    }

    pub(crate) fn required_text(&mut self, path: &str, value: &str, kind: TextKind) {
        if value.is_empty() {
            self.problem(path, "is missing");
        } else {
            self.text(path, Some(&value.to_owned()), kind);
        }
    }

    pub(crate) fn date(&mut self, path: &str, value: Option<&v1::Date>) {
        let Some(d) = value else { return };
        let real = i32::try_from(d.year).ok().and_then(|y| chrono::NaiveDate::from_ymd_opt(y, d.month, d.day));
        if real.is_none() {
            self.problem(path, "is not a calendar date");
        } else if !(EARLIEST_YEAR..=LATEST_YEAR).contains(&d.year) {
            self.problem(path, format!("is in year {}: dates run from {EARLIEST_YEAR} to {LATEST_YEAR}", d.year));
        }
    }

    pub(crate) fn required_date(&mut self, path: &str, value: Option<&v1::Date>) {
        if value.is_none() {
            self.problem(path, "is missing");
        }
        self.date(path, value);
    }

    /// `end` not before `start`, when both are known.
    pub(crate) fn period(&mut self, path: &str, start: Option<&v1::Date>, end: Option<&v1::Date>) {
        if let (Some(s), Some(e)) = (start, end) {
            if (e.year, e.month, e.day) < (s.year, s.month, s.day) {
                self.problem(path, "is before the start");
            }
        }
    }

    /// A value of a closed list that must be given (the zero value is "missing").
    pub(crate) fn code(&mut self, path: &str, value: i32, kind: &EnumKind) {
        if value == 0 {
            self.problem(path, format!("is missing: {}", kind.expected()));
        } else if kind.code(value).is_none() {
            self.problem(path, format!("is no code of the list: {}", kind.expected()));
        }
    }

    pub(crate) fn optional_code(&mut self, path: &str, value: Option<i32>, kind: &EnumKind) {
        if let Some(v) = value {
            self.code(path, v, kind);
        }
    }

    pub(crate) fn codes(&mut self, path: &str, values: &[i32], kind: &EnumKind) {
        for (i, v) in values.iter().enumerate() {
            self.code(&format!("{path}[{i}]"), *v, kind);
        }
        if values.iter().collect::<HashSet<_>>().len() != values.len() {
            self.problem(path, "lists a code twice");
        }
    }

    pub(crate) fn amount(&mut self, path: &str, cents: Option<i64>) {
        match cents {
            Some(c) if c < 0 => self.problem(path, "is negative: amounts are not negative (the kind says which way)"),
            Some(c) if c > MAX_AMOUNT_CENTS => self.problem(path, "is over ten million euros"),
            _ => {}
        }
    }

    fn file(&mut self, file: &SocialFile) {
        if let Some(id) = &file.identity {
            self.identity(id);
        }
        if let Some(c) = &file.contacts {
            self.text("contacts.postal_address", c.postal_address.as_ref(), TextKind::Address);
            for (i, phone) in c.phones.iter().enumerate() {
                self.text(&format!("contacts.phones[{i}]"), Some(phone), TextKind::Phone);
            }
            self.text("contacts.email", c.email.as_ref(), TextKind::Email);
        }
        let members: Vec<u32> = file.family.iter().flat_map(|f| f.household_members.iter().map(|m| m.member)).collect();
        if let Some(family) = &file.family {
            self.optional_code("family.situation", family.situation, &enums::FAMILY_SITUATION);
            self.household(&family.household_members);
        }
        if let Some(s) = &file.social_situation {
            self.codes("social_situation.difficulties", &s.difficulties, &enums::SOCIAL_DIFFICULTY);
            self.text("social_situation.assessment", s.assessment.as_ref(), TextKind::FreeText);
            for (i, r) in s.relations.iter().enumerate() {
                self.relation(&format!("social_situation.relations[{i}]"), r);
            }
        }
        if let Some(b) = &file.budget {
            for (i, line) in b.lines.iter().enumerate() {
                self.budget_line(&format!("budget.lines[{i}]"), line, &members);
            }
        }
        if let Some(care) = &file.care {
            self.care(care);
        }
        if let Some(m) = &file.medical {
            for (i, o) in m.opinions.iter().enumerate() {
                self.code(&format!("medical.opinions[{i}].kind"), o.kind, &enums::MEDICAL_OPINION_KIND);
                self.date(&format!("medical.opinions[{i}].date"), o.date.as_ref());
            }
        }
        if let Some(o) = &file.occupation {
            self.optional_code("occupation.employment", o.employment, &enums::EMPLOYMENT_SITUATION);
            self.optional_code("occupation.professional_status", o.professional_status, &enums::PROFESSIONAL_STATUS);
        }
        if let Some(r) = &file.risk {
            self.codes("risk.risks", &r.risks, &enums::RISK);
        }
        if let Some(a) = &file.affiliation {
            for (i, body) in a.bodies.iter().enumerate() {
                self.attached_body(&format!("affiliation.bodies[{i}]"), body);
            }
        }
        if let Some(r) = &file.rights {
            for (i, b) in r.benefits.iter().enumerate() {
                let p = format!("rights.benefits[{i}]");
                self.code(&format!("{p}.kind"), b.kind, &enums::BENEFIT_KIND);
                self.code(&format!("{p}.status"), b.status, &enums::BENEFIT_STATUS);
                self.text(&format!("{p}.body_code"), b.body_code.as_ref(), TextKind::Code);
                self.date(&format!("{p}.since"), b.since.as_ref());
            }
        }
        if let Some(h) = &file.health_cover {
            self.optional_code("health_cover.cover", h.cover, &enums::LOW_INCOME_COVER);
        }
        if let Some(p) = &file.prevention {
            self.prevention(p);
        }
        if let Some(c) = &file.compensation {
            self.compensation(c);
        }
        if let Some(p) = &file.partners {
            self.partners(p);
        }
    }

    fn identity(&mut self, id: &v1::SocialIdentity) {
        if let Some(Err(e)) = id.nir.as_deref().map(Nir::parse) {
            self.problem("identity.nir", format!("is not a valid NIR or NIA: {e}"));
        }
        self.optional_code("identity.number_kind", id.number_kind, &enums::REGISTRATION_NUMBER_KIND);
        self.date("identity.nia_attribution_date", id.nia_attribution_date.as_ref());
        let nia = id.number_kind == Some(v1::RegistrationNumberKind::Nia as i32);
        if id.nia_attribution_date.is_some() && !nia {
            self.problem(
                "identity.nia_attribution_date",
                "is given for a number that is no NIA (identity.number_kind)",
            );
        }
        if id.nir.is_some() && id.number_kind.is_none() {
            self.problem("identity.number_kind", "is missing: say whether identity.nir is a nir, temporary or nia");
        }
        self.text("identity.family_name", id.family_name.as_ref(), TextKind::Name);
        self.text("identity.usage_name", id.usage_name.as_ref(), TextKind::Name);
        self.text("identity.given_names", id.given_names.as_ref(), TextKind::Name);
        self.optional_code("identity.sex", id.sex, &enums::SEX);
        self.date("identity.birth_date", id.birth_date.as_ref());
        self.text("identity.birth_place", id.birth_place.as_ref(), TextKind::Place);
        if let (Some(birth), Some(attributed)) = (&id.birth_date, &id.nia_attribution_date) {
            if (attributed.year, attributed.month, attributed.day) < (birth.year, birth.month, birth.day) {
                self.problem("identity.nia_attribution_date", "is before the birth date");
            }
        }
    }

    fn household(&mut self, members: &[v1::HouseholdMember]) {
        let mut seen = HashSet::new();
        for (i, m) in members.iter().enumerate() {
            let p = format!("family.household_members[{i}]");
            if m.member == 0 {
                self.problem(format!("{p}.member"), "is missing: number the members 1, 2, … (0 is the insured person)");
            } else if !seen.insert(m.member) {
                self.problem(format!("{p}.member"), "is used by another member");
            }
            if m.family_name.is_none() && m.given_names.is_none() {
                self.problem(&p, "has no name (family_name or given_names)");
            }
            self.text(&format!("{p}.family_name"), m.family_name.as_ref(), TextKind::Name);
            self.text(&format!("{p}.usage_name"), m.usage_name.as_ref(), TextKind::Name);
            self.text(&format!("{p}.given_names"), m.given_names.as_ref(), TextKind::Name);
            if let Some(year) = m.birth_year.filter(|y| !(EARLIEST_YEAR..=LATEST_YEAR).contains(y)) {
                self.problem(
                    format!("{p}.birth_year"),
                    format!("is {year}: years run from {EARLIEST_YEAR} to {LATEST_YEAR}"),
                );
            }
            self.code(&format!("{p}.relationship"), m.relationship, &enums::RELATIONSHIP);
        }
    }

    fn relation(&mut self, p: &str, r: &v1::Relation) {
        self.code(&format!("{p}.kind"), r.kind, &enums::RELATION_KIND);
        // The norm allows a relation only for loss of autonomy and isolation.
        self.code(&format!("{p}.concern"), r.concern, &enums::RELATION_CONCERN);
        if r.family_name.is_none() && r.given_names.is_none() {
            self.problem(p, "has no name (family_name or given_names)");
        }
        self.text(&format!("{p}.family_name"), r.family_name.as_ref(), TextKind::Name);
        self.text(&format!("{p}.given_names"), r.given_names.as_ref(), TextKind::Name);
        self.contact_details(p, r.postal_address.as_ref(), r.phone.as_ref(), r.email.as_ref());
    }

    fn contact_details(&mut self, p: &str, address: Option<&String>, phone: Option<&String>, email: Option<&String>) {
        self.text(&format!("{p}.postal_address"), address, TextKind::Address);
        self.text(&format!("{p}.phone"), phone, TextKind::Phone);
        self.text(&format!("{p}.email"), email, TextKind::Email);
    }

    fn budget_line(&mut self, p: &str, line: &v1::BudgetLine, members: &[u32]) {
        if let Some(m) = line.member.filter(|m| *m != 0 && !members.contains(m)) {
            self.problem(format!("{p}.member"), format!("is {m}: no household member has that number"));
        }
        self.code(&format!("{p}.kind"), line.kind, &enums::BUDGET_KIND);
        self.code(&format!("{p}.item"), line.item, &enums::BUDGET_ITEM);
        if line.kind != 0 && line.item != 0 && !item_fits_kind(line.kind, line.item) {
            self.problem(format!("{p}.item"), "is not an item of that kind (a resource item for a resource, …)");
        }
        self.amount(&format!("{p}.amount_cents"), Some(line.amount_cents));
        self.code(&format!("{p}.period"), line.period, &enums::AMOUNT_PERIOD);
    }

    fn care(&mut self, care: &v1::CareArrangements) {
        if let Some(gir) = care.gir_level.filter(|g| !(1..=6).contains(g)) {
            self.problem("care.gir_level", format!("is {gir}: a GIR level is 1 to 6"));
        }
        if let Some(rate) = care.ipp_rate.filter(|r| *r > 100) {
            self.problem("care.ipp_rate", format!("is {rate}: a rate is 0 to 100 %"));
        }
    }

    fn attached_body(&mut self, p: &str, body: &v1::AttachedBody) {
        self.code(&format!("{p}.scheme"), body.scheme, &enums::SCHEME);
        self.text(&format!("{p}.body_code"), body.body_code.as_ref(), TextKind::Code);
        self.text(&format!("{p}.member_number"), body.member_number.as_ref(), TextKind::Identifier);
        self.contact_details(p, body.postal_address.as_ref(), body.phone.as_ref(), body.email.as_ref());
    }

    fn prevention(&mut self, p: &v1::Prevention) {
        self.optional_code("prevention.housing_type", p.housing_type, &enums::HOUSING_TYPE);
        self.codes("prevention.housing_conditions", &p.housing_conditions, &enums::HOUSING_CONDITION);
        for (i, aid) in p.aids.iter().enumerate() {
            let p = format!("prevention.aids[{i}]");
            self.code(&format!("{p}.kind"), aid.kind, &enums::AID_KIND);
            self.code(&format!("{p}.status"), aid.status, &enums::BENEFIT_STATUS);
            self.date(&format!("{p}.start"), aid.start.as_ref());
            self.date(&format!("{p}.end"), aid.end.as_ref());
            self.period(&format!("{p}.end"), aid.start.as_ref(), aid.end.as_ref());
            self.amount(&format!("{p}.amount_cents"), aid.amount_cents);
        }
    }

    fn compensation(&mut self, c: &v1::Compensation) {
        for (i, leave) in c.sick_leaves.iter().enumerate() {
            let p = format!("compensation.sick_leaves[{i}]");
            self.code(&format!("{p}.risk"), leave.risk, &enums::ALLOWANCE_RISK);
            self.required_date(&format!("{p}.start"), leave.start.as_ref());
            self.date(&format!("{p}.end"), leave.end.as_ref());
            self.period(&format!("{p}.end"), leave.start.as_ref(), leave.end.as_ref());
            self.amount(&format!("{p}.daily_allowance_cents"), leave.daily_allowance_cents);
        }
        for (i, pension) in c.pensions.iter().enumerate() {
            let p = format!("compensation.pensions[{i}]");
            self.code(&format!("{p}.kind"), pension.kind, &enums::PENSION_KIND);
            self.date(&format!("{p}.start"), pension.start.as_ref());
            self.amount(&format!("{p}.amount_cents"), pension.amount_cents);
            if pension.amount_cents.is_some() {
                self.code(&format!("{p}.period"), pension.period, &enums::AMOUNT_PERIOD);
            }
        }
    }

    fn partners(&mut self, partners: &v1::Partners) {
        for (i, legal) in partners.legal_persons.iter().enumerate() {
            let p = format!("partners.legal_persons[{i}]");
            self.code(&format!("{p}.nature"), legal.nature, &enums::PARTNER_NATURE);
            match &legal.name {
                None => self.problem(format!("{p}.name"), "is missing"),
                name => self.text(&format!("{p}.name"), name.as_ref(), TextKind::Label),
            }
        }
        for (i, person) in partners.physical_persons.iter().enumerate() {
            let p = format!("partners.physical_persons[{i}]");
            if person.family_name.is_none() {
                self.problem(format!("{p}.family_name"), "is missing");
            }
            self.text(&format!("{p}.family_name"), person.family_name.as_ref(), TextKind::Name);
            self.text(&format!("{p}.given_names"), person.given_names.as_ref(), TextKind::Name);
            self.text(&format!("{p}.function"), person.function.as_ref(), TextKind::Label);
            self.contact_details(&p, person.postal_address.as_ref(), person.phone.as_ref(), person.email.as_ref());
        }
    }
}

/// Whether a budget item belongs to a budget kind: resources take earnings to other resources,
/// charges housing to other charges, credits the two credits, debts the arrears.
fn item_fits_kind(kind: i32, item: i32) -> bool {
    use v1::BudgetItem as I;
    use v1::BudgetKind as K;
    let range = match K::try_from(kind) {
        Ok(K::Resource) => I::Earnings as i32..=I::OtherResource as i32,
        Ok(K::Charge) => I::Housing as i32..=I::OtherCharge as i32,
        Ok(K::Credit) => I::ConsumerCredit as i32..=I::PropertyCredit as i32,
        Ok(K::Debt) => I::RentArrears as i32..=I::OtherDebt as i32,
        _ => return false,
    };
    range.contains(&item)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file as a transfer could decode it: numbers no list knows, values out of range.
    #[test]
    fn wire_values_outside_the_lists_and_ranges_are_each_named() {
        let mut file = SocialFile::default();
        file.family.get_or_insert_with(Default::default).household_members.push(v1::HouseholdMember {
            member: 1,
            family_name: Some("Testard".into()),
            relationship: 99,
            birth_year: Some(1850),
            ..Default::default()
        });
        let care = file.care.get_or_insert_with(Default::default);
        care.gir_level = Some(7);
        care.ipp_rate = Some(100);
        file.compensation.get_or_insert_with(Default::default).sick_leaves.push(v1::SickLeave {
            risk: v1::AllowanceRisk::Illness as i32,
            end: Some(v1::Date { year: 2025, month: 2, day: 30 }),
            ..Default::default()
        });
        file.risk.get_or_insert_with(Default::default).risks = vec![1, 1];
        let paths: Vec<String> = validate(&file).unwrap_err().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "family.household_members[0].birth_year",
                "family.household_members[0].relationship",
                "care.gir_level",
                "risk.risks",
                "compensation.sick_leaves[0].start",
                "compensation.sick_leaves[0].end",
            ]
        );
    }
}
