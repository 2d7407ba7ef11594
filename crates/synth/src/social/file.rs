//! One synthetic case file (norm 43, I.1–I.17, II.1–2): opened from a synthetic person's decree
//! values through the documented mapping (`passerelle_social_file::open_from_decree`), as the
//! social service opens a real one, then filled as a social worker would over the follow-up:
//! household, budget, care, housing and aids, partners, and a short assessment.
//!
//! The shares below are illustrative orders of magnitude for persons of 55 and over followed by
//! a social service, not statistics.

use chrono::{Datelike, Duration, NaiveDate};
use passerelle_protocol::nir::Nir;
use passerelle_protocol::v1::{self, FamilySituation, Sex, SocialDifficulty as D};
use passerelle_social_file::{open_from_decree, DecreeIdentity};
use rand::seq::SliceRandom;
use rand::Rng;

use super::phrases;
use crate::facts::to_v1;
use crate::identity::{self, Identity};
use crate::model::Person;

/// Share of the persons of 70 and over with a GIR level (an AGGIR assessment).
const GIR_ASSESSED_OVER_70: f64 = 0.55;
/// Share of the younger persons with a GIR level.
const GIR_ASSESSED_UNDER_70: f64 = 0.12;
/// Share of the files with a partner physical person (a GP, a nurse…).
const PHYSICAL_PARTNER: f64 = 0.4;
/// Share of the persons under 70 living with a child.
const CHILD_AT_HOME: f64 = 0.2;

/// What the social worker knows of the person besides the file: the residence département,
/// for the attached bodies' codes.
pub(crate) struct Context<'a> {
    pub person: &'a Person,
    pub identity: &'a Identity,
    pub departement: &'a str,
    pub today: NaiveDate,
}

/// The case file of one person.
pub(crate) fn case_file(rng: &mut impl Rng, cx: &Context<'_>) -> v1::SocialFile {
    let p = cx.person;
    let id = cx.identity;
    let decree = DecreeIdentity {
        nir: Nir::parse(&p.nir).expect("synth draws valid NIRs"),
        former_nirs: p.former_nir.iter().filter_map(|n| Nir::parse(n).ok()).collect(),
        family_name: id.family_name.to_owned(),
        usage_name: (!id.usage_name.is_empty()).then(|| id.usage_name.to_owned()),
        given_names: id.given_names.clone(),
        sex: p.sex,
        birth_year: u32::try_from(p.birth_year).ok(),
        commune_code: None,
        postal_address: (!id.postal_address.is_empty()).then(|| id.postal_address.clone()),
        email: (!id.email.is_empty()).then(|| id.email.clone()),
        phone: (!id.phone.is_empty()).then(|| id.phone.clone()),
    };
    let (mut file, _left_behind) = open_from_decree(&decree, &p.facts);
    let age = cx.today.year() - p.birth_year;
    let retired = p.facts.pension_start_date.is_some();

    let identity = file.identity.get_or_insert_with(Default::default);
    identity.birth_date = Some(birth_date(rng, &p.nir, p.birth_year));
    if rng.gen_bool(0.6) {
        identity.birth_place = Some(phrases::BIRTH_PLACES.choose(rng).expect("non-empty").to_string());
    }

    let members = household(rng, p, id, age);
    let gir = gir_level(rng, age);
    let difficulties = difficulties(rng, p, age, gir, members.is_empty());
    budget(rng, &mut file, p, retired, &members);
    file.family.get_or_insert_with(Default::default).household_members = members;
    care(rng, &mut file, p, gir, cx.today);
    occupation(rng, &mut file, retired);
    risks(&mut file, p);
    affiliation(rng, &mut file, cx.departement, p);
    rights_and_aids(rng, &mut file, gir, cx);
    compensation(rng, &mut file, p, retired, cx.today);
    social_situation(rng, &mut file, &difficulties);
    partners(rng, &mut file);
    prune(&mut file);
    file
}

