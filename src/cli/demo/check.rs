//! Does the result add up? The valid persons of the selection (read again with the requester's
//! own rules) against the persons of the ranked result (JSON Lines) and those the observatory
//! refused: each valid person must be listed exactly once, or refused, never both. Persons are
//! compared by their selection line, so no NIR is handled here; the per-body statuses of the
//! result give the found / not found counts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;
use std::path::Path;

use anyhow::{anyhow, Context};
use passerelle_protocol::commune::CommuneTable;
use passerelle_protocol::territory::Territories;
use passerelle_selection::{Checked, Encoding, SelectionReader, SelectionRules};

/// What the comparison found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultCheck {
    /// Valid persons of the selection.
    pub valid: u64,
    /// Persons in the result file.
    pub listed: u64,
    /// Valid persons neither listed nor refused.
    pub missing: u64,
    /// Persons listed more than once (each counted once).
    pub duplicates: u64,
    /// Listed persons not valid in the selection, or refused too.
    pub unexpected: u64,
    /// Per body: status (`found`, `not_found`, `no_answer`) → persons.
    pub statuses: BTreeMap<String, BTreeMap<String, u64>>,
}

impl ResultCheck {
    pub fn adds_up(&self) -> bool {
        self.missing == 0 && self.duplicates == 0 && self.unexpected == 0
    }

    /// Persons with `status` for `body`.
    pub fn count(&self, body: &str, status: &str) -> u64 {
        self.statuses.get(body).and_then(|s| s.get(status)).copied().unwrap_or(0)
    }
}

/// The lines of the valid records of a selection, with the rules of a requester of `branch`
/// submitting on `day`.
pub fn valid_lines(selection: &Path, day: chrono::NaiveDate, branch: &str) -> anyhow::Result<BTreeSet<u64>> {
    let territories = Territories::default();
    let rules = SelectionRules::on(day, CommuneTable::official(), &territories).for_branch(branch);
    let file = std::fs::File::open(selection).with_context(|| format!("cannot open {}", selection.display()))?;
    let mut reader = SelectionReader::new(std::io::BufReader::new(file), Encoding::Utf8, rules)
        .map_err(|e| anyhow!(e).context("the synthetic selection is unusable"))?;
    let mut lines = BTreeSet::new();
    for verdict in &mut reader {
        if let Checked::Valid(person) = verdict.context("cannot read the selection")? {
            lines.insert(person.line);
        }
    }
    Ok(lines)
}

/// Compares the result file (JSON Lines: `line` and `status` per person) with the valid lines
/// and the lines the observatory refused.
pub fn check_result(valid: &BTreeSet<u64>, refused: &BTreeSet<u64>, jsonl: &Path) -> anyhow::Result<ResultCheck> {
    let file = std::fs::File::open(jsonl).with_context(|| format!("cannot open the result {}", jsonl.display()))?;
    let mut seen: HashMap<u64, u32> = HashMap::with_capacity(valid.len());
    let mut check = ResultCheck { valid: valid.len() as u64, ..ResultCheck::default() };
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.context("cannot read the result")?;
        if line.trim().is_empty() {
            continue;
        }
        let person: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("result line {} is not JSON", n + 1))?;
        let selection_line =
            person["line"].as_u64().ok_or_else(|| anyhow!("result line {} has no selection line number", n + 1))?;
        check.listed += 1;
        *seen.entry(selection_line).or_default() += 1;
        if let Some(statuses) = person["status"].as_object() {
            for (body, status) in statuses {
                let status = status.as_str().unwrap_or("unknown").to_owned();
                *check.statuses.entry(body.clone()).or_default().entry(status).or_default() += 1;
            }
        }
    }
    check.duplicates = seen.values().filter(|&&n| n > 1).count() as u64;
    check.unexpected = seen.keys().filter(|l| !valid.contains(l) || refused.contains(l)).count() as u64;
    check.missing = valid.iter().filter(|l| !seen.contains_key(l) && !refused.contains(l)).count() as u64;
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(lines: &[&str]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), lines.join("\n")).unwrap();
        f
    }

    #[test]
    fn a_result_with_everyone_once_adds_up() {
        let valid: BTreeSet<u64> = [2, 3, 4].into();
        let refused: BTreeSet<u64> = [4].into();
        let f = result(&[
            r#"{"line":3,"status":{"cnam":"found","msa":"not_found"}}"#,
            r#"{"line":2,"status":{"cnam":"not_found","msa":"not_found"}}"#,
        ]);
        let c = check_result(&valid, &refused, f.path()).unwrap();
        assert!(c.adds_up(), "{c:?}");
        assert_eq!((c.listed, c.count("cnam", "found"), c.count("msa", "not_found")), (2, 1, 2));
    }

    #[test]
    fn missing_duplicated_and_unexpected_persons_are_counted() {
        let valid: BTreeSet<u64> = [2, 3, 4, 5].into();
        let refused: BTreeSet<u64> = [5].into();
        let f = result(&[
            r#"{"line":2,"status":{}}"#,
            r#"{"line":2,"status":{}}"#,
            r#"{"line":5,"status":{}}"#,
            r#"{"line":9}"#,
        ]);
        let c = check_result(&valid, &refused, f.path()).unwrap();
        assert!(!c.adds_up());
        assert_eq!((c.missing, c.duplicates, c.unexpected), (2, 1, 2));
    }
}
