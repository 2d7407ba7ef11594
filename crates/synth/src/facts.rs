//! The truth of one person: every category of 2° to 7° drawn from their age, sex and birth, as
//! of the reference date (pension dates, hospital stays in the last 12 months, benefits,
//! resources). **Every prevalence here is illustrative**, like the rest of the model: an order of
//! magnitude, not a statistic.
//!
//! The draws are made in a fixed order from the caller's generator, so the same seed gives the
//! same population.

use chrono::{Datelike, NaiveDate, TimeDelta};
use passerelle_protocol::v1::{self, CategoryValues, FamilySituation, HospitalStay, HospitalStays, Sex, TreatmentMode};
use rand::Rng;

use crate::model::MIN_AGE;

// Prevalences (illustrative) of 3°, health insurance.
/// Complémentaire santé solidaire (ex CMU-C/ACS).
const CSS: f64 = 0.10;
/// A complementary health insurer, among persons without the CSS.
const COMPLEMENTARY_COVER: f64 = 0.9;
/// Long-term condition (ALD): 20 % at 55, +1.2 point a year of age, at most 60 % (about 35 % overall).
const ALD_AT_55: f64 = 0.20;
const ALD_PER_YEAR: f64 = 0.012;
const ALD_MAX: f64 = 0.6;
/// At least one hospital stay in 12 months: 14 % at 55, +0.4 point a year (about 20 % overall).
const HOSPITAL_AT_55: f64 = 0.14;
const HOSPITAL_PER_YEAR: f64 = 0.004;
/// Work accident or occupational disease in 12 months, for those still working.
const WORK_ACCIDENT_WORKING: f64 = 0.02;
/// Sick pay over 90 days in 12 months, for those still working.
const LONG_SICK_PAY_WORKING: f64 = 0.04;
/// No reimbursed care in 12 months (persons without a hospital stay).
const NO_REIMBURSEMENT: f64 = 0.03;
/// No declared GP.
const NO_DECLARED_GP: f64 = 0.05;

// 4°, retirement.
/// Invalidity pension, before the pension (which replaces it) starts (about 3 % overall).
const INVALIDITY_BEFORE_PENSION: f64 = 0.10;
/// Retirement for incapacity for work, among pensioners.
const WORK_INCAPACITY: f64 = 0.03;
/// Survivor's pension, among widows and widowers, and among the others (a former spouse's).
/// Gives about 15 % of women aged 70 and over.
const SURVIVOR_WIDOW: f64 = 0.45;
const SURVIVOR_WIDOWER: f64 = 0.2;
const SURVIVOR_OTHER_WOMEN: f64 = 0.02;
/// Old-age minimum (ASPA/ASV), among pensioners aged 65 and over (about 4 % overall).
const OLD_AGE_MINIMUM: f64 = 0.06;
/// Minimum contributif, among pensioners.
const CONTRIBUTORY_MINIMUM: f64 = 0.2;

// 5°, family benefits.
/// Housing aid (about 10 %); among old-age-minimum beneficiaries.
const HOUSING_AID: f64 = 0.09;
const HOUSING_AID_MINIMUM: f64 = 0.5;
/// Disabled adult allowance (AAH), before 65 and after (about 2 % overall).
const AAH_UNDER_65: f64 = 0.035;
const AAH_OVER_65: f64 = 0.01;
/// RSA, for those under 65 not yet retired (about 2 % overall).
const RSA_WORKING_AGE: f64 = 0.09;
/// Prime d'activité, for those not yet retired and still working.
const ACTIVITY_BONUS: f64 = 0.07;

// 6° and 7°.
/// Home-return aid after a hospital stay, among pensioners with a stay.
const HOME_RETURN_AID: f64 = 0.06;
/// CSG exemption among pensioners, and among old-age-minimum beneficiaries.
const CSG_EXEMPTION: f64 = 0.15;
const CSG_EXEMPTION_MINIMUM: f64 = 0.9;
/// Registered job seeker, among those not yet retired.
const JOB_SEEKER: f64 = 0.12;
/// Pensions from several schemes, among pensioners and among the others (careers so far).
const MULTI_SCHEME_PENSIONER: f64 = 0.32;
const MULTI_SCHEME_OTHERS: f64 = 0.25;
/// A dependent child in the household, for those under 65.
const DEPENDENT_CHILD: f64 = 0.08;
/// Pensions are paid on this day of the month following the month due.
const PENSION_PAYMENT_DAY: u32 = 9;