/// Drops the groups left empty (no partner, no compensation…): a file holds what is known.
fn prune(file: &mut v1::SocialFile) {
    macro_rules! prune {
        ($($group:ident),*) => {
            $(if file.$group.as_ref().is_some_and(|g| *g == Default::default()) {
                file.$group = None;
            })*
        };
    }
    prune!(
        identity,
        contacts,
        family,
        social_situation,
        budget,
        care,
        medical,
        occupation,
        risk,
        affiliation,
        rights,
        health_cover,
        prevention,
        compensation,
        partners
    );
}

/// A birth date in the birth year: the NIR's month when real, a drawn one otherwise.
fn birth_date(rng: &mut impl Rng, nir: &str, year: i32) -> v1::Date {
    let month = nir.get(3..5).and_then(|m| m.parse::<u32>().ok()).filter(|m| (1..=12).contains(m));
    let month = month.unwrap_or_else(|| rng.gen_range(1..=12));
    let date = NaiveDate::from_ymd_opt(year, month, rng.gen_range(1..=28)).expect("a day of every month");
    to_v1(date)
}

/// The household (norm 43, I.6): the partner of a couple, sometimes a child at home.
fn household(rng: &mut impl Rng, p: &Person, id: &Identity, age: i32) -> Vec<v1::HouseholdMember> {
    use FamilySituation as F;
    let situation = p.facts.family_situation.and_then(|s| F::try_from(s).ok());
    let mut members = Vec::new();
    let mut member = |given: &str, family: &str, year: i32, relationship: v1::Relationship| {
        let number = u32::try_from(members.len()).expect("a few members") + 1;
        members.push(v1::HouseholdMember {
            member: number,
            family_name: Some(family.to_owned()),
            usage_name: None,
            given_names: Some(given.to_owned()),
            birth_year: u32::try_from(year).ok(),
            relationship: relationship as i32,
        });
    };
    let other_sex = if p.sex == Sex::Female { Sex::Male } else { Sex::Female };
    match situation {
        Some(F::Married) => {
            let year = p.birth_year + rng.gen_range(-6..=6);
            member(identity::given_name(rng, other_sex), id.family_name, year, v1::Relationship::Spouse);
        }
        Some(F::Cohabiting | F::CivilPartnership) => {
            let year = p.birth_year + rng.gen_range(-8..=8);
            let family = identity::family_name(rng);
            member(identity::given_name(rng, other_sex), family, year, v1::Relationship::Partner);
        }
        _ => {}
    }
    if age < 70 && rng.gen_bool(CHILD_AT_HOME) {
        let sex = if rng.gen_bool(0.5) { Sex::Female } else { Sex::Male };
        let year = p.birth_year + rng.gen_range(22..=38);
        member(identity::given_name(rng, sex), id.family_name, year, v1::Relationship::Child);
    }
    members
}

fn gir_level(rng: &mut impl Rng, age: i32) -> Option<u32> {
    let assessed = rng.gen_bool(if age >= 70 { GIR_ASSESSED_OVER_70 } else { GIR_ASSESSED_UNDER_70 });
    // Older persons are more dependent: GIR 1 is the most dependent, 6 autonomous.
    assessed.then(|| if age >= 85 { rng.gen_range(1..=4) } else { rng.gen_range(2..=6) })
}

fn difficulties(rng: &mut impl Rng, p: &Person, age: i32, gir: Option<u32>, alone: bool) -> Vec<D> {
    let f = &p.facts;
    let mut found = Vec::new();
    if gir.is_some_and(|g| g <= 4) {
        found.push(D::LossOfAutonomy);
    }
    if alone && age >= 70 && rng.gen_bool(0.5) {
        found.push(D::Isolation);
    }
    if f.css == Some(true) || f.rsa == Some(true) || f.old_age_minimum == Some(true) {
        found.push(D::Financial);
    }
    if f.no_declared_gp == Some(true) || f.no_reimbursement_12m == Some(true) {
        found.push(D::AccessToCare);
    }
    if f.sick_pay_over_90d_12m == Some(true) || f.work_accident_12m == Some(true) {
        found.push(D::JobRetention);
    }
    let others = [D::AccessToRights, D::Housing, D::Family, D::CaregiverExhaustion];
    if found.is_empty() || rng.gen_bool(0.3) {
        let extra = *others.choose(rng).expect("non-empty");
        found.push(extra);
    }
    found
}

