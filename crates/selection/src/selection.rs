//! The requester's selection file (decree art. 3, first step): the persons it selected, with
//! their identification data and the risk factors it already knows.
//!
//! Columns: `nir`, `family_name`, `given_names`, `sex`, `birth_year`, `commune_code` (required,
//! non-empty); `usage_name`, `former_nirs`, `postal_address`, `email`, `phone` (optional); and one
//! column per category the requester knows, named by its code. A record is rejected for a bad
//! NIR or former NIR, an age under 55 on the reference date (to the NIR's birth month, see
//! [`passerelle_protocol::age`]), a commune that is unknown or that no observatory is competent
//! for, a value of the wrong type, a known risk factor outside the requester's branch (art. 3),
//! a `hospital_stays_12m` stay admitted more than twelve months before the reference date, a
//! missing required value, a NIR already seen on an earlier valid record, the wrong number of
//! fields, or undecodable bytes.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use passerelle_protocol::age;
use passerelle_protocol::catalogue;
use passerelle_protocol::commune::CommuneTable;
use passerelle_protocol::nir::Nir;
use passerelle_protocol::territory::{Territories, TerritoryError};
use passerelle_protocol::v1::{Category, CategoryValues, Sex};

use crate::fields;
use crate::header::{IdentityColumn, Schema};
use crate::problem::{Problem, Reason};
use crate::reader::{CheckedReader, Record, RecordRules};

/// The columns of a selection file: the required ones come from the catalogue's
/// `required_in_selection` flags (a unit test keeps the two in step).
pub static SELECTION_SCHEMA: Schema = Schema {
    file: "a selection file",
    required: &[
        IdentityColumn::Nir,
        IdentityColumn::FamilyName,
        IdentityColumn::GivenNames,
        IdentityColumn::Sex,
        IdentityColumn::BirthYear,
        IdentityColumn::CommuneCode,
    ],
    optional: &[
        IdentityColumn::FormerNirs,
        IdentityColumn::UsageName,
        IdentityColumn::PostalAddress,
        IdentityColumn::Email,
        IdentityColumn::Phone,
    ],
};

/// A streaming, checking reader of a selection file: yields each record's verdict, a
/// [`Person`] when valid.
pub type SelectionReader<'a, R> = CheckedReader<R, SelectionRules<'a>>;

/// What a selection is checked against.
#[derive(Debug, Clone, Copy)]
pub struct SelectionRules<'a> {
    /// The day ages are computed on, and the end of the twelve months `hospital_stays_12m` may
    /// cover: the submission date (today in the body's legal time zone) for `requester submit`
    /// and `requester check`, 31 December of the year for `requester check --year`. A person
    /// counts as 55 from the last day of their NIR's birth month in their birth year + 55
    /// (December when the NIR gives no month): see [`passerelle_protocol::age`].
    pub reference_date: NaiveDate,
    /// The official commune list the residence commune must be in.
    pub communes: &'a CommuneTable,
    /// Which observatory is competent for each département.
    pub territories: &'a Territories,
    /// The requester's branch (`cnam`, `cnav`, `cnaf`, `msa`): the risk factors it sends as known
    /// must be categories its branch holds (decree art. 3, "dans son domaine de compétence"; the
    /// catalogue's default holders). `None`: not checked (`requester check` without `--body`).
    pub branch: Option<&'a str>,
}

impl<'a> SelectionRules<'a> {
    /// The rules at 31 December of `reference_year` (everyone born in `reference_year − 55`
    /// counts as 55 then, whatever their month), for any branch.
    pub fn new(reference_year: u32, communes: &'a CommuneTable, territories: &'a Territories) -> Self {
        let year = i32::try_from(reference_year).unwrap_or(i32::MAX);
        let reference_date = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(NaiveDate::MAX);
        Self::on(reference_date, communes, territories)
    }

    /// The rules on a given day (the submission date), for any branch.
    pub fn on(reference_date: NaiveDate, communes: &'a CommuneTable, territories: &'a Territories) -> Self {
        SelectionRules { reference_date, communes, territories, branch: None }
    }

    /// The same rules for a requester of `branch`: known risk factors of another branch are
    /// refused.
    pub fn for_branch(self, branch: &'a str) -> Self {
        SelectionRules { branch: Some(branch), ..self }
    }

    /// The year of the reference date.
    pub fn reference_year(&self) -> u32 {
        u32::try_from(self.reference_date.year()).unwrap_or(0)
    }
}

/// A valid person of a selection. Names and contact data are for the requester alone: they
/// never leave it (the request carries the NIRs, sex, birth year, commune and risk factors).
pub struct Person {
    /// The physical line on which the record starts, to point the user back at it.
    pub line: u64,
    pub nir: Nir,
    /// NIRs formerly attributed to the person; the bodies may still file them under one.
    pub former_nirs: Vec<Nir>,
    pub family_name: String,
    pub usage_name: Option<String>,
    pub given_names: String,
    pub sex: Sex,
    pub birth_year: u32,
    /// The INSEE code of the residence commune, as written (trimmed).
    pub commune_code: String,
    /// The code of the observatory competent for the residence commune (its département).
    pub observatory: String,
    pub postal_address: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The risk factors the requester already knows; absent categories are unknown.
    pub known: CategoryValues,
}

