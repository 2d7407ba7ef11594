//! The steering statistics' own database, `data_dir/steering.db` (norm 43, B: statistics from
//! data **anonymised beforehand**): counts only — office, month, measure, category, persons —
//! and the months already anonymised. No NIR, no file id, no pseudonym, no free text, months
//! not dates. [`anonymise`] fills it from the live store once a month is closed; the offer
//! outcomes at the worklist are counted as they are recorded ([`Steering::count_outcome`]),
//! since a person who declines never enters the live store.
//!
//! **Architecture invariant:** nothing identifying enters `steering.db`; its tables have no
//! column that could hold a person.

pub mod anonymise;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::SystemTime;

use passerelle_protocol::calendar::LegalCalendar;
use passerelle_social_stats::{Count, Measure, Month};
use passerelle_sqlite::{params, Database, Migration};

use crate::store::StoreError;

/// The database's file in `data_dir`.
pub const DB_FILE: &str = "steering.db";

const MIGRATIONS: &[Migration] = &[Migration::sql("counts and months anonymised", SCHEMA_V1)];

const SCHEMA_V1: &str = "
CREATE TABLE counts (
    office    TEXT NOT NULL,
    month     TEXT NOT NULL,                 -- YYYY-MM, in the body's legal time zone
    measure   TEXT NOT NULL,                 -- passerelle_social_stats::Measure code
    category  TEXT NOT NULL,                 -- one of the measure's categories, never `total`
    persons   INTEGER NOT NULL,
    PRIMARY KEY (office, month, measure, category)
) WITHOUT ROWID;
CREATE INDEX counts_by_month ON counts (month);
-- The months whose counts were computed from the live store (then never again).
CREATE TABLE months (
    month          TEXT PRIMARY KEY,
    anonymised_at  INTEGER NOT NULL
) WITHOUT ROWID;
";

/// The counts of months being anonymised: (office, month, measure, category) → persons.
pub type Tally = BTreeMap<(String, Month, Measure, &'static str), u64>;

/// `steering.db`.
#[derive(Debug)]
pub struct Steering {
    db: Database,
}

/// The month of `at` in the legal time zone.
pub fn month_of(at: SystemTime, calendar: &LegalCalendar) -> Month {
    let (y, m, _) = day_of(at, calendar);
    Month { year: y as u16, month: m as u8 }
}

/// The day of `at` in the legal time zone, (year, month, day).
pub fn day_of(at: SystemTime, calendar: &LegalCalendar) -> (u32, u32, u32) {
    use chrono::Datelike;
    let d = chrono::DateTime::<chrono::Utc>::from(at).with_timezone(&calendar.zone()).date_naive();
    (d.year() as u32, d.month(), d.day())
}

fn month_text(text: &str) -> Result<Month, StoreError> {
    Month::parse(text).ok_or_else(|| StoreError::Corrupt("steering.db month".into()))
}

impl Steering {
    /// Opens (or creates, 0600) `data_dir/steering.db`.
    pub fn open(data_dir: &Path) -> Result<Steering, StoreError> {
        Ok(Steering { db: Database::open(&data_dir.join(DB_FILE), "steering", MIGRATIONS)? })
    }

    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// One more outcome of the offer (`accepted`, `declined`, `no-reply`) recorded by `office`
    /// in `month`: a counter, no link to the person.
    pub fn count_outcome(&self, office: &str, month: Month, outcome: &str) -> Result<(), StoreError> {
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO counts (office, month, measure, category, persons) VALUES (?1, ?2, ?3, ?4, 1) \
                 ON CONFLICT (office, month, measure, category) DO UPDATE SET persons = persons + 1",
                params![office, month.to_string(), Measure::OfferOutcomes.code(), outcome],
            )?;
            Ok(())
        })
    }

    /// The last month anonymised, if any.
    pub fn done_through(&self) -> Result<Option<Month>, StoreError> {
        let last: Option<String> =
            self.db.read(|tx| Ok::<_, StoreError>(tx.query_row("SELECT MAX(month) FROM months", [], |r| r.get(0))?))?;
        last.as_deref().map(month_text).transpose()
    }

    /// Writes the counts of `months` (every measure but the outcomes, counted as they come) and
    /// marks them anonymised, in one transaction.
    pub fn record_months(&self, months: &[Month], tally: &Tally, at: SystemTime) -> Result<(), StoreError> {
        self.db.write(|tx| {
            for ((office, month, measure, category), persons) in tally {
                tx.execute(
                    "INSERT INTO counts (office, month, measure, category, persons) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (office, month, measure, category) DO UPDATE SET persons = excluded.persons",
                    params![office, month.to_string(), measure.code(), category, *persons as i64],
                )?;
            }
            for month in months {
                tx.execute(
                    "INSERT OR IGNORE INTO months (month, anonymised_at) VALUES (?1, ?2)",
                    params![month.to_string(), crate::store::ms(at)],
                )?;
            }
            Ok(())
        })
    }

    /// The counts of the months `from` to `to`.
    pub fn counts(&self, from: Month, to: Month) -> Result<Vec<Count>, StoreError> {
        let rows = self.db.read(|tx| {
            tx.query_all(
                "SELECT office, month, measure, category, persons FROM counts WHERE month >= ?1 AND month <= ?2 \
                 ORDER BY office, month, measure, category",
                params![from.to_string(), to.to_string()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                },
            )
        })?;
        rows.into_iter()
            .map(|(office, month, measure, category, persons)| {
                Ok(Count {
                    office,
                    month: month_text(&month)?,
                    measure: Measure::parse(&measure)
                        .ok_or_else(|| StoreError::Corrupt("steering.db measure".into()))?,
                    category,
                    persons: persons.max(0) as u64,
                })
            })
            .collect()
    }

    /// The offices with counts.
    pub fn offices(&self) -> Result<BTreeSet<String>, StoreError> {
        let offices = self.db.read(|tx| tx.query_all("SELECT DISTINCT office FROM counts", [], |r| r.get(0)))?;
        Ok(offices.into_iter().collect())
    }
}
