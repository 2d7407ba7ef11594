//! The population model: who the persons are, what is true of them, and which body knows what.
//!
//! **Every figure here is illustrative**: an order of magnitude chosen so the demo and the tests
//! see plausible mixes (most persons found by some body, a minority with each risk factor, a few
//! odd records), not a statistic of the French population or of any body's files.
//!
//! Each person belongs to one scheme: the régime général (known to `cnam` for health and to
//! `cnav` for retirement), the agricultural scheme (known to `msa` only, for every category of
//! 2° to 7°), or another scheme no participating body covers (known to nobody). The CAF (`cnaf`)
//! knows the régime-général households with family or housing benefits, and a share of others.
//! The truth of each person is drawn once; each body's record is that truth restricted to the
//! categories it holds, with a few gaps and the occasional stale or mistyped value.

use passerelle_protocol::catalogue::{self, body};
use passerelle_protocol::nir;
use passerelle_protocol::v1::{
    self, Category, CategoryValues, FamilySituation, HospitalStay, HospitalStays, Sex, TreatmentMode,
};
use passerelle_protocol::value::Value;
use rand::seq::SliceRandom;
use rand::Rng;
use time::{Date, Duration, Month};

use crate::nir_slots::{PlaceClass, Slot, SlotAllocator, OVERSEAS_DIGITS};
use crate::residence::Residences;
use crate::SynthError;

/// The youngest age in the population: the exchange concerns persons aged 55 and over (art. 1).
pub const MIN_AGE: i32 = passerelle_protocol::rules::MIN_AGE as i32;
/// The oldest age drawn.
pub const MAX_AGE: i32 = 100;

/// Persons per single year of age, in thousands, at a few anchor ages (linear in between): the
/// shape of an ageing pyramid with the post-war baby boom, illustrative.
const AGE_PYRAMID: [(i32, u32); 11] = [
    (55, 860),
    (60, 840),
    (65, 800),
    (70, 780),
    (75, 650),
    (78, 560),
    (80, 480),
    (85, 360),
    (90, 200),
    (95, 70),
    (100, 15),
];

/// Share of provisional numbers (sex digit 7 or 8) among current NIRs.
pub const PROVISIONAL_NIR: f64 = 0.02;
/// Share of persons with a former NIR (a provisional number replaced by a definitive one).
pub const FORMER_NIR: f64 = 0.02;
/// Share of persons born in their département of residence.
const BORN_IN_RESIDENCE_DEPARTEMENT: f64 = 0.6;
/// Share of persons born abroad (place `99` + a country code).
const BORN_ABROAD: f64 = 0.1;
/// Share of NIRs with a fictitious month among persons born abroad, and among the others.
const FICTITIOUS_MONTH_ABROAD: f64 = 0.1;
const FICTITIOUS_MONTH_OTHERS: f64 = 0.002;

/// Share of persons in no participating body's scheme (civil servants' and other special schemes).
pub const KNOWN_TO_NOBODY: f64 = 0.02;
/// Share of the agricultural scheme among the others.
pub const AGRICULTURAL: f64 = 0.07;
/// Share of régime-général persons the health insurance (`cnam`) knows.
const CNAM_COVERAGE: f64 = 0.99;
/// Share of régime-général persons the pension fund (`cnav`) knows.
const CNAV_COVERAGE: f64 = 0.985;
/// Share of agricultural-scheme persons the MSA knows.
const MSA_COVERAGE: f64 = 0.995;
/// Share of régime-général persons without benefits the CAF knows anyway (a household file).
/// With the beneficiaries, the CAF knows about 35 % of the population.
const CNAF_OTHER_HOUSEHOLDS: f64 = 0.28;

