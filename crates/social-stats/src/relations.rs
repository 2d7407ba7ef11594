//! The additive relations of a measure's block of cells: each category group sums to `total`,
//! a body's offices to the body, the bodies to the nation, the months to `all`. A relation is
//! `parent = Σ children`; the block's cells are numbered so the algorithms work on vectors.

use std::collections::BTreeMap;

use crate::measure::{Measure, TOTAL};
use crate::table::{CellKey, Level, Slot, Structure};

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

/// A measure's cells numbered (unit × slot × category, in the table's order) and its relations.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub keys: Vec<CellKey>,
    pub relations: Vec<Relation>,
    /// For each cell, the relations it is a member of.
    pub of_cell: Vec<Vec<usize>>,
}

impl Block {
    pub fn new(structure: &Structure, measure: Measure) -> Block {
        let units = structure.units();
        let slots = structure.slots();
        let categories = measure.categories();
        let (ns, nc) = (slots.len(), categories.len());
        let index = |u: usize, s: usize, c: usize| (u * ns + s) * nc + c;
        let mut keys = Vec::with_capacity(units.len() * ns * nc);
        for (level, unit) in &units {
            for slot in &slots {
                for category in &categories {
                    keys.push(CellKey { level: *level, unit: unit.clone(), slot: *slot, measure, category });
                }
            }
        }
        let unit_index: BTreeMap<(Level, &str), usize> =
            units.iter().enumerate().map(|(i, (l, u))| ((*l, u.as_str()), i)).collect();
        let cat = |name: &str| categories.iter().position(|c| *c == name).expect("a category of the measure");
        let total = cat(TOTAL);
        let all = slots.iter().position(|s| *s == Slot::All).expect("the `all` slot");
        let mut relations = Vec::new();
        for u in 0..units.len() {
            for s in 0..ns {
                for group in measure.groups() {
                    let children = group.iter().map(|c| index(u, s, cat(c))).collect();
                    relations.push(Relation { parent: index(u, s, total), children });
                }
            }
            for c in 0..nc {
                let children = (0..ns).filter(|&s| s != all).map(|s| index(u, s, c)).collect();
                relations.push(Relation { parent: index(u, all, c), children });
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
            for s in 0..ns {
                for c in 0..nc {
                    let members = children.iter().map(|&u| index(u, s, c)).collect();
                    relations.push(Relation { parent: index(*parent, s, c), children: members });
                }
            }
        }
        let mut of_cell = vec![Vec::new(); keys.len()];
        for (r, relation) in relations.iter().enumerate() {
            for m in relation.members() {
                of_cell[m].push(r);
            }
        }
        Block { keys, relations, of_cell }
    }
}
