//! `passerelle conformance`: a partner body runs it against its own implementation, in a vhost
//! or prefix of its own. It plays the observatory, sends the partner the messages of the decree
//! flow (normal chunks, a reminder, a duplicate, former NIRs, identity mismatches, categories not
//! held and outside the decree), and checks what comes back, rule by rule.
//!
//! - [`rules`]: every rule, by name, with what it checks and how to fix a failure;
//! - [`population`]: the synthetic persons the partner's extract holds, and the extract file;
//! - [`responder`]: the scenario against a responder, over the broker; [`checks`]: its pure
//!   checks of what came back;
//! - [`requester`]: the scenario against a requester (its Request, a Refusal and Result chunks
//!   sent back, its Receipt); [`requester_rules`] and [`requester_checks`]: its rules and checks.
//!
//! The outcome is a [`Report`]: one [`Finding`] per rule, printed `PASS|FAIL rule — detail`.
#![forbid(unsafe_code)]

pub mod checks;
#[cfg(test)]
mod checks_tests;
pub mod population;
pub mod requester;
pub mod requester_checks;
pub mod requester_rules;
#[cfg(test)]
mod requester_tests;
pub mod responder;
pub mod rules;

pub use rules::{Rule, RESPONDER_RULES};

/// What one rule found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static Rule,
    /// The problems found, each a short sentence naming the message (never a NIR); empty: passed.
    pub problems: Vec<String>,
    /// What was checked, when it passed (e.g. "5 responses").
    pub checked: String,
}

impl Finding {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// The report's line: `PASS rule — what was checked`, or `FAIL rule — problems / how to fix`.
    pub fn line(&self) -> String {
        if self.passed() {
            format!("PASS {} — {}", self.rule.name, self.checked)
        } else {
            const SHOWN: usize = 3;
            let mut problems = self.problems.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
            if self.problems.len() > SHOWN {
                problems.push_str(&format!("; and {} more", self.problems.len() - SHOWN));
            }
            format!("FAIL {} — {problems} / fix: {}", self.rule.name, self.rule.fix)
        }
    }
}

/// Every rule's finding, in the order of the rule list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    /// The names of the rules that failed.
    pub fn failed(&self) -> Vec<&'static str> {
        self.findings.iter().filter(|f| !f.passed()).map(|f| f.rule.name).collect()
    }

    /// Whether every rule passed.
    pub fn all_passed(&self) -> bool {
        self.findings.iter().all(Finding::passed)
    }

    /// The last line: how many rules passed and failed, and which failed.
    pub fn summary(&self) -> String {
        let failed = self.failed();
        let passed = self.findings.len() - failed.len();
        if failed.is_empty() {
            format!("conformance: all {passed} rules passed")
        } else {
            format!("conformance: {passed} rules passed, {} failed: {}", failed.len(), failed.join(", "))
        }
    }
}