/// Per body that knows a person with a former NIR: share knowing them by the former NIR only,
/// and share knowing both numbers (the rest knows the current one only).
const KNOWN_BY_FORMER_ONLY: f64 = 0.25;
const KNOWN_BY_BOTH: f64 = 0.4;
/// Per body record: share with a birth year different from the selection's (a typing error).
pub const BIRTH_YEAR_MISMATCH: f64 = 0.005;
/// Per body record: share without a birth year, and without a sex.
const NO_BIRTH_YEAR: f64 = 0.015;
const NO_SEX: f64 = 0.01;
/// Per category cell of a body record: share left empty (unknown to that body).
const CELL_UNKNOWN: f64 = 0.01;
/// The pension fund's family situation: share unknown, and share out of date.
const CNAV_FAMILY_SITUATION_UNKNOWN: f64 = 0.1;
const CNAV_FAMILY_SITUATION_STALE: f64 = 0.03;

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
const PENSION_PAYMENT_DAY: u8 = 9;

/// Every mainland département code a NIR may carry (`20` excluded: Corsica is `2A`/`2B`).
const MAINLAND_DEPARTEMENTS: [&str; 96] = [
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19",
    "2A", "2B", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31", "32", "33", "34", "35", "36", "37",
    "38", "39", "40", "41", "42", "43", "44", "45", "46", "47", "48", "49", "50", "51", "52", "53", "54", "55", "56",
    "57", "58", "59", "60", "61", "62", "63", "64", "65", "66", "67", "68", "69", "70", "71", "72", "73", "74", "75",
    "76", "77", "78", "79", "80", "81", "82", "83", "84", "85", "86", "87", "88", "89", "90", "91", "92", "93", "94",
    "95",
];

/// Where persons living in a département may have been born, for their NIR's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomePlace {
    /// A mainland département (its NIR code, `2A`/`2B` for Corsica).
    Mainland(&'static str),
    /// An overseas département `97d` whose NIR place is `97d` + 2 digits.
    Overseas(u8),
    /// Elsewhere (no birth place of its own in the NIR rules used here).
    Other,
}

impl HomePlace {
    /// The birth place matching a residence département code.
    pub fn of(departement: &str) -> HomePlace {
        if let Some(code) = MAINLAND_DEPARTEMENTS.iter().find(|d| **d == departement) {
            return HomePlace::Mainland(code);
        }
        match departement.strip_prefix("97").and_then(|d| d.parse::<u8>().ok()) {
            Some(d) if OVERSEAS_DIGITS.contains(&d) => HomePlace::Overseas(d),
            _ => HomePlace::Other,
        }
    }
}

/// The scheme a person belongs to, which decides who knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    General,
    Agricultural,
    /// No participating body: known to nobody.
    Other,
}

/// By which number a body knows a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyForm {
    /// The current NIR only.
    Current,
    /// The current NIR, with the former one in `former_nirs`.
    CurrentAndFormer,
    /// The former NIR only (the body never learnt of the new number).
    FormerOnly,
}

/// How one body knows one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub key: KeyForm,
    /// The birth year in the body's file, if any (it may differ from the selection's).
    pub birth_year: Option<i32>,
    pub sex: Option<Sex>,
}

/// One synthetic person, with the truth about them and who knows them.
#[derive(Debug, Clone)]
pub struct Person {
    pub nir: String,
    pub former_nir: Option<String>,
    pub sex: Sex,
    pub birth_year: i32,
    /// Index into the territory's residences.
    pub residence: usize,
    /// The truth of every category of 2° to 7° (absent when it does not apply, e.g. pension
    /// dates before retirement).
    pub facts: CategoryValues,
    /// Per body of [`body::ALL`], in that order.
    pub known: [Option<Known>; 4],
}

/// Draws persons one at a time.
#[derive(Debug)]
pub struct Model {
    reference_year: i32,
    /// The date the extracts are as of: 1 January of the reference year.
    as_of: Date,
    age_cumulative: Vec<u32>,
    slots: SlotAllocator,
}

