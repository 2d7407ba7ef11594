//! The table: its cells (level, unit, month, measure, category), what a published cell shows,
//! and the counts it is built from ([`Tabulation`], never published).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::measure::{Measure, TOTAL};

/// Below this many persons a cell is hidden (primary suppression): 1 to 10 persons.
pub const THRESHOLD: u64 = 11;

/// Why a table or a count is refused. Messages name the field and the rule, never a count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("{field}: {rule}")]
    Invalid { field: String, rule: String },
}

pub(crate) fn invalid(field: impl Into<String>, rule: impl Into<String>) -> TableError {
    TableError::Invalid { field: field.into(), rule: rule.into() }
}

/// The level of a unit: an office, a body (the sum of its offices), or the nation (the sum of
/// the bodies, in a merged table only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Office,
    Body,
    National,
}

/// The unit code of the national level.
pub const NATIONAL: &str = "national";

/// A calendar month, `YYYY-MM` (the table holds months, never dates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: u16,
    pub month: u8,
}

impl Month {
    /// `YYYY-MM`, years 1900 to 9999.
    pub fn parse(text: &str) -> Option<Month> {
        let (y, m) = text.split_once('-')?;
        if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (year, month): (u16, u8) = (y.parse().ok()?, m.parse().ok()?);
        ((1900..=9999).contains(&year) && (1..=12).contains(&month)).then_some(Month { year, month })
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month { year: self.year + 1, month: 1 }
        } else {
            Month { year: self.year, month: self.month + 1 }
        }
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month { year: self.year - 1, month: 12 }
        } else {
            Month { year: self.year, month: self.month - 1 }
        }
    }

    /// The months from `self` to `to`, both included.
    pub fn through(self, to: Month) -> Vec<Month> {
        let mut months = Vec::new();
        let mut m = self;
        while m <= to {
            months.push(m);
            m = m.next();
        }
        months
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// A month of the period, or `all`: the period's total (the sum of its months).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    Month(Month),
    All,
}

impl Slot {
    pub fn parse(text: &str) -> Option<Slot> {
        if text == "all" {
            Some(Slot::All)
        } else {
            Month::parse(text).map(Slot::Month)
        }
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Slot::Month(m) => m.fmt(f),
            Slot::All => f.write_str("all"),
        }
    }
}

/// Where a cell is: level, unit (an office code, a body code, or `national`), month or
/// `all`, measure, category (or `total`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CellKey {
    pub level: Level,
    pub unit: String,
    pub slot: Slot,
    pub measure: Measure,
    pub category: &'static str,
}

impl std::fmt::Display for CellKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.level {
            Level::Office => "office",
            Level::Body => "body",
            Level::National => "national",
        };
        write!(f, "{level} {} {} {} {}", self.unit, self.slot, self.measure, self.category)
    }
}

/// What a published cell shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Value {
    /// The number of persons (0, or 11 and more).
    Exact(u64),
    /// At least this many persons (11 and more): a merged cell some of whose parts are hidden
    /// in their body's table. It is not exact: the relations treat it as unknown.
    AtLeast(u64),
    /// Unknown: hidden, without saying whether for its own count or to protect another cell.
    Hidden,
}

impl Value {
    /// Whether the value is exactly known from the table.
    pub fn is_exact(self) -> bool {
        matches!(self, Value::Exact(_))
    }
}

/// The units of a table and its period: which offices belong to which body, whether the
/// national level is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Structure {
    pub from: Month,
    pub to: Month,
    /// Office → its body.
    pub offices: BTreeMap<String, String>,
    pub bodies: BTreeSet<String>,
    pub national: bool,
}

impl Structure {
    /// Checks the period and that every office's body is a body of the table.
    pub(crate) fn check(&self) -> Result<(), TableError> {
        if self.from > self.to {
            return Err(invalid("from", "the period's first month is after its last (`to`)"));
        }
        if let Some((office, _)) = self.offices.iter().find(|(_, body)| !self.bodies.contains(*body)) {
            return Err(invalid(format!("offices.{office}"), "its body is not among the table's bodies"));
        }
        if self.bodies.is_empty() {
            return Err(invalid("bodies", "a table has at least one body"));
        }
        Ok(())
    }

    /// The period's months then `all`.
    pub fn slots(&self) -> Vec<Slot> {
        let mut slots: Vec<Slot> = self.from.through(self.to).into_iter().map(Slot::Month).collect();
        slots.push(Slot::All);
        slots
    }

    /// The units, offices first (by code), then bodies, then the nation.
    pub fn units(&self) -> Vec<(Level, String)> {
        let mut units: Vec<(Level, String)> = self.offices.keys().map(|o| (Level::Office, o.clone())).collect();
        units.extend(self.bodies.iter().map(|b| (Level::Body, b.clone())));
        if self.national {
            units.push((Level::National, NATIONAL.to_owned()));
        }
        units
    }

    /// Every cell key of the table, in order.
    pub fn keys(&self) -> Vec<CellKey> {
        let mut keys = Vec::new();
        for (level, unit) in self.units() {
            for slot in self.slots() {
                for measure in Measure::ALL {
                    for category in measure.categories() {
                        keys.push(CellKey { level, unit: unit.clone(), slot, measure, category });
                    }
                }
            }
        }
        keys.sort();
        keys
    }
}

/// A published table: every cell of its structure, suppressed ([`crate::suppress`]). Built
/// by [`Tabulation::suppress`] or [`crate::merge`], or read from an export (which checks that
/// every cell is there and nothing else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub(crate) structure: Structure,
    pub(crate) cells: BTreeMap<CellKey, Value>,
}

impl Table {
    pub fn structure(&self) -> &Structure {
        &self.structure
    }

