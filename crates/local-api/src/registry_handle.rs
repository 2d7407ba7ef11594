//! The registry a daemon serves with, shared by every call and replaced whole at a reload
//! (SIGHUP): a call sees the old registry or the new one, never a mix.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use passerelle_agents::{Agent, AgentChange, Registry, RegistryError};

/// A daemon's registry and the file it reloads from.
#[derive(Debug, Clone)]
pub struct RegistryHandle {
    /// The registry file; `None` for a registry given in code (tests, the demo), which a reload
    /// leaves as it is.
    path: Option<PathBuf>,
    current: Arc<RwLock<Arc<Registry>>>,
}

impl RegistryHandle {
    /// Loads the registry file (a daemon refuses to start on a file with problems).
    pub fn load(path: &Path) -> Result<RegistryHandle, RegistryError> {
        let registry = Registry::load(path)?;
        Ok(RegistryHandle { path: Some(path.to_owned()), current: Arc::new(RwLock::new(Arc::new(registry))) })
    }

    /// No agent yet, reloaded from `path` (a daemon whose default registry file is missing: every
    /// call is refused until the file exists and the daemon is told to reload).
    pub fn empty_at(path: &Path) -> RegistryHandle {
        RegistryHandle { path: Some(path.to_owned()), current: Arc::new(RwLock::new(Arc::new(Registry::empty()))) }
    }

    /// A registry given in code, never reloaded.
    pub fn fixed(registry: Registry) -> RegistryHandle {
        RegistryHandle { path: None, current: Arc::new(RwLock::new(Arc::new(registry))) }
    }

    /// The registry file, if there is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The registry now.
    pub fn current(&self) -> Arc<Registry> {
        Arc::clone(&self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// The agent an account is, in the registry now.
    pub fn agent(&self, account: &str) -> Option<Agent> {
        self.current().agent(account).cloned()
    }

    /// Reads the file again and, if it has no problem, serves with it from now on; returns what
    /// changed, per account. A file with problems changes nothing: the error lists them and the
    /// registry stays the one before.
    pub fn reload(&self) -> Result<Vec<AgentChange>, RegistryError> {
        let Some(path) = &self.path else { return Ok(Vec::new()) };
        let new = Registry::load(path)?;
        Ok(self.replace(new))
    }

    /// Serves with `new` from now on; returns what changed.
    pub fn replace(&self, new: Registry) -> Vec<AgentChange> {
        let mut current = self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let changes = Registry::changes(&current, &new);
        *current = Arc::new(new);
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "[[agent]]\naccount = \"a1\"\nid = \"agent-1\"\nname = \"Agent Bleu\"\nroles = [\"auditor\"]\n";

    #[test]
    fn a_reload_applies_a_good_file_and_keeps_the_old_registry_on_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agents.toml");
        std::fs::write(&path, ONE).unwrap();
        let handle = RegistryHandle::load(&path).unwrap();
        assert_eq!(handle.agent("a1").unwrap().id, "agent-1");
        assert!(handle.reload().unwrap().is_empty(), "nothing changed");

        std::fs::write(&path, ONE.replace("auditor", "operator")).unwrap();
        let changes = handle.reload().unwrap();
        assert_eq!(changes.len(), 1);
        assert!(handle.agent("a1").unwrap().has(passerelle_agents::Role::Operator));

        std::fs::write(&path, ONE.replace("auditor", "auditer")).unwrap();
        let e = handle.reload().unwrap_err().to_string();
        assert!(e.contains("did you mean \"auditor\"?"), "{e}");
        assert!(handle.agent("a1").unwrap().has(passerelle_agents::Role::Operator), "the registry before stays");
    }
}