/// The truth of every category for one person, as of `as_of` (1 January of the reference year).
pub(crate) fn draw(
    rng: &mut impl Rng,
    as_of: NaiveDate,
    age: i32,
    sex: Sex,
    birth_year: i32,
    birth_month: u8,
) -> CategoryValues {
    use FamilySituation as F;
    let mut v = CategoryValues::default();
    let years_over_55 = f64::from(age - MIN_AGE);

    // 2°
    let situation = family_situation(rng, age, sex);
    v.family_situation = Some(situation as i32);
    let couple = matches!(situation, F::Married | F::CivilPartnership | F::Cohabiting);

    // 4° e-f dates first: they tell whether the person is retired.
    let pension_start = pension_start(rng, birth_year, birth_month).filter(|d| *d <= as_of);
    let retired = pension_start.is_some();
    if let Some(start) = pension_start {
        v.pension_start_date = Some(to_v1(start));
        v.pension_payment_date = Some(to_v1(first_payment(start)));
    }

    // 3°
    let css = rng.gen_bool(CSS);
    v.css = Some(css);
    v.complementary_cover = Some(css || rng.gen_bool(COMPLEMENTARY_COVER));
    v.long_term_condition = Some(rng.gen_bool((ALD_AT_55 + ALD_PER_YEAR * years_over_55).min(ALD_MAX)));
    let stays = if rng.gen_bool(HOSPITAL_AT_55 + HOSPITAL_PER_YEAR * years_over_55) {
        hospital_stays(rng, as_of)
    } else {
        Vec::new()
    };
    let had_stay = !stays.is_empty();
    v.hospital_stays_12m = Some(HospitalStays { stays });
    v.work_accident_12m = Some(!retired && rng.gen_bool(WORK_ACCIDENT_WORKING));
    v.sick_pay_over_90d_12m = Some(!retired && rng.gen_bool(LONG_SICK_PAY_WORKING));
    v.no_reimbursement_12m = Some(!had_stay && rng.gen_bool(NO_REIMBURSEMENT));
    v.no_declared_gp = Some(rng.gen_bool(NO_DECLARED_GP));

    // 4°
    v.invalidity_pension = Some(!retired && rng.gen_bool(INVALIDITY_BEFORE_PENSION));
    v.work_incapacity = Some(retired && rng.gen_bool(WORK_INCAPACITY));
    let survivor = match (situation, sex) {
        (F::Widowed, Sex::Female) => SURVIVOR_WIDOW,
        (F::Widowed, _) => SURVIVOR_WIDOWER,
        (_, Sex::Female) => SURVIVOR_OTHER_WOMEN,
        _ => 0.0,
    };
    v.survivor_pension = Some(rng.gen_bool(survivor));
    let minimum = retired && age >= 65 && rng.gen_bool(OLD_AGE_MINIMUM);
    v.old_age_minimum = Some(minimum);
    v.contributory_minimum = Some(retired && rng.gen_bool(CONTRIBUTORY_MINIMUM));

    // 5°
    let housing = rng.gen_bool(if minimum { HOUSING_AID_MINIMUM } else { HOUSING_AID });
    v.housing_aid = Some(housing);
    let aah = rng.gen_bool(if age < 65 { AAH_UNDER_65 } else { AAH_OVER_65 });
    v.disabled_adult_allowance = Some(aah);
    let rsa = !retired && age < 65 && !aah && rng.gen_bool(RSA_WORKING_AGE);
    v.rsa = Some(rsa);
    let job_seeker = !retired && rng.gen_bool(JOB_SEEKER);
    v.activity_bonus = Some(!retired && !job_seeker && rng.gen_bool(ACTIVITY_BONUS));

    // 6°, 7°
    v.home_return_aid = Some(retired && had_stay && rng.gen_bool(HOME_RETURN_AID));
    if retired {
        v.csg_exemption = Some(rng.gen_bool(if minimum { CSG_EXEMPTION_MINIMUM } else { CSG_EXEMPTION }));
    }
    v.job_seeker_registration = Some(job_seeker);
    v.quarters_contributed = Some(quarters(rng, age, sex, retired));
    v.multi_scheme_pensions = Some(rng.gen_bool(if retired { MULTI_SCHEME_PENSIONER } else { MULTI_SCHEME_OTHERS }));
    let child = age < 65 && rng.gen_bool(DEPENDENT_CHILD);
    let resources = household_resources(rng, couple, rsa || aah || minimum, housing);
    // Consumption units in tenths: 1 for the first adult, 0.5 for another adult or a child of
    // 14 and over (the OECD-modified scale).
    let units = 10 + if couple { 5 } else { 0 } + if child { 5 } else { 0 };
    v.household_annual_resources = Some(resources);
    v.resources_per_consumption_unit = Some(resources * 10 / units);
    v
}

fn family_situation(rng: &mut impl Rng, age: i32, sex: Sex) -> FamilySituation {
    use FamilySituation as F;
    // Widowhood grows with age, three times as fast for women.
    let widowed_per_mille = ((age - 60).max(0) * if sex == Sex::Female { 16 } else { 5 }).min(700);
    if rng.gen_range(0..1000) < widowed_per_mille {
        return F::Widowed;
    }
    match rng.gen_range(0..100) {
        0..62 => F::Married,
        62..68 => F::Cohabiting,
        68..70 => F::CivilPartnership,
        70..84 => F::Divorced,
        84..86 => F::Separated,
        _ => F::Single,
    }
}

