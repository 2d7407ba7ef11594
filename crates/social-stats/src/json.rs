//! The table's JSON, `passerelle.social-service-stats/1` (docs/JSON.md): what `stats --export`
//! writes and `stats merge` reads. Reading checks everything [`Table::new`] checks: a file
//! that shows a count from 1 to 10, or lacks a cell, is refused by field.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::measure::Measure;
use crate::table::{invalid, CellKey, Level, Month, Slot, Structure, Table, TableError, Value};

/// The export's format.
pub const FORMAT: &str = "passerelle.social-service-stats/1";

#[derive(Debug, Serialize, Deserialize)]
struct TableJson {
    format: String,
    from: String,
    to: String,
    national: bool,
    bodies: Vec<String>,
    offices: Vec<OfficeJson>,
    cells: Vec<CellJson>,
}

#[derive(Debug, Serialize, Deserialize)]
struct OfficeJson {
    office: String,
    body: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct CellJson {
    level: Level,
    unit: String,
    month: String,
    measure: Measure,
    category: String,
    /// `exact`, `at-least` or `hidden`.
    shown: Shown,
    /// Absent when hidden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    persons: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Shown {
    Exact,
    AtLeast,
    Hidden,
}

impl From<&Table> for TableJson {
    fn from(table: &Table) -> TableJson {
        let s = table.structure();
        TableJson {
            format: FORMAT.to_owned(),
            from: s.from.to_string(),
            to: s.to.to_string(),
            national: s.national,
            bodies: s.bodies.iter().cloned().collect(),
            offices: s.offices.iter().map(|(o, b)| OfficeJson { office: o.clone(), body: b.clone() }).collect(),
            cells: table
                .cells()
                .iter()
                .map(|(k, v)| {
                    let (shown, persons) = match *v {
                        Value::Exact(n) => (Shown::Exact, Some(n)),
                        Value::AtLeast(n) => (Shown::AtLeast, Some(n)),
                        Value::Hidden => (Shown::Hidden, None),
                    };
                    CellJson {
                        level: k.level,
                        unit: k.unit.clone(),
                        month: k.slot.to_string(),
                        measure: k.measure,
                        category: k.category.to_owned(),
                        shown,
                        persons,
                    }
                })
                .collect(),
        }
    }
}

impl TryFrom<TableJson> for Table {
    type Error = TableError;

    fn try_from(json: TableJson) -> Result<Table, TableError> {
        if json.format != FORMAT {
            return Err(invalid("format", format!("expected `{FORMAT}`")));
        }
        let month = |field: &str, text: &str| Month::parse(text).ok_or_else(|| invalid(field, "a month YYYY-MM"));
        let structure = Structure {
            from: month("from", &json.from)?,
            to: month("to", &json.to)?,
            offices: json.offices.into_iter().map(|o| (o.office, o.body)).collect(),
            bodies: json.bodies.into_iter().collect::<BTreeSet<_>>(),
            national: json.national,
        };
        let mut cells = BTreeMap::new();
        for (n, c) in json.cells.into_iter().enumerate() {
            let field = |name: &str| format!("cells[{n}].{name}");
            let slot = Slot::parse(&c.month).ok_or_else(|| invalid(field("month"), "a month YYYY-MM or `all`"))?;
            let category = c
                .measure
                .category(&c.category)
                .ok_or_else(|| invalid(field("category"), format!("not a category of {}", c.measure)))?;
            let value = match (c.shown, c.persons) {
                (Shown::Exact, Some(p)) => Value::Exact(p),
                (Shown::AtLeast, Some(p)) => Value::AtLeast(p),
                (Shown::Hidden, None) => Value::Hidden,
                _ => return Err(invalid(field("persons"), "a number for `exact` and `at-least`, none for `hidden`")),
            };
            let key = CellKey { level: c.level, unit: c.unit, slot, measure: c.measure, category };
            if cells.insert(key, value).is_some() {
                return Err(invalid(field("unit"), "each cell appears once"));
            }
        }
        Table::new(structure, cells)
    }
}

impl Serialize for Table {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        TableJson::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Table {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Table, D::Error> {
        let json = TableJson::deserialize(deserializer)?;
        Table::try_from(json).map_err(serde::de::Error::custom)
    }
}
