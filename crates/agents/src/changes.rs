//! What a new registry changes, agent by agent: the before/after a daemon writes in its audit
//! trail when it reloads the registry.

use serde::Serialize;

use crate::agent::Agent;
use crate::registry::Registry;

/// Whether an account was added, removed or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One account's line, before and after (`None`: not in that registry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentChange {
    pub account: String,
    pub before: Option<Agent>,
    pub after: Option<Agent>,
}

impl AgentChange {
    pub fn kind(&self) -> ChangeKind {
        match (&self.before, &self.after) {
            (None, _) => ChangeKind::Added,
            (_, None) => ChangeKind::Removed,
            _ => ChangeKind::Changed,
        }
    }
}

impl Registry {
    /// Every account whose line differs between `old` and `new`, by account name.
    pub fn changes(old: &Registry, new: &Registry) -> Vec<AgentChange> {
        let mut accounts: Vec<&str> = old.agents().chain(new.agents()).map(|a| a.account.as_str()).collect();
        accounts.sort_unstable();
        accounts.dedup();
        accounts
            .into_iter()
            .filter_map(|account| {
                let (before, after) = (old.agent(account), new.agent(account));
                (before != after).then(|| AgentChange {
                    account: account.to_owned(),
                    before: before.cloned(),
                    after: after.cloned(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn registry(text: &str) -> Registry {
        Registry::parse(text, Path::new("agents.toml")).unwrap()
    }

    #[test]
    fn changes_are_per_account_with_before_and_after() {
        let old = registry(
            "[[agent]]\naccount = \"a1\"\nid = \"agent-1\"\nname = \"Agent Bleu\"\nroles = [\"auditor\"]\n\
             [[agent]]\naccount = \"a2\"\nid = \"agent-2\"\nname = \"Agent Vert\"\nroles = [\"operator\"]\n",
        );
        let new = registry(
            "[[agent]]\naccount = \"a2\"\nid = \"agent-2\"\nname = \"Agent Vert\"\nroles = [\"operator\", \"auditor\"]\n\
             [[agent]]\naccount = \"a3\"\nid = \"agent-3\"\nname = \"Agent Rouge\"\nroles = [\"operator\"]\n",
        );
        let changes = Registry::changes(&old, &new);
        let kinds: Vec<(&str, ChangeKind)> = changes.iter().map(|c| (c.account.as_str(), c.kind())).collect();
        assert_eq!(kinds, [("a1", ChangeKind::Removed), ("a2", ChangeKind::Changed), ("a3", ChangeKind::Added)]);
        assert_eq!(changes[1].before.as_ref().unwrap().roles.len(), 1);
        assert_eq!(changes[1].after.as_ref().unwrap().roles.len(), 2);
        let json = serde_json::to_value(&changes[1]).unwrap();
        assert_eq!(json["after"]["roles"], serde_json::json!(["operator", "auditor"]));
        assert!(Registry::changes(&new, &new.clone()).is_empty());
    }
}
