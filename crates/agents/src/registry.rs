//! The agent registry: the file the body's director controls, account → [`Agent`].
//!
//! ```toml
//! [[agent]]
//! account = "prev-a1"        # the OS account name
//! id = "agent-0042"
//! name = "Agent Bleu"
//! roles = ["prevention-agent"]
//! office = "caf-13"          # required for prevention-agent, social-service, social-worker
//! ```
//!
//! A file with problems is refused whole, every problem listed with its line and column
//! ([`RegistryError::Problems`]): a daemon never runs on half a registry, and at a reload it
//! keeps the registry it had.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use passerelle_settings::Origin;

use crate::agent::Agent;

/// The agents a daemon knows, by OS account name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    agents: BTreeMap<String, Agent>,
}

/// One problem of a registry file, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, with the line and column when the problem has one.
    pub origin: Origin,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

/// Why a registry file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read the agent registry {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// Every problem of the file (at least one), each with its line and column.
    #[error("the agent registry {path} cannot be used:\n{}", list(.problems))]
    Problems { path: PathBuf, problems: Vec<Problem> },
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

impl Registry {
    /// A registry with no agent: every call is refused.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// Reads and checks the registry file.
    pub fn load(path: &Path) -> Result<Registry, RegistryError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| RegistryError::Read { path: path.to_owned(), source })?;
        Registry::parse(&text, path)
    }

    /// Checks a registry's text; `path` names it in the problems.
    pub fn parse(text: &str, path: &Path) -> Result<Registry, RegistryError> {
        let agents = crate::parse::agents(text, path)
            .map_err(|problems| RegistryError::Problems { path: path.to_owned(), problems })?;
        Ok(Registry::from_agents(agents))
    }

    /// A registry of these agents (tests, the demo's registry); a later agent of the same
    /// account replaces an earlier one.
    pub fn from_agents(agents: impl IntoIterator<Item = Agent>) -> Registry {
        Registry { agents: agents.into_iter().map(|a| (a.account.clone(), a)).collect() }
    }

    /// The agent an OS account is, if it is one.
    pub fn agent(&self, account: &str) -> Option<&Agent> {
        self.agents.get(account)
    }

    /// Every agent, by account name.
    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.values()
    }

    pub fn len(&self) -> usize {
        self.agents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }
}
