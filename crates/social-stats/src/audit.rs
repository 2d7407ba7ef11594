//! The exact audit: which hidden cells the published table lets anyone recompute.
//!
//! A hidden cell is disclosed when its value follows from the table's additive relations and
//! its exact cells alone: when some combination of relations involves, among the unknown
//! cells (hidden, and lower bounds, which are not exact), that cell only. With the unknown
//! cells as columns and the relations as rows, that is when the cell's unit vector lies in the
//! row space. The rows are reduced (Gauss–Jordan over the rationals, as integer rows divided
//! by their gcd) per measure — relations never cross measures — and the cell is disclosed
//! exactly when its pivot row, fully reduced, has no other entry. This is every linear
//! differencing attack at once: a total minus the visible cells, across levels and months,
//! chained in any order.

use crate::measure::Measure;
use crate::relations::Block;
use crate::table::{CellKey, Table, Value, THRESHOLD};

/// What the audit of a published table found; [`Audit::is_safe`] when nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    /// Visible counts from 1 to 10.
    pub small: Vec<CellKey>,
    /// Lower bounds under 11.
    pub small_bounds: Vec<CellKey>,
    /// Hidden cells whose value the relations give.
    pub disclosed: Vec<CellKey>,
}

impl Audit {
    pub fn is_safe(&self) -> bool {
        self.small.is_empty() && self.small_bounds.is_empty() && self.disclosed.is_empty()
    }
}

/// Audits a published table (any table: one this crate made, or an export read back).
pub fn audit(table: &Table) -> Audit {
    let mut audit = Audit::default();
    for (key, value) in table.cells() {
        match *value {
            Value::Exact(n) if (1..THRESHOLD).contains(&n) => audit.small.push(key.clone()),
            Value::AtLeast(n) if n < THRESHOLD => audit.small_bounds.push(key.clone()),
            _ => {}
        }
    }
    for measure in Measure::ALL {
        let block = Block::new(table.structure(), measure);
        let values: Vec<Value> = block.keys.iter().map(|k| table.cells()[k]).collect();
        audit.disclosed.extend(disclosed(&block, &values).into_iter().map(|i| block.keys[i].clone()));
    }
    audit
}

/// The hidden cells of a block (indexes) whose value the relations give. When the reduction
/// outgrows 128-bit integers (never seen on tables of this shape), every hidden cell is
/// reported: the caller then hides more, which is safe.
pub(crate) fn disclosed(block: &Block, values: &[Value]) -> Vec<usize> {
    let unknown: Vec<usize> = (0..values.len()).filter(|&i| !values[i].is_exact()).collect();
    let mut column = vec![usize::MAX; values.len()];
    for (c, &i) in unknown.iter().enumerate() {
        column[i] = c;
    }
    let rows = block.relations.iter().filter_map(|r| {
        let mut row: Row = r
            .members()
            .enumerate()
            .filter(|(_, m)| column[*m] != usize::MAX)
            .map(|(n, m)| (column[m], if n == 0 { 1 } else { -1 }))
            .collect();
        row.sort_unstable();
        (!row.is_empty()).then_some(row)
    });
    let hidden = |c: usize| values[unknown[c]] == Value::Hidden;
    match determined(rows, unknown.len()) {
        Some(determined) => determined.into_iter().filter(|&c| hidden(c)).map(|c| unknown[c]).collect(),
        None => (0..unknown.len()).filter(|&c| hidden(c)).map(|c| unknown[c]).collect(),
    }
}

/// A sparse row: (column, coefficient), by column, no zero.
type Row = Vec<(usize, i128)>;

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

/// Divides by the gcd and makes the leading coefficient positive.
fn normalize(row: &mut Row) {
    let g = row.iter().fold(0, |g, &(_, v)| gcd(g, v));
    let sign = if row.first().is_some_and(|&(_, v)| v < 0) { -1 } else { 1 };
    if g > 1 || sign < 0 {
        for (_, v) in row.iter_mut() {
            *v = *v / g * sign;
        }
    }
}

