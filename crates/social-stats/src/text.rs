//! The table as plain text: one table per measure, a row per unit and month, a column per
//! category; `s` for a hidden cell, `≥N` for a lower bound, and the legend that says why.

use crate::measure::Measure;
use crate::table::{CellKey, Level, Table, Value};

/// The legend printed under the tables.
pub const LEGEND: &str = "\
s  = suppressed: unknown, either because it counts 1 to 10 persons or because it would let a
     suppressed cell be recomputed from the totals (which of the two is not said).
≥N = at least N persons: a national sum some of whose parts are suppressed in their body.
all = the period's total, the sum of its months (a person in two months counts in both).";

/// The table as text.
pub fn render(table: &Table) -> String {
    let s = table.structure();
    let mut out = format!("Steering statistics, {} to {} (persons)\n", s.from, s.to);
    for measure in Measure::ALL {
        let categories = measure.categories();
        let widths: Vec<usize> = categories.iter().map(|c| c.chars().count().max(6)).collect();
        out.push_str(&format!("\n{measure}\n{:<40}", "unit / month"));
        for (c, w) in categories.iter().zip(&widths) {
            out.push_str(&format!(" {c:>w$}"));
        }
        out.push('\n');
        for (level, unit) in s.units() {
            for slot in s.slots() {
                let label = match level {
                    Level::Office => format!("office {unit}"),
                    Level::Body => format!("body {unit}"),
                    Level::National => unit.clone(),
                };
                out.push_str(&format!("{:<40}", format!("{label} {slot}")));
                for (category, w) in categories.iter().zip(&widths) {
                    let key = CellKey { level, unit: unit.clone(), slot, measure, category };
                    let shown = match table.get(&key) {
                        Some(Value::Exact(n)) => n.to_string(),
                        Some(Value::AtLeast(n)) => format!("≥{n}"),
                        Some(Value::Hidden) | None => "s".to_owned(),
                    };
                    out.push_str(&format!(" {shown:>w$}"));
                }
                out.push('\n');
            }
        }
    }
    out.push('\n');
    out.push_str(LEGEND);
    out.push('\n');
    out
}