impl Model {
    pub fn new(reference_year: i32, rng: &mut impl Rng) -> Self {
        let mut age_cumulative = Vec::with_capacity((MAX_AGE - MIN_AGE + 1) as usize);
        let mut total = 0;
        for age in MIN_AGE..=MAX_AGE {
            total += pyramid_weight(age);
            age_cumulative.push(total);
        }
        let as_of = Date::from_calendar_date(reference_year, Month::January, 1).expect("a checked reference year");
        Model { reference_year, as_of, age_cumulative, slots: SlotAllocator::new(rng) }
    }

    /// The date the extracts are as of.
    pub fn as_of(&self) -> Date {
        self.as_of
    }

    pub fn person(&mut self, rng: &mut impl Rng, residences: &Residences) -> Result<Person, SynthError> {
        // Who: age, sex, birth.
        let r = rng.gen_range(0..*self.age_cumulative.last().expect("ages"));
        let age = MIN_AGE + self.age_cumulative.partition_point(|&c| c <= r) as i32;
        let birth_year = self.reference_year - age;
        let sex = if rng.gen_bool(female_share(age)) { Sex::Female } else { Sex::Male };

        // Where they live, and the NIR.
        let residence = residences.sample(rng);
        let home = residences.communes[residence].birth_place;
        let provisional = rng.gen_bool(PROVISIONAL_NIR);
        let (nir, birth_month) = self.draw_nir(rng, sex, birth_year, provisional, home)?;
        let former_nir = if !provisional && rng.gen_bool(FORMER_NIR) {
            Some(self.draw_nir(rng, sex, birth_year, true, home)?.0)
        } else {
            None
        };

        // What is true of them.
        let scheme = if rng.gen_bool(KNOWN_TO_NOBODY) {
            Scheme::Other
        } else if rng.gen_bool(AGRICULTURAL) {
            Scheme::Agricultural
        } else {
            Scheme::General
        };
        let facts = self.facts(rng, age, sex, birth_year, birth_month);
        let benefits =
            [facts.housing_aid, facts.disabled_adult_allowance, facts.rsa, facts.activity_bonus].contains(&Some(true));

        // Who knows them.
        let mut known = [None; 4];
        for (slot, body) in known.iter_mut().zip(body::ALL) {
            let knows = match (scheme, body) {
                (Scheme::General, body::CNAM) => rng.gen_bool(CNAM_COVERAGE),
                (Scheme::General, body::CNAV) => rng.gen_bool(CNAV_COVERAGE),
                (Scheme::General, body::CNAF) => benefits || rng.gen_bool(CNAF_OTHER_HOUSEHOLDS),
                (Scheme::Agricultural, body::MSA) => rng.gen_bool(MSA_COVERAGE),
                _ => false,
            };
            if knows {
                *slot = Some(knows_as(rng, birth_year, sex, former_nir.is_some()));
            }
        }
        Ok(Person { nir, former_nir, sex, birth_year, residence, facts, known })
    }

    /// A unique NIR consistent with the sex and birth year, and its real birth month (drawn when
    /// the NIR's month is fictitious).
    fn draw_nir(
        &mut self,
        rng: &mut impl Rng,
        sex: Sex,
        birth_year: i32,
        provisional: bool,
        home: HomePlace,
    ) -> Result<(String, u8), SynthError> {
        let abroad = rng.gen_bool(BORN_ABROAD);
        let at_home = !abroad && rng.gen_bool(BORN_IN_RESIDENCE_DEPARTEMENT);
        let class = match home {
            HomePlace::Overseas(d) if at_home => PlaceClass::Overseas(d),
            _ => PlaceClass::Mainland,
        };
        let fictitious = rng.gen_bool(if abroad { FICTITIOUS_MONTH_ABROAD } else { FICTITIOUS_MONTH_OTHERS });
        let slot = self.slots.take(class, fictitious).ok_or(SynthError::NirSpaceExhausted)?;
        let departement = match home {
            _ if abroad => "99",
            HomePlace::Mainland(code) if at_home => code,
            _ => MAINLAND_DEPARTEMENTS.choose(rng).expect("non-empty"),
        };
        let sex_digit = match (sex, provisional) {
            (Sex::Female, false) => 2,
            (Sex::Female, true) => 8,
            (_, false) => 1,
            (_, true) => 7,
        };
        let first13 = first_thirteen(sex_digit, birth_year, &slot, departement);
        let nir = nir::with_key(&first13).ok_or(SynthError::InvalidNir)?;
        let birth_month = if slot.month <= 12 { slot.month } else { rng.gen_range(1..=12) };
        Ok((nir.as_str().to_owned(), birth_month))
    }