/// Resources and charges (norm 43, I.8) per member: the person's (0), the partner's (1), the
/// household's; a debt now and then.
fn budget(rng: &mut impl Rng, file: &mut v1::SocialFile, p: &Person, retired: bool, members: &[v1::HouseholdMember]) {
    use v1::{AmountPeriod as P, BudgetItem as I, BudgetKind as K};
    let line = |member: Option<u32>, kind: K, item: I, euros: i64, period: P| v1::BudgetLine {
        member,
        kind: kind as i32,
        item: item as i32,
        amount_cents: euros * 100,
        period: period as i32,
    };
    let mut lines = Vec::new();
    let income = if retired { I::Pension } else { I::Earnings };
    lines.push(line(Some(0), K::Resource, income, rng.gen_range(700..=2400), P::Monthly));
    if let Some(partner) = members.iter().find(|m| m.relationship != v1::Relationship::Child as i32) {
        lines.push(line(Some(partner.member), K::Resource, I::Pension, rng.gen_range(500..=2000), P::Monthly));
    }
    if p.facts.housing_aid == Some(true) || p.facts.rsa == Some(true) {
        lines.push(line(None, K::Resource, I::SocialBenefits, rng.gen_range(100..=600), P::Monthly));
    }
    lines.push(line(None, K::Charge, I::Housing, rng.gen_range(300..=900), P::Monthly));
    lines.push(line(None, K::Charge, I::Energy, rng.gen_range(60..=220), P::Monthly));
    if rng.gen_bool(0.3) {
        lines.push(line(None, K::Charge, I::HealthCosts, rng.gen_range(20..=150), P::Monthly));
    }
    if rng.gen_bool(0.15) {
        lines.push(line(None, K::Credit, I::ConsumerCredit, rng.gen_range(80..=400), P::Monthly));
    }
    if rng.gen_bool(0.12) {
        let debt = *[I::RentArrears, I::EnergyArrears, I::TaxArrears].choose(rng).expect("non-empty");
        lines.push(line(None, K::Debt, debt, rng.gen_range(300..=4000), P::OneOff));
    }
    file.budget.get_or_insert_with(Default::default).lines.extend(lines);
}

fn care(rng: &mut impl Rng, file: &mut v1::SocialFile, p: &Person, gir: Option<u32>, today: NaiveDate) {
    let care = file.care.get_or_insert_with(Default::default);
    care.gir_level = gir;
    care.ticket_moderateur_exemption = p.facts.long_term_condition;
    care.care_pathway = Some(rng.gen_bool(0.25));
    if p.facts.disabled_adult_allowance == Some(true) || gir.is_some_and(|g| g <= 3) {
        care.pch_eligible = Some(rng.gen_bool(0.5));
    }
    if p.facts.work_accident_12m == Some(true) || rng.gen_bool(0.03) {
        care.ipp_rate = Some(rng.gen_range(5..=66));
    }
    if rng.gen_bool(0.15) {
        let kinds = [
            v1::MedicalOpinionKind::Consolidation,
            v1::MedicalOpinionKind::Aggravation,
            v1::MedicalOpinionKind::UnfitForPost,
            v1::MedicalOpinionKind::FitnessRestrictions,
        ];
        let date = rng.gen_bool(0.8).then(|| to_v1(today - Duration::days(rng.gen_range(1..=900))));
        let opinion = v1::MedicalOpinion { kind: *kinds.choose(rng).expect("non-empty") as i32, date };
        file.medical.get_or_insert_with(Default::default).opinions.push(opinion);
    }
}

fn occupation(rng: &mut impl Rng, file: &mut v1::SocialFile, retired: bool) {
    use v1::{EmploymentSituation as E, ProfessionalStatus as S};
    let occupation = file.occupation.get_or_insert_with(Default::default);
    if occupation.employment.is_none() {
        let employment = if retired { E::Retired } else { *[E::Employed, E::Inactive].choose(rng).expect("non-empty") };
        occupation.employment = Some(employment as i32);
    }
    let statuses = [S::Employee, S::Employee, S::Employee, S::CivilServant, S::SelfEmployed, S::FarmEmployee];
    occupation.professional_status = Some(*statuses.choose(rng).expect("non-empty") as i32);
}