/// The legal pension age by birth year, simplified from the 2010 and 2023 reforms.
fn legal_pension_age(birth_year: i32) -> i32 {
    match birth_year {
        ..=1950 => 60,
        1951..=1954 => 61,
        1955..=1960 => 62,
        1961..=1962 => 63,
        _ => 64,
    }
}

/// The pension start date (always the first of a month, after the birthday), possibly in the
/// future of the reference date.
fn pension_start(rng: &mut impl Rng, birth_year: i32, birth_month: u8) -> Option<NaiveDate> {
    let legal = legal_pension_age(birth_year);
    let age = match rng.gen_range(0..100) {
        0..12 => legal - 2,
        12..75 => legal,
        75..90 => legal + rng.gen_range(1..=3),
        _ => rng.gen_range(65..=67),
    };
    let (mut year, mut month) = (birth_year + age, birth_month + 1);
    if month > 12 {
        (year, month) = (year + 1, 1);
    }
    NaiveDate::from_ymd_opt(year, u32::from(month), 1)
}

/// The first payment: on [`PENSION_PAYMENT_DAY`] of the month after the first month due.
fn first_payment(start: NaiveDate) -> NaiveDate {
    let (year, month) = if start.month() == 12 { (start.year() + 1, 1) } else { (start.year(), start.month() + 1) };
    NaiveDate::from_ymd_opt(year, month, PENSION_PAYMENT_DAY).expect("the 9th exists")
}

pub(crate) fn to_v1(d: NaiveDate) -> v1::Date {
    v1::Date { year: d.year() as u32, month: d.month(), day: d.day() }
}

/// 1 to 3 stays in the 12 months before `as_of`, oldest first, of plausible modes and lengths.
fn hospital_stays(rng: &mut impl Rng, as_of: NaiveDate) -> Vec<HospitalStay> {
    let count = match rng.gen_range(0..100) {
        0..65 => 1,
        65..90 => 2,
        _ => 3,
    };
    let mut stays: Vec<(NaiveDate, u32, TreatmentMode)> = (0..count)
        .map(|_| {
            let admission = as_of - TimeDelta::days(rng.gen_range(1..=365));
            let (mode, days) = match rng.gen_range(0..100) {
                0..50 => (TreatmentMode::Full, rng.gen_range(1..=5) + rng.gen_range(0..=10)),
                50..82 => (TreatmentMode::Ambulatory, 0),
                82..88 => (TreatmentMode::Partial, 0),
                88..96 => (TreatmentMode::Rehabilitation, rng.gen_range(10..=45)),
                _ => (TreatmentMode::Home, rng.gen_range(5..=30)),
            };
            (admission, days, mode)
        })
        .collect();
    stays.sort_by_key(|s| s.0);
    stays
        .into_iter()
        .map(|(date, days, mode)| HospitalStay { admission: Some(to_v1(date)), length_days: days, mode: mode as i32 })
        .collect()
}

/// Quarters contributed: 100 to 172 for pensioners (fewer for women, career breaks), about four
/// a year since age 20 for the others.
fn quarters(rng: &mut impl Rng, age: i32, sex: Sex, retired: bool) -> u32 {
    let gaps =
        rng.gen_range(0..=20) + rng.gen_range(0..=20) + if sex == Sex::Female { rng.gen_range(0..=16) } else { 0 };
    let full = if retired { 172 } else { ((age - 20) * 4).min(172) };
    (full - gaps).clamp(100, 172) as u32
}

/// Household annual resources in euro cents: low for minimum-income households, roughly
/// triangular otherwise, lower for households with housing aid.
fn household_resources(rng: &mut impl Rng, couple: bool, minimum_income: bool, housing_aid: bool) -> i64 {
    fn triangular(rng: &mut impl Rng, low: i64, high: i64) -> i64 {
        low + (rng.gen_range(0..=high - low) + rng.gen_range(0..=high - low)) / 2
    }
    let euros = if minimum_income {
        triangular(rng, 6_500, 13_500)
    } else if couple {
        triangular(rng, 18_000, 65_000)
    } else {
        triangular(rng, 10_000, 38_000)
    };
    let euros = if housing_aid { euros * 65 / 100 } else { euros };
    euros * 100 + rng.gen_range(0..100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pensions_start_on_the_first_and_are_paid_on_the_ninth() {
        let start = NaiveDate::from_ymd_opt(2020, 12, 1).unwrap();
        assert_eq!(first_payment(start), NaiveDate::from_ymd_opt(2021, 1, 9).unwrap());
        let start = NaiveDate::from_ymd_opt(2021, 3, 1).unwrap();
        assert_eq!(first_payment(start), NaiveDate::from_ymd_opt(2021, 4, 9).unwrap());
    }
}