    /// The truth of every category for one person.
    fn facts(&self, rng: &mut impl Rng, age: i32, sex: Sex, birth_year: i32, birth_month: u8) -> CategoryValues {
        use FamilySituation as F;
        let mut v = CategoryValues::default();
        let years_over_55 = f64::from(age - MIN_AGE);

        // 2°
        let situation = family_situation(rng, age, sex);
        v.family_situation = Some(situation as i32);
        let couple = matches!(situation, F::Married | F::CivilPartnership | F::Cohabiting);

        // 4° e-f dates first: they tell whether the person is retired.
        let pension_start = pension_start(rng, birth_year, birth_month).filter(|d| *d <= self.as_of);
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
            hospital_stays(rng, self.as_of)
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
        v.multi_scheme_pensions =
            Some(rng.gen_bool(if retired { MULTI_SCHEME_PENSIONER } else { MULTI_SCHEME_OTHERS }));
        let child = age < 65 && rng.gen_bool(DEPENDENT_CHILD);
        let resources = household_resources(rng, couple, rsa || aah || minimum, housing);
        // Consumption units in tenths: 1 for the first adult, 0.5 for another adult or a child of
        // 14 and over (the OECD-modified scale).
        let units = 10 + if couple { 5 } else { 0 } + if child { 5 } else { 0 };
        v.household_annual_resources = Some(resources);
        v.resources_per_consumption_unit = Some(resources * 10 / units);
        v
    }
}

/// What one body holds about a person: the truth of the given categories (those the body holds
/// by default, in catalogue order) with the body's own gaps and errors, into `record`.
pub fn body_record(
    rng: &mut impl Rng,
    person: &Person,
    body_code: &str,
    categories: &[&catalogue::CategoryInfo],
    record: &mut Vec<Option<Value>>,
) {
    record.clear();
    for info in categories {
        let mut value = person.facts.get(info.category);
        if info.category == Category::FamilySituation && body_code == body::CNAV {
            if rng.gen_bool(CNAV_FAMILY_SITUATION_UNKNOWN) {
                value = None;
            } else if rng.gen_bool(CNAV_FAMILY_SITUATION_STALE) {
                value = Some(Value::FamilySituation(*STALE_SITUATIONS.choose(rng).expect("non-empty")));
            }
        }
        if value.is_some() && rng.gen_bool(CELL_UNKNOWN) {
            value = None;
        }
        record.push(value);
    }
}

/// What a body's out-of-date file may say.
const STALE_SITUATIONS: [FamilySituation; 3] =
    [FamilySituation::Married, FamilySituation::Single, FamilySituation::Divorced];

fn knows_as(rng: &mut impl Rng, birth_year: i32, sex: Sex, has_former: bool) -> Known {
    let key = if has_former {
        let r: f64 = rng.gen();
        if r < KNOWN_BY_FORMER_ONLY {
            KeyForm::FormerOnly
        } else if r < KNOWN_BY_FORMER_ONLY + KNOWN_BY_BOTH {
            KeyForm::CurrentAndFormer
        } else {
            KeyForm::Current
        }
    } else {
        KeyForm::Current
    };
    let birth_year = if rng.gen_bool(NO_BIRTH_YEAR) {
        None
    } else if rng.gen_bool(BIRTH_YEAR_MISMATCH) {
        let delta = *[-2, -1, 1, 2].choose(rng).expect("non-empty");
        Some(birth_year + delta)
    } else {
        Some(birth_year)
    };
    let sex = if rng.gen_bool(NO_SEX) { None } else { Some(sex) };
    Known { key, birth_year, sex }
}

