//! The synthetic persons of a conformance run: who the partner's extract holds (written by
//! `--write-extract` in the responder's extract format, README "The extract"), who is solicited
//! and under which NIRs, and what the answer must be. Deterministic: the extract written one day
//! and the run of another agree, with no file passed between them. The NIRs are synthetic (a
//! made-up commune of Paris, order numbers from 801), every person born 1950–1961.

use std::fmt::Write as _;

use passerelle_protocol::catalogue::{self, ValueType};
use passerelle_protocol::nir;
use passerelle_protocol::v1::{self, Category, CategoryValues, FamilySituation, Sex, TreatmentMode};
use passerelle_protocol::value::{self, Value};

/// What a solicited person tests, and so what the answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// In the extract under the NIR solicited: FOUND, with the extract's values.
    Known,
    /// Not in the extract: NOT_FOUND.
    Unknown,
    /// Solicited under a new NIR, with the NIR the extract knows as a former NIR: FOUND.
    FormerInSolicitation,
    /// Solicited under a NIR the extract lists as the person's former NIR: FOUND.
    FormerInExtract,
    /// The solicited NIR is one person's, its former NIR another's: the first one's answer.
    CurrentFirst,
    /// The NIR matches, the sex given disagrees with the extract's: NOT_FOUND.
    SexMismatch,
    /// The NIR matches, the birth year given disagrees with the extract's: NOT_FOUND.
    YearMismatch,
}

/// One line of the extract.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractRow {
    pub nir: String,
    pub former_nirs: Vec<String>,
    pub sex: Sex,
    pub birth_year: u32,
    /// Every held category the extract gives a value for (an empty cell is unknown).
    pub values: CategoryValues,
}

/// One solicited person: as solicited (without its `person_ref`), and what the body must answer.
#[derive(Debug, Clone, PartialEq)]
pub struct TestPerson {
    pub case: Case,
    pub solicited: v1::SolicitedPerson,
    /// The extract row whose values the answer must give (`None`: NOT_FOUND).
    pub found: Option<usize>,
    /// For [`Case::CurrentFirst`], the row of the other person (the wrong answer).
    pub other: Option<usize>,
}

/// The extract and the solicited persons, for the categories the body holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    pub held: Vec<Category>,
    pub rows: Vec<ExtractRow>,
    pub persons: Vec<TestPerson>,
}

/// A synthetic NIR: sex, birth year and month, a made-up commune of Paris, an order number.
fn synthetic_nir(sex: Sex, year: u32, month: u32, order: u32) -> String {
    let digit = if sex == Sex::Female { 2 } else { 1 };
    let first13 = format!("{digit}{:02}{month:02}75956{order:03}", year % 100);
    nir::with_key(&first13).expect("13 digits").as_str().to_owned()
}

/// A deterministic value of `category` for the row `row`; `None` (unknown) now and then.
fn value_of(category: Category, row: usize) -> Option<Value> {
    let n = category as usize;
    if (row + n) % 7 == 3 {
        return None;
    }
    let info = catalogue::info(category)?;
    let day = |d: usize| v1::Date { year: 2025, month: (d % 12) as u32 + 1, day: (d % 28) as u32 + 1 };
    Some(match info.value_type {
        ValueType::Bool => Value::Bool((row * 3 + n).is_multiple_of(2)),
        ValueType::Count => Value::Count(60 + (row * 7 + n) as u32 % 100),
        ValueType::Date => Value::Date(day(row + n)),
        ValueType::Amount => Value::Amount(1_200_000 + (row * 1_234 + n) as i64),
        ValueType::FamilySituation => {
            Value::FamilySituation(FamilySituation::try_from((row % 7) as i32 + 1).unwrap_or(FamilySituation::Single))
        }
        ValueType::HospitalStays if row % 4 == 1 => Value::HospitalStays(Vec::new()),
        ValueType::HospitalStays => Value::HospitalStays(vec![v1::HospitalStay {
            admission: Some(day(row)),
            length_days: (row % 9) as u32 + 1,
            mode: TreatmentMode::Full as i32,
        }]),
    })
}