fn risks(file: &mut v1::SocialFile, p: &Person) {
    use v1::Risk as R;
    let f = &p.facts;
    let mut risks = vec![R::Illness as i32];
    if f.work_accident_12m == Some(true) {
        risks.push(R::WorkAccident as i32);
    }
    if f.invalidity_pension == Some(true) {
        risks.push(R::Invalidity as i32);
    }
    file.risk.get_or_insert_with(Default::default).risks = risks;
}

/// The attached bodies (norm 43, I.13): the health-insurance fund of the département, and the
/// pension fund.
fn affiliation(rng: &mut impl Rng, file: &mut v1::SocialFile, departement: &str, p: &Person) {
    let dep = departement.to_ascii_lowercase();
    let agricultural = p.known[3].is_some();
    let (scheme, health) = if agricultural {
        (v1::Scheme::Agricultural, format!("msa-{dep}"))
    } else if dep.starts_with("97") {
        (v1::Scheme::General, format!("cgss-{dep}"))
    } else {
        (v1::Scheme::General, format!("cpam-{dep}"))
    };
    let mut bodies = vec![v1::AttachedBody {
        scheme: scheme as i32,
        body_code: Some(health),
        member_number: Some(format!("adh-{:06}", rng.gen_range(0..1_000_000))),
        ..Default::default()
    }];
    if p.facts.pension_start_date.is_some() && !agricultural {
        bodies.push(v1::AttachedBody {
            scheme: v1::Scheme::General as i32,
            body_code: Some("carsat-sud-est".to_owned()),
            phone: Some("01 99 00 39 60".to_owned()),
            ..Default::default()
        });
    }
    file.affiliation.get_or_insert_with(Default::default).bodies = bodies;
}

/// Rights asked for during the follow-up (APA for the dependent) and the prevention aids and
/// housing (norm 43, I.14, I.16).
fn rights_and_aids(rng: &mut impl Rng, file: &mut v1::SocialFile, gir: Option<u32>, cx: &Context<'_>) {
    use v1::{AidKind as A, BenefitStatus as S, HousingCondition as C, HousingType as H};
    let dep = cx.departement.to_ascii_lowercase();
    if gir.is_some_and(|g| g <= 4) {
        let status = *[S::Granted, S::Granted, S::Requested].choose(rng).expect("non-empty");
        let since = cx.today - Duration::days(rng.gen_range(30..=900));
        file.rights.get_or_insert_with(Default::default).benefits.push(v1::Benefit {
            kind: v1::BenefitKind::Apa as i32,
            status: status as i32,
            body_code: Some(format!("cd-{dep}")),
            since: Some(to_v1(since)),
        });
    }
    let prevention = file.prevention.get_or_insert_with(Default::default);
    let housing = [H::Owner, H::Owner, H::PrivateTenant, H::SocialTenant, H::SocialTenant, H::Hosted, H::Institution];
    prevention.housing_type = Some(*housing.choose(rng).expect("non-empty") as i32);
    let mut conditions = Vec::new();
    if gir.is_some() && rng.gen_bool(0.4) {
        conditions.push(C::UnsuitedToDisability as i32);
    }
    if rng.gen_bool(0.15) {
        conditions.push(C::StairsWithoutLift as i32);
    }
    if rng.gen_bool(0.08) {
        conditions.push(C::FuelPoverty as i32);
    }
    prevention.housing_conditions = conditions;
    if gir.is_some() || rng.gen_bool(0.2) {
        let kind = *[A::HouseholdHelp, A::PersonalHelp, A::TechnicalAid, A::HomeCare, A::OptionalAid]
            .choose(rng)
            .expect("non-empty");
        let start = cx.today - Duration::days(rng.gen_range(30..=600));
        let end = start + Duration::days(rng.gen_range(90..=365));
        prevention.aids.push(v1::PreventionAid {
            kind: kind as i32,
            status: S::Granted as i32,
            start: Some(to_v1(start)),
            end: Some(to_v1(end)),
            amount_cents: rng.gen_bool(0.7).then(|| rng.gen_range(50..=3000) * 100),
        });
    }
}