fn first_thirteen(sex_digit: u8, birth_year: i32, slot: &Slot, departement: &str) -> String {
    let yy = birth_year.rem_euclid(100);
    match slot.class {
        PlaceClass::Mainland => {
            format!("{sex_digit}{yy:02}{:02}{departement}{:03}{:03}", slot.month, slot.place, slot.order)
        }
        PlaceClass::Overseas(d) => {
            format!("{sex_digit}{yy:02}{:02}97{d}{:02}{:03}", slot.month, slot.place, slot.order)
        }
    }
}

fn pyramid_weight(age: i32) -> u32 {
    let upper = AGE_PYRAMID.iter().position(|&(a, _)| a >= age).expect("age within the pyramid");
    let (a1, w1) = AGE_PYRAMID[upper];
    if upper == 0 || a1 == age {
        return w1;
    }
    let (a0, w0) = AGE_PYRAMID[upper - 1];
    let (span, offset) = ((a1 - a0) as i64, (age - a0) as i64);
    (i64::from(w0) + (i64::from(w1) - i64::from(w0)) * offset / span) as u32
}

/// Women outnumber men more and more with age: 52 % at 55, 62 % at 80, 80 % at 100.
fn female_share(age: i32) -> f64 {
    let per_mille = if age < 80 { 520 + 4 * (age - 55) } else { (620 + 9 * (age - 80)).min(800) };
    f64::from(per_mille) / 1000.0
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
fn pension_start(rng: &mut impl Rng, birth_year: i32, birth_month: u8) -> Option<Date> {
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
    Date::from_calendar_date(year, Month::try_from(month).ok()?, 1).ok()
}

/// The first payment: on [`PENSION_PAYMENT_DAY`] of the month after the first month due.
fn first_payment(start: Date) -> Date {
    let (year, month) = if start.month() == Month::December {
        (start.year() + 1, Month::January)
    } else {
        (start.year(), start.month().next())
    };
    Date::from_calendar_date(year, month, PENSION_PAYMENT_DAY).expect("the 9th exists")
}

fn to_v1(d: Date) -> v1::Date {
    v1::Date { year: d.year() as u32, month: u8::from(d.month()).into(), day: d.day().into() }
}

/// 1 to 3 stays in the 12 months before `as_of`, oldest first, of plausible modes and lengths.
fn hospital_stays(rng: &mut impl Rng, as_of: Date) -> Vec<HospitalStay> {
    let count = match rng.gen_range(0..100) {
        0..65 => 1,
        65..90 => 2,
        _ => 3,
    };
    let mut stays: Vec<(Date, u32, TreatmentMode)> = (0..count)
        .map(|_| {
            let admission = as_of - Duration::days(rng.gen_range(1..=365));
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
    fn the_pyramid_covers_every_age() {
        assert_eq!(pyramid_weight(55), 860);
        assert_eq!(pyramid_weight(57), 852);
        assert_eq!(pyramid_weight(100), 15);
        assert!((MIN_AGE..=MAX_AGE).all(|a| pyramid_weight(a) > 0));
    }

    #[test]
    fn pensions_start_on_the_first_and_are_paid_on_the_ninth() {
        let start = Date::from_calendar_date(2020, Month::December, 1).unwrap();
        assert_eq!(first_payment(start), Date::from_calendar_date(2021, Month::January, 9).unwrap());
    }

    #[test]
    fn nir_bodies_have_thirteen_characters() {
        let slot = Slot { class: PlaceClass::Mainland, month: 3, place: 7, order: 42 };
        assert_eq!(first_thirteen(2, 1957, &slot, "2A"), "257032A007042");
        let slot = Slot { class: PlaceClass::Overseas(4), month: 55, place: 11, order: 999 };
        assert_eq!(first_thirteen(1, 1960, &slot, "ignored"), "1605597411999");
    }
}
