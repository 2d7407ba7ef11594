//! The additive relations of one block of cells — one measure in one month: each category
//! group sums to `total`, a body's offices to the body, the bodies to the nation. No relation
//! crosses months (there is no period total) or measures, so a block is suppressed and audited
//! on its own. A relation is `parent = Σ children`; the block's cells are numbered so the
//! algorithms work on vectors.

use std::collections::BTreeMap;

use crate::measure::{Measure, TOTAL};
use crate::table::{CellKey, Level, Month, Structure};

/// One relation: `parent − Σ children = 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relation {
    pub parent: usize,
    pub children: Vec<usize>,
}

impl Relation {
    /// Every member, the parent first.
    pub fn members(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.parent).chain(self.children.iter().copied())
    }
}

/// A measure's cells in one month, numbered (unit × category, in the table's order), and their
/// relations.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub keys: Vec<CellKey>,
    pub relations: Vec<Relation>,
    /// For each cell, the relations it is a member of.
    pub of_cell: Vec<Vec<usize>>,
    /// The number of categories: cells `u·categories .. (u+1)·categories` are unit `u`'s.
    pub categories: usize,
}

impl Block {
    pub fn new(structure: &Structure, measure: Measure, month: Month) -> Block {
        let units = structure.units();
        let categories = measure.categories();
        let nc = categories.len();
        let index = |u: usize, c: usize| u * nc + c;
        let mut keys = Vec::with_capacity(units.len() * nc);
        for (level, unit) in &units {
            for category in &categories {
                keys.push(CellKey { level: *level, unit: unit.clone(), month, measure, category });
            }
        }
        let unit_index: BTreeMap<(Level, &str), usize> =
            units.iter().enumerate().map(|(i, (l, u))| ((*l, u.as_str()), i)).collect();
        let cat = |name: &str| categories.iter().position(|c| *c == name).expect("a category of the measure");
        let total = cat(TOTAL);
        let mut relations = Vec::new();
        for u in 0..units.len() {
            for group in measure.groups() {
                let children = group.iter().map(|c| index(u, cat(c))).collect();
                relations.push(Relation { parent: index(u, total), children });
            }
        }
        let mut parents: Vec<(usize, Vec<usize>)> = Vec::new();
        for body in &structure.bodies {
            let offices: Vec<usize> = structure
                .offices
                .iter()
                .filter(|(_, b)| *b == body)
                .map(|(o, _)| unit_index[&(Level::Office, o.as_str())])
                .collect();
            if !offices.is_empty() {
                parents.push((unit_index[&(Level::Body, body.as_str())], offices));
            }
        }
        if let Some(&national) = unit_index.get(&(Level::National, crate::table::NATIONAL)) {
            let bodies = structure.bodies.iter().map(|b| unit_index[&(Level::Body, b.as_str())]).collect();
            parents.push((national, bodies));
        }
        for (parent, children) in &parents {
            for c in 0..nc {
                let members = children.iter().map(|&u| index(u, c)).collect();
                relations.push(Relation { parent: index(*parent, c), children: members });
            }
        }
        let mut of_cell = vec![Vec::new(); keys.len()];
        for (r, relation) in relations.iter().enumerate() {
            for m in relation.members() {
                of_cell[m].push(r);
            }
        }
        Block { keys, relations, of_cell, categories: nc }
    }

    /// Whether each cell is of a unit with something to count in the block: a unit whose every
    /// cell is an exact zero (an office with nobody that month for the measure, however many
    /// offices the table lists) is never chosen as a complement, so the block's suppression
    /// depends only on the units that count someone.
    pub fn active(&self, values: &[crate::table::Value]) -> Vec<bool> {
        values
            .chunks(self.categories)
            .flat_map(|unit| {
                let active = unit.iter().any(|v| *v != crate::table::Value::Exact(0));
                std::iter::repeat_n(active, unit.len())
            })
            .collect()
    }
}