impl Population {
    /// The population for a body holding `held`.
    pub fn new(held: &[Category]) -> Population {
        let mut held = held.to_vec();
        held.sort_by_key(|c| *c as i32);
        held.dedup();
        let mut rows: Vec<ExtractRow> = Vec::new();
        let mut persons = Vec::new();
        let mut order = 800;
        let mut next_nir = |sex: Sex, year: u32| {
            order += 1;
            synthetic_nir(sex, year, order % 12 + 1, order)
        };
        let row = |rows: &mut Vec<ExtractRow>, nir: String, former_nirs: Vec<String>, sex: Sex, year: u32| {
            let index = rows.len();
            let mut values = CategoryValues::default();
            for &category in &held {
                if let Some(v) = value_of(category, index) {
                    values.set(category, v).expect("a value of the category's type");
                }
            }
            rows.push(ExtractRow { nir, former_nirs, sex, birth_year: year, values });
            index
        };
        let solicited = |nir: &str, former_nirs: Vec<String>, sex: Sex, year: u32| v1::SolicitedPerson {
            person_ref: 0,
            nir: nir.to_owned(),
            former_nirs,
            sex: sex as i32,
            birth_year: year,
        };
        let sex_of = |i: usize| if i.is_multiple_of(2) { Sex::Female } else { Sex::Male };
        for i in 0..8 {
            let (sex, year) = (sex_of(i), 1950 + i as u32);
            let nir = next_nir(sex, year);
            let found = row(&mut rows, nir.clone(), Vec::new(), sex, year);
            let solicited = solicited(&nir, Vec::new(), sex, year);
            persons.push(TestPerson { case: Case::Known, solicited, found: Some(found), other: None });
        }
        for i in 0..3 {
            let (sex, year) = (sex_of(i), 1952 + i as u32);
            let solicited = solicited(&next_nir(sex, year), Vec::new(), sex, year);
            persons.push(TestPerson { case: Case::Unknown, solicited, found: None, other: None });
        }
        for i in 0..2 {
            let (sex, year) = (sex_of(i), 1955 + i as u32);
            let (old, new) = (next_nir(sex, year), next_nir(sex, year));
            let found = row(&mut rows, old.clone(), Vec::new(), sex, year);
            let solicited = solicited(&new, vec![old], sex, year);
            persons.push(TestPerson { case: Case::FormerInSolicitation, solicited, found: Some(found), other: None });
        }
        for i in 0..2 {
            let (sex, year) = (sex_of(i + 1), 1957 + i as u32);
            let (old, new) = (next_nir(sex, year), next_nir(sex, year));
            let found = row(&mut rows, new, vec![old.clone()], sex, year);
            let solicited = solicited(&old, Vec::new(), sex, year);
            persons.push(TestPerson { case: Case::FormerInExtract, solicited, found: Some(found), other: None });
        }
        {
            let (sex, year) = (Sex::Female, 1959);
            let (first, second) = (next_nir(sex, year), next_nir(sex, year));
            let found = row(&mut rows, first.clone(), Vec::new(), sex, year);
            let other = row(&mut rows, second.clone(), Vec::new(), sex, year);
            let solicited = solicited(&first, vec![second], sex, year);
            persons.push(TestPerson { case: Case::CurrentFirst, solicited, found: Some(found), other: Some(other) });
        }
        {
            let (sex, year) = (Sex::Male, 1960);
            let nir = next_nir(sex, year);
            row(&mut rows, nir.clone(), Vec::new(), sex, year);
            let mismatch = solicited(&nir, Vec::new(), Sex::Female, year);
            persons.push(TestPerson { case: Case::SexMismatch, solicited: mismatch, found: None, other: None });
            let (sex, year) = (Sex::Female, 1961);
            let nir = next_nir(sex, year);
            row(&mut rows, nir.clone(), Vec::new(), sex, year);
            let mismatch = solicited(&nir, Vec::new(), sex, year + 1);
            persons.push(TestPerson { case: Case::YearMismatch, solicited: mismatch, found: None, other: None });
        }
        Population { held, rows, persons }
    }

    /// The extract as CSV (`nir,former_nirs,sex,birth_year`, then one column per held category by
    /// its code, values in the value syntax, an empty cell for unknown).
    pub fn extract_csv(&self) -> String {
        let mut out = String::from("nir,former_nirs,sex,birth_year");
        for c in &self.held {
            out.push(',');
            out.push_str(c.code());
        }
        out.push('\n');
        for r in &self.rows {
            let _ = write!(out, "{},{},{},{}", r.nir, r.former_nirs.join("|"), value::sex_code(r.sex), r.birth_year);
            for &c in &self.held {
                out.push(',');
                out.push_str(&r.values.get(c).map(|v| value::format(&v)).unwrap_or_default());
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extract_reads_back_and_every_nir_is_valid_and_distinct() {
        let held: Vec<Category> = catalogue::CATEGORIES.iter().map(|i| i.category).collect();
        let p = Population::new(&held);
        let csv = p.extract_csv();
        assert_eq!(csv.lines().count(), p.rows.len() + 1);
        let mut nirs: Vec<&str> =
            p.rows.iter().flat_map(|r| std::iter::once(&r.nir).chain(&r.former_nirs)).map(String::as_str).collect();
        nirs.extend(p.persons.iter().map(|t| t.solicited.nir.as_str()));
        for n in &nirs {
            nir::Nir::parse(n).unwrap_or_else(|e| panic!("{n}: {e}"));
        }
        let mut distinct = nirs.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let solicited_again =
            p.persons.iter().filter(|t| t.case != Case::Unknown && t.case != Case::FormerInSolicitation).count();
        assert_eq!(distinct.len(), nirs.len() - solicited_again, "each NIR names one person");
        for (row, line) in p.rows.iter().zip(csv.lines().skip(1)) {
            let cells: Vec<&str> = line.split(',').collect();
            for (c, cell) in p.held.iter().zip(&cells[4..]) {
                assert_eq!(value::parse_category(*c, cell).unwrap(), row.values.get(*c), "{}", c.code());
            }
        }
        assert_eq!(p, Population::new(&held), "deterministic");
        let current_first = p.persons.iter().find(|t| t.case == Case::CurrentFirst).unwrap();
        assert_ne!(p.rows[current_first.found.unwrap()].values, p.rows[current_first.other.unwrap()].values);
    }
}