/// `ka·a − kb·b`, or `None` on overflow.
fn combine(a: &Row, ka: i128, b: &Row, kb: i128) -> Option<Row> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let (col, v) = match (a.get(i), b.get(j)) {
            (Some(&(ca, va)), Some(&(cb, _))) if ca < cb => {
                i += 1;
                (ca, va.checked_mul(ka)?)
            }
            (Some(&(ca, va)), Some(&(cb, vb))) if ca == cb => {
                i += 1;
                j += 1;
                (ca, va.checked_mul(ka)?.checked_sub(vb.checked_mul(kb)?)?)
            }
            (_, Some(&(cb, vb))) => {
                j += 1;
                (cb, vb.checked_mul(kb)?.checked_neg()?)
            }
            (Some(&(ca, va)), None) => {
                i += 1;
                (ca, va.checked_mul(ka)?)
            }
            (None, None) => unreachable!("the loop runs while a row has entries"),
        };
        if v != 0 {
            out.push((col, v));
        }
    }
    Some(out)
}

/// The columns `c` whose unit vector lies in the row space of `rows`; `None` on overflow.
fn determined(rows: impl Iterator<Item = Row>, columns: usize) -> Option<Vec<usize>> {
    // Echelon form: a row per pivot column.
    let mut pivots: Vec<Option<Row>> = vec![None; columns];
    for mut row in rows {
        while let Some(&(c, v)) = row.first() {
            match &pivots[c] {
                Some(p) => {
                    row = combine(&row, p[0].1, p, v)?;
                    normalize(&mut row);
                }
                None => {
                    normalize(&mut row);
                    pivots[c] = Some(row);
                    break;
                }
            }
        }
    }
    // Reduced: from the last pivot back, each pivot row cleared of the later pivot columns.
    for c in (0..columns).rev() {
        let Some(mut row) = pivots[c].take() else { continue };
        while let Some(&(d, v)) = row.iter().skip(1).find(|(d, _)| pivots[*d].is_some()) {
            let p = pivots[d].as_ref().expect("found a pivot");
            row = combine(&row, p[0].1, p, v)?;
            normalize(&mut row);
        }
        pivots[c] = Some(row);
    }
    Some((0..columns).filter(|&c| pivots[c].as_ref().is_some_and(|r| r.len() == 1)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(rows: &[&[(usize, i128)]]) -> Vec<Row> {
        rows.iter().map(|r| r.to_vec()).collect()
    }

    #[test]
    fn a_lone_unknown_is_determined_and_a_pair_is_not() {
        // x0 − x1 = k, x1 = k': x0 and x1 determined.
        let r = rows(&[&[(0, 1), (1, -1)], &[(1, 1)]]);
        assert_eq!(determined(r.into_iter(), 2), Some(vec![0, 1]));
        // x0 − x1 − x2 = k: none.
        let r = rows(&[&[(0, 1), (1, -1), (2, -1)]]);
        assert_eq!(determined(r.into_iter(), 3), Some(vec![]));
        // x0 − x1 − x2 = k, x0 − x1 = k': x2 determined, x0 and x1 not.
        let r = rows(&[&[(0, 1), (1, -1), (2, -1)], &[(0, 1), (1, -1)]]);
        assert_eq!(determined(r.into_iter(), 3), Some(vec![2]));
    }

    #[test]
    fn a_two_by_two_square_of_hidden_cells_is_not_determined_but_three_of_four_are_not_either() {
        // Rows a+b, c+d, columns a+c, b+d known: a 2×2 square of unknowns is safe.
        let r = rows(&[&[(0, 1), (1, 1)], &[(2, 1), (3, 1)], &[(0, 1), (2, 1)], &[(1, 1), (3, 1)]]);
        assert_eq!(determined(r.into_iter(), 4), Some(vec![]));
        // An L of three (a, b, c) with row a+b and column a+c: still safe (a is free).
        let r = rows(&[&[(0, 1), (1, 1)], &[(0, 1), (2, 1)]]);
        assert_eq!(determined(r.into_iter(), 3), Some(vec![]));
    }
}
