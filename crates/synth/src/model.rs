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

use chrono::NaiveDate;
use passerelle_protocol::catalogue::{self, body};
use passerelle_protocol::nir;
use passerelle_protocol::v1::{Category, CategoryValues, FamilySituation, Sex};
use passerelle_protocol::value::Value;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::facts;
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
    as_of: NaiveDate,
    age_cumulative: Vec<u32>,
    slots: SlotAllocator,
    /// The day every person must count as 55 on ([`Model::as_of_day`]); `None`: ages by year.
    aged_55_on: Option<NaiveDate>,
}

impl Model {
    pub fn new(reference_year: i32, rng: &mut impl Rng) -> Self {
        let mut age_cumulative = Vec::with_capacity((MAX_AGE - MIN_AGE + 1) as usize);
        let mut total = 0;
        for age in MIN_AGE..=MAX_AGE {
            total += pyramid_weight(age);
            age_cumulative.push(total);
        }
        let as_of = NaiveDate::from_ymd_opt(reference_year, 1, 1).expect("a checked reference year");
        Model { reference_year, as_of, age_cumulative, slots: SlotAllocator::new(rng), aged_55_on: None }
    }

    /// A model as of a given day of the reference year (the day a selection is submitted): the
    /// extracts are as of that day (hospital stays of the twelve months before it), and every
    /// person counts as 55 on it by the requester's rule (to the NIR's birth month, December when
    /// it gives none: `passerelle_protocol::age`) — one who would not is born a year earlier.
    pub fn as_of_day(reference_year: i32, as_of: NaiveDate, rng: &mut impl Rng) -> Self {
        Model { as_of, aged_55_on: Some(as_of), ..Model::new(reference_year, rng) }
    }

    /// The date the extracts are as of.
    pub fn as_of(&self) -> NaiveDate {
        self.as_of
    }

    pub fn person(&mut self, rng: &mut impl Rng, residences: &Residences) -> Result<Person, SynthError> {
        // Who: age, sex, birth.
        let r = rng.gen_range(0..*self.age_cumulative.last().expect("ages"));
        let mut age = MIN_AGE + self.age_cumulative.partition_point(|&c| c <= r) as i32;
        let mut birth_year = self.reference_year - age;
        let sex = if rng.gen_bool(female_share(age)) { Sex::Female } else { Sex::Male };

        // Where they live, and the NIR.
        let residence = residences.sample(rng);
        let home = residences.communes[residence].birth_place;
        let provisional = rng.gen_bool(PROVISIONAL_NIR);
        let (mut nir, mut birth_month) = self.draw_nir(rng, sex, birth_year, provisional, home)?;
        if let Some(day) = self.aged_55_on {
            let nir_month = nir::Nir::parse(&nir).ok().and_then(|n| n.birth_month());
            if !passerelle_protocol::age::is_aged_55_on(birth_year as u32, nir_month, day) {
                age += 1;
                birth_year -= 1;
                (nir, birth_month) = self.draw_nir(rng, sex, birth_year, provisional, home)?;
            }
        }
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
        let facts = facts::draw(rng, self.as_of, age, sex, birth_year, birth_month);
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
    fn nir_bodies_have_thirteen_characters() {
        let slot = Slot { class: PlaceClass::Mainland, month: 3, place: 7, order: 42 };
        assert_eq!(first_thirteen(2, 1957, &slot, "2A"), "257032A007042");
        let slot = Slot { class: PlaceClass::Overseas(4), month: 55, place: 11, order: 999 };
        assert_eq!(first_thirteen(1, 1960, &slot, "ignored"), "1605597411999");
    }
}