/// Sick leaves and pensions (norm 43, I.17) of the persons still working or on invalidity.
fn compensation(rng: &mut impl Rng, file: &mut v1::SocialFile, p: &Person, retired: bool, today: NaiveDate) {
    let f = &p.facts;
    let compensation = file.compensation.get_or_insert_with(Default::default);
    if !retired && (f.sick_pay_over_90d_12m == Some(true) || f.work_accident_12m == Some(true)) {
        let risk = if f.work_accident_12m == Some(true) {
            v1::AllowanceRisk::WorkAccident
        } else {
            v1::AllowanceRisk::Illness
        };
        let start = today - Duration::days(rng.gen_range(100..=360));
        let end = rng.gen_bool(0.5).then(|| start + Duration::days(rng.gen_range(91..=200))).filter(|e| *e <= today);
        compensation.sick_leaves.push(v1::SickLeave {
            risk: risk as i32,
            start: Some(to_v1(start)),
            end: end.map(to_v1),
            daily_allowance_cents: Some(rng.gen_range(2000..=6000)),
        });
    }
    if f.invalidity_pension == Some(true) {
        compensation.pensions.push(v1::PensionPayment {
            kind: v1::PensionKind::InvalidityPension as i32,
            start: Some(to_v1(today - Duration::days(rng.gen_range(365..=3650)))),
            amount_cents: Some(rng.gen_range(300..=1400) * 100),
            period: v1::AmountPeriod::Monthly as i32,
        });
    }
}

/// Difficulties, the assessment from fixed sentences, and a relation for the isolated or
/// dependent (norm 43, I.7).
fn social_situation(rng: &mut impl Rng, file: &mut v1::SocialFile, difficulties: &[D]) {
    let mut sentences: Vec<&str> =
        difficulties.iter().filter_map(|d| phrases::assessment_sentences(*d).choose(rng).copied()).collect();
    sentences.push(phrases::NEXT_STEPS.choose(rng).expect("non-empty"));
    let mut relations = Vec::new();
    let concern = if difficulties.contains(&D::LossOfAutonomy) {
        Some(v1::RelationConcern::LossOfAutonomy)
    } else if difficulties.contains(&D::Isolation) {
        Some(v1::RelationConcern::Isolation)
    } else {
        None
    };
    if let Some(concern) = concern.filter(|_| rng.gen_bool(0.6)) {
        let kind = *[v1::RelationKind::Family, v1::RelationKind::Family, v1::RelationKind::Neighbour]
            .choose(rng)
            .expect("non-empty");
        let sex = if rng.gen_bool(0.6) { Sex::Female } else { Sex::Male };
        relations.push(v1::Relation {
            kind: kind as i32,
            concern: concern as i32,
            family_name: Some(identity::family_name(rng).to_owned()),
            given_names: Some(identity::given_name(rng, sex).to_owned()),
            phone: Some(identity::phone(rng)),
            ..Default::default()
        });
    }
    *file.social_situation.get_or_insert_with(Default::default) = v1::SocialSituation {
        difficulties: difficulties.iter().map(|d| *d as i32).collect(),
        assessment: Some(sentences.join(" ")),
        relations,
    };
}

fn partners(rng: &mut impl Rng, file: &mut v1::SocialFile) {
    let partners = file.partners.get_or_insert_with(Default::default);
    let count = rng.gen_range(0..=2);
    for (nature, name) in phrases::LEGAL_PARTNERS.choose_multiple(rng, count) {
        partners.legal_persons.push(v1::LegalPartner { nature: *nature as i32, name: Some((*name).to_owned()) });
    }
    if rng.gen_bool(PHYSICAL_PARTNER) {
        let sex = if rng.gen_bool(0.5) { Sex::Female } else { Sex::Male };
        partners.physical_persons.push(v1::PhysicalPartner {
            family_name: Some(identity::family_name(rng).to_owned()),
            given_names: Some(identity::given_name(rng, sex).to_owned()),
            function: Some(phrases::PARTNER_FUNCTIONS.choose(rng).expect("non-empty").to_string()),
            phone: Some(identity::phone(rng)),
            ..Default::default()
        });
    }
}
