//! Disclosure control of a table, measure by measure (relations never cross measures):
//!
//! 1. **primary**: every count from 1 to 10 is hidden, and every lower bound under 11;
//! 2. **complementary**, cheap pass: while a relation has exactly one unknown member and that
//!    member is hidden (its value would be the relation's difference), the smallest visible
//!    non-zero member of that relation is hidden too (ties: the first cell in table order; a
//!    zero only when no member is non-zero) — so every relation has 0 or ≥ 2 unknown members;
//! 3. **complementary**, exact: the audit ([`crate::audit`]) finds the hidden cells a chain of
//!    relations still gives; for each, the smallest visible member of the relations it is in
//!    is hidden; back to 2 until the audit finds none.
//!
//! Each round hides at least one more cell, so it ends; what it hides depends only on the
//! table, so the same counts always publish the same table.

use std::collections::BTreeSet;

use crate::audit::disclosed;
use crate::measure::Measure;
use crate::relations::Block;
use crate::table::{Table, Value, THRESHOLD};

/// Suppresses `table` in place (its exact cells are the true counts, or a merge's).
pub(crate) fn protect(table: &mut Table) {
    for measure in Measure::ALL {
        let block = Block::new(&table.structure, measure);
        let mut values: Vec<Value> = block.keys.iter().map(|k| table.cells[k]).collect();
        protect_block(&block, &mut values);
        for (key, value) in block.keys.iter().zip(values) {
            table.cells.insert(key.clone(), value);
        }
    }
}

fn protect_block(block: &Block, values: &mut [Value]) {
    for v in values.iter_mut() {
        match *v {
            Value::Exact(n) if (1..THRESHOLD).contains(&n) => *v = Value::Hidden,
            Value::AtLeast(n) if n < THRESHOLD => *v = Value::Hidden,
            _ => {}
        }
    }
    loop {
        lone_unknowns(block, values);
        let found = disclosed(block, values);
        if found.is_empty() {
            return;
        }
        let near = |cell: usize| block.of_cell[cell].iter().flat_map(|&r| block.relations[r].members());
        let mut more: BTreeSet<usize> = found.iter().filter_map(|&cell| smallest_visible(values, near(cell))).collect();
        if more.is_empty() {
            // Every member of their relations is unknown already: the chain runs through other
            // relations; hide the smallest visible cell next to any unknown one.
            let unknown = (0..values.len()).filter(|&i| !values[i].is_exact());
            more.extend(smallest_visible(values, unknown.flat_map(near)));
        }
        if more.is_empty() {
            return;
        }
        for cell in more {
            values[cell] = Value::Hidden;
        }
    }
}

/// Step 2: no relation left with one unknown member that is hidden.
fn lone_unknowns(block: &Block, values: &mut [Value]) {
    let mut changed = true;
    while changed {
        changed = false;
        for relation in &block.relations {
            let mut unknown = relation.members().filter(|&m| !values[m].is_exact());
            let (Some(only), None) = (unknown.next(), unknown.next()) else { continue };
            if values[only] != Value::Hidden {
                continue;
            }
            if let Some(cell) = smallest_visible(values, relation.members()) {
                values[cell] = Value::Hidden;
                changed = true;
            }
        }
    }
}

/// The visible member with the smallest non-zero count (a zero only when there is no other),
/// the first in table order among equals.
fn smallest_visible(values: &[Value], members: impl Iterator<Item = usize>) -> Option<usize> {
    members
        .filter_map(|m| match values[m] {
            Value::Exact(n) => Some(((n == 0, n), m)),
            _ => None,
        })
        .min()
        .map(|(_, m)| m)
}