impl fmt::Debug for Person {
    /// Identifying data (NIRs, names, commune, contact) is never printed, so a `{:?}` in a log
    /// cannot leak it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Person")
            .field("line", &self.line)
            .field("sex", &self.sex)
            .field("birth_year", &self.birth_year)
            .field("observatory", &self.observatory)
            .field("former_nirs", &self.former_nirs.len())
            .finish_non_exhaustive()
    }
}

impl RecordRules for SelectionRules<'_> {
    type Row = Person;

    fn schema(&self) -> &'static Schema {
        &SELECTION_SCHEMA
    }

    fn check(&mut self, record: &Record<'_>, nir: Option<Nir>, problems: &mut Vec<Problem>) -> Option<Person> {
        let former_nirs = fields::former_nirs(record, problems);
        let family_name = fields::required(record, IdentityColumn::FamilyName, problems);
        let given_names = fields::required(record, IdentityColumn::GivenNames, problems);
        let sex = fields::required(record, IdentityColumn::Sex, problems).and_then(|t| fields::sex(t, problems));
        let reference_year = self.reference_year();
        let birth_year = fields::required(record, IdentityColumn::BirthYear, problems)
            .and_then(|t| fields::birth_year(t, Some(reference_year), problems));
        if let Some(year) = birth_year {
            // The month from the NIR (December when it gives none, or when the NIR is bad).
            let nir_month = nir.as_ref().and_then(Nir::birth_month);
            if !age::is_aged_55_on(year, nir_month, self.reference_date) {
                problems.push(Problem::new(
                    IdentityColumn::BirthYear.code(),
                    Reason::UnderAge {
                        age: age::age_on(year, nir_month, self.reference_date),
                        birth_year: year,
                        birth_month: age::birth_month_or_december(nir_month),
                        aged_55_from: age::aged_55_from(year, nir_month).unwrap_or(NaiveDate::MAX),
                        reference_date: self.reference_date,
                    },
                ));
            }
        }
        let commune_code = fields::required(record, IdentityColumn::CommuneCode, problems);
        let observatory = commune_code.and_then(|code| self.observatory(code, problems));
        let known = fields::categories(record, problems);
        self.check_known(&known, problems);
        if !problems.is_empty() {
            return None;
        }
        Some(Person {
            line: record.line,
            nir: nir?,
            former_nirs,
            family_name: family_name?.to_owned(),
            usage_name: fields::optional(record, IdentityColumn::UsageName).map(str::to_owned),
            given_names: given_names?.to_owned(),
            sex: sex?,
            birth_year: birth_year?,
            commune_code: commune_code?.to_owned(),
            observatory: observatory?,
            postal_address: fields::optional(record, IdentityColumn::PostalAddress).map(str::to_owned),
            email: fields::optional(record, IdentityColumn::Email).map(str::to_owned),
            phone: fields::optional(record, IdentityColumn::Phone).map(str::to_owned),
            known,
        })
    }
}

impl SelectionRules<'_> {
    /// The rules on the known risk factors beyond their syntax: each a category of the
    /// requester's branch, and no hospital stay older than the twelve months before the
    /// reference date.
    fn check_known(&self, known: &CategoryValues, problems: &mut Vec<Problem>) {
        for (category, _) in known.present() {
            let info = catalogue::info(category).expect("a category of the catalogue");
            if let Some(branch) = self.branch {
                if !info.default_holders.contains(&branch) {
                    problems.push(Problem::new(
                        info.code,
                        Reason::NotInBranch { category: info.code, branch: branch.to_owned() },
                    ));
                }
            }
        }
        if let Some(stays) = &known.hospital_stays_12m {
            let cut_off = age::twelve_months_before(self.reference_date);
            let stale = age::stays_before(stays, cut_off);
            if stale > 0 {
                problems.push(Problem::new(
                    catalogue::info(Category::HospitalStays12m).expect("in the catalogue").code,
                    Reason::StaleHospitalStays { stale, cut_off },
                ));
            }
        }
    }

    /// The observatory competent for a residence commune: the commune must be in the list, and
    /// its département (from the list, not the code's prefix) must belong to a territory.
    fn observatory(&self, code: &str, problems: &mut Vec<Problem>) -> Option<String> {
        match self.territories.observatory_of_commune(self.communes, code) {
            Ok(observatory) => Some(observatory.to_owned()),
            Err(error) => {
                let reason = match error {
                    TerritoryError::Commune(e) => Reason::Commune(e),
                    other => Reason::Territory(other),
                };
                problems.push(Problem::new(IdentityColumn::CommuneCode.code(), reason));
                None
            }
        }
    }
}
