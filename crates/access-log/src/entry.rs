//! One access: who, when, what kind, which object, and the person it concerns (as a keyed hash).
//!
//! The agent and the object are identifiers ([`passerelle_protocol::untrusted::is_identifier`]):
//! a name, free text or a NIR written where an id belongs is refused, never stored, and the
//! refusal does not repeat it.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use passerelle_protocol::untrusted::{has_nir_run, is_identifier};

use crate::PersonRef;

/// What the agent did to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessKind {
    Read,
    Create,
    Update,
    Delete,
    Export,
    Transfer,
    /// The daemon refused the call (the agent asked for something its roles do not allow).
    Refused,
}

impl AccessKind {
    pub const ALL: [AccessKind; 7] = [
        AccessKind::Read,
        AccessKind::Create,
        AccessKind::Update,
        AccessKind::Delete,
        AccessKind::Export,
        AccessKind::Transfer,
        AccessKind::Refused,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKind::Read => "read",
            AccessKind::Create => "create",
            AccessKind::Update => "update",
            AccessKind::Delete => "delete",
            AccessKind::Export => "export",
            AccessKind::Transfer => "transfer",
            AccessKind::Refused => "refused",
        }
    }
}

impl fmt::Display for AccessKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccessKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccessKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = AccessKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown access kind; the kinds are {}", known.join(", "))
        })
    }
}

/// An access to record. Build it with [`AccessEntry::new`], add the person with
/// [`AccessEntry::about`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    pub at: SystemTime,
    /// `agent:<id>` for an authenticated agent, `agent:<worker>:via:<service>` for a service
    /// account acting for an agent it names, `daemon:<name>` for a machine action,
    /// `os-user:<account>` for a caller the registry does not know.
    pub agent: String,
    pub kind: AccessKind,
    /// The case, submission or file id.
    pub object: String,
    /// The person concerned, as a keyed hash; `None` for an access to no one in particular
    /// (a chunk answered, a case purged).
    pub person: Option<PersonRef>,
}

impl AccessEntry {
    pub fn new(at: SystemTime, agent: impl Into<String>, kind: AccessKind, object: impl Into<String>) -> AccessEntry {
        AccessEntry { at, agent: agent.into(), kind, object: object.into(), person: None }
    }

    /// The same entry, concerning `person`.
    pub fn about(self, person: PersonRef) -> AccessEntry {
        AccessEntry { person: Some(person), ..self }
    }

    /// Refuses an agent or object that is not an identifier ([`NotAnIdentifier`]).
    pub fn check(&self) -> Result<(), NotAnIdentifier> {
        check_identifier("agent", &self.agent)?;
        check_identifier("object", &self.object)
    }
}

/// A field of an entry that is not an identifier. The message gives its length and what is
/// wrong, never its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {field} of an access log entry {problem} ({length} characters): give an id — a UUID, or lower-case \
     letters, digits, `.`, `-`, `_` and `:`, as `agent:a-17`, `daemon:observatory` or a case id"
)]
pub struct NotAnIdentifier {
    pub field: &'static str,
    pub length: usize,
    pub problem: &'static str,
}

fn check_identifier(field: &'static str, text: &str) -> Result<(), NotAnIdentifier> {
    if is_identifier(text) {
        return Ok(());
    }
    let problem = if has_nir_run(text) { "holds what looks like a NIR" } else { "is not an identifier" };
    Err(NotAnIdentifier { field, length: text.chars().count(), problem })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in AccessKind::ALL {
            assert_eq!(kind.as_str().parse::<AccessKind>().unwrap(), kind);
        }
        assert!("peek".parse::<AccessKind>().unwrap_err().contains("read, create"));
    }

    #[test]
    fn a_nir_or_a_name_where_an_id_belongs_is_refused_without_being_repeated() {
        let t = SystemTime::UNIX_EPOCH;
        let ok = AccessEntry::new(t, "agent:a-17", AccessKind::Read, "0190b6a2-7c1e-7f00-8000-000000000001");
        ok.check().unwrap();
        let nir = "2500513055001";
        let refused = AccessEntry::new(t, "daemon:observatory", AccessKind::Read, nir).check().unwrap_err();
        assert_eq!((refused.field, refused.problem), ("object", "holds what looks like a NIR"));
        assert!(!refused.to_string().contains(nir), "{refused}");
        let refused = AccessEntry::new(t, "Jeanne Martin", AccessKind::Read, "case-1").check().unwrap_err();
        assert_eq!((refused.field, refused.problem, refused.length), ("agent", "is not an identifier", 13));
        assert!(!refused.to_string().contains("Martin"), "{refused}");
        assert!(AccessEntry::new(t, "agent:a", AccessKind::Read, "").check().is_err());
    }
}