    pub fn cells(&self) -> &BTreeMap<CellKey, Value> {
        &self.cells
    }

    pub fn get(&self, key: &CellKey) -> Option<Value> {
        self.cells.get(key).copied()
    }

    /// A table from its structure and cells, checked: every cell of the structure and no
    /// other, no visible count from 1 to 10, no lower bound under 11. Not audited for
    /// recomputation ([`crate::audit`] does that).
    pub fn new(structure: Structure, cells: BTreeMap<CellKey, Value>) -> Result<Table, TableError> {
        structure.check()?;
        let keys = structure.keys();
        if keys.len() != cells.len() || !keys.iter().all(|k| cells.contains_key(k)) {
            let missing = keys.iter().find(|k| !cells.contains_key(*k));
            let field = match missing {
                Some(k) => format!("cells[{k}]"),
                None => "cells".to_owned(),
            };
            return Err(invalid(
                field,
                "the table's cells are exactly those of its units, months, measures and categories",
            ));
        }
        for (key, value) in &cells {
            match *value {
                Value::Exact(n) if (1..THRESHOLD).contains(&n) => {
                    return Err(invalid(format!("cells[{key}]"), "a count from 1 to 10 is never shown"))
                }
                Value::AtLeast(n) if n < THRESHOLD => {
                    return Err(invalid(format!("cells[{key}]"), "a lower bound is shown only from 11"))
                }
                _ => {}
            }
        }
        Ok(Table { structure, cells })
    }
}

/// One count of the anonymised data: persons of an office in a month, for a measure and a
/// category (never `total`: totals are sums).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub office: String,
    pub month: Month,
    pub measure: Measure,
    pub category: String,
    pub persons: u64,
}

/// A body's counts before suppression: exact, never published. [`Tabulation::suppress`] makes
/// the table.
#[derive(Debug, Clone)]
pub struct Tabulation {
    structure: Structure,
    base: BTreeMap<(String, Month, Measure, &'static str), u64>,
}

impl Tabulation {
    /// An empty tabulation of `body`'s `offices` over `from`..=`to`.
    pub fn new(
        body: &str,
        offices: impl IntoIterator<Item = String>,
        from: Month,
        to: Month,
    ) -> Result<Tabulation, TableError> {
        let offices: BTreeMap<String, String> = offices.into_iter().map(|o| (o, body.to_owned())).collect();
        if offices.is_empty() {
            return Err(invalid("offices", "a body's table has at least one office"));
        }
        if offices.contains_key(body) || body == NATIONAL || offices.contains_key(NATIONAL) {
            return Err(invalid("body", "an office, a body and `national` are distinct codes"));
        }
        let structure = Structure { from, to, offices, bodies: BTreeSet::from([body.to_owned()]), national: false };
        structure.check()?;
        Ok(Tabulation { structure, base: BTreeMap::new() })
    }

    /// Adds a count; a count outside the period is ignored (`false`), one of another office or
    /// of an unknown category refused.
    pub fn add(&mut self, count: &Count) -> Result<bool, TableError> {
        if !self.structure.offices.contains_key(&count.office) {
            return Err(invalid("office", "the count's office is not one of the table's offices"));
        }
        let category = count
            .measure
            .category(&count.category)
            .filter(|c| *c != TOTAL)
            .ok_or_else(|| invalid("category", format!("not a category of {} (totals are sums)", count.measure)))?;
        if count.month < self.structure.from || count.month > self.structure.to {
            return Ok(false);
        }
        *self.base.entry((count.office.clone(), count.month, count.measure, category)).or_default() += count.persons;
        Ok(true)
    }

    /// Every cell's exact count: the offices' categories as counted, then the totals (each
    /// group's sum; the groups of a measure must agree), the body (its offices' sum) and `all`
    /// (the months' sum).
    pub(crate) fn exact(&self) -> Result<BTreeMap<CellKey, u64>, TableError> {
        let s = &self.structure;
        let body = s.bodies.iter().next().cloned().unwrap_or_default();
        let mut cells: BTreeMap<CellKey, u64> = s.keys().into_iter().map(|k| (k, 0)).collect();
        for ((office, month, measure, category), persons) in &self.base {
            for (level, unit) in [(Level::Office, office.clone()), (Level::Body, body.clone())] {
                for slot in [Slot::Month(*month), Slot::All] {
                    let key = CellKey { level, unit: unit.clone(), slot, measure: *measure, category };
                    *cells.get_mut(&key).expect("every cell of the structure") += persons;
                }
            }
        }
        let units = s.units();
        for measure in Measure::ALL {
            for (level, unit) in &units {
                for slot in s.slots() {
                    let key = |category| CellKey { level: *level, unit: unit.clone(), slot, measure, category };
                    let sums: Vec<u64> =
                        measure.groups().iter().map(|g| g.iter().map(|c| cells[&key(c)]).sum()).collect();
                    if sums.windows(2).any(|w| w[0] != w[1]) {
                        return Err(invalid(
                            format!("counts.{measure}"),
                            "each breakdown of a measure counts every person once (age bands and sexes alike)",
                        ));
                    }
                    cells.insert(key(TOTAL), sums[0]);
                }
            }
        }
        Ok(cells)
    }

    /// The published table: every cell from 1 to 10 hidden, and enough others that none of
    /// them can be recomputed ([`crate::suppress`]).
    pub fn suppress(self) -> Result<Table, TableError> {
        let cells = self.exact()?.into_iter().map(|(k, n)| (k, Value::Exact(n))).collect();
        let mut table = Table { structure: self.structure, cells };
        crate::suppress::protect(&mut table);
        Ok(table)
    }
}
