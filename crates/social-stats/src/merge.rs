//! National figures: several bodies' published tables merged. A national cell is the sum of
//! the bodies' cells; when one of them is hidden (or a lower bound), the national value is
//! only a lower bound — the sum of the known parts — shown as "at least N" from 11, hidden
//! below. A cell hidden in its body's table stays unknown. The suppression is then applied
//! again on the merged table (the lower bounds count as unknown in the relations).

use std::collections::{BTreeMap, BTreeSet};

use crate::measure::Measure;
use crate::table::{invalid, CellKey, Level, Structure, Table, TableError, Value, NATIONAL, THRESHOLD};

/// Merges bodies' tables (of the same period, distinct bodies and offices, none national) into
/// one with the national level, suppressed again.
pub fn merge(tables: &[Table]) -> Result<Table, TableError> {
    let first = tables.first().ok_or_else(|| invalid("tables", "give at least one body's table"))?.structure();
    let mut structure =
        Structure { from: first.from, to: first.to, offices: BTreeMap::new(), bodies: BTreeSet::new(), national: true };
    let mut cells = BTreeMap::new();
    for (n, table) in tables.iter().enumerate() {
        let s = table.structure();
        if (s.from, s.to) != (first.from, first.to) {
            return Err(invalid(format!("tables[{n}].from"), "every table covers the same period (from, to)"));
        }
        if s.national {
            return Err(invalid(format!("tables[{n}].national"), "merge the bodies' own tables, not a merged one"));
        }
        for body in &s.bodies {
            if !structure.bodies.insert(body.clone()) {
                return Err(invalid(format!("tables[{n}].bodies.{body}"), "a body appears in one table only"));
            }
        }
        for (office, body) in &s.offices {
            if structure.offices.insert(office.clone(), body.clone()).is_some() || structure.bodies.contains(office) {
                return Err(invalid(format!("tables[{n}].offices.{office}"), "an office code appears once"));
            }
        }
        cells.extend(table.cells().iter().map(|(k, v)| (k.clone(), *v)));
    }
    if structure.offices.contains_key(NATIONAL) || structure.bodies.contains(NATIONAL) {
        return Err(invalid("units", "`national` is not an office or a body code"));
    }
    for slot in structure.slots() {
        for measure in Measure::ALL {
            for category in measure.categories() {
                let key = |level, unit: &str| CellKey { level, unit: unit.to_owned(), slot, measure, category };
                let (mut known, mut exact) = (0u64, true);
                for body in &structure.bodies {
                    match cells[&key(Level::Body, body)] {
                        Value::Exact(n) => known += n,
                        Value::AtLeast(n) => {
                            known += n;
                            exact = false;
                        }
                        Value::Hidden => exact = false,
                    }
                }
                let national = match (exact, known) {
                    (true, n) => Value::Exact(n),
                    (false, n) if n >= THRESHOLD => Value::AtLeast(n),
                    (false, _) => Value::Hidden,
                };
                cells.insert(key(Level::National, NATIONAL), national);
            }
        }
    }
    structure.check()?;
    // A national sum may be from 1 to 10 before the suppression: the table is checked after it.
    let mut table = Table { structure, cells };
    crate::suppress::protect(&mut table);
    Ok(table)
}
