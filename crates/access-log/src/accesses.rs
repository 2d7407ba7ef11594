//! A daemon's access log as its services use it ([`Accesses`]): the log in the daemon's
//! `data_dir` ([`ACCESS_LOG_FILE`]) and the key that turns a NIR into the person's keyed hash
//! ([`PERSON_KEY_FILE`], beside it, the daemon's alone), and the names entries give their actors.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use passerelle_protocol::nir::Nir;

use crate::{AccessEntry, AccessKind, AccessLog, LegalCalendar, PersonKey, PersonRef, Position, Result};

/// The access log's file in a daemon's `data_dir`.
pub const ACCESS_LOG_FILE: &str = "access.db";

/// The access log's person key in a daemon's `data_dir` (0600, read by the daemon alone).
pub const PERSON_KEY_FILE: &str = "access-person.key";

/// The actor of an authenticated agent's access: `agent:<id>`.
pub fn agent_actor(agent_id: &str) -> String {
    format!("agent:{agent_id}")
}

/// The actor of a call a service account makes for an agent it names (the social-service
/// daemon reading a contact list for a social worker): `agent:<worker>:via:<service>`. Both
/// are recorded: the worker as relayed (the service's word), the service as authenticated.
pub fn relayed_actor(service_agent_id: &str, worker_id: &str) -> String {
    format!("agent:{worker_id}:via:{service_agent_id}")
}

/// The actor of a machine action: `daemon:<name>` (`daemon:observatory`, `daemon:requester`…).
pub fn daemon_actor(daemon: &str) -> String {
    format!("daemon:{daemon}")
}

/// The actor of a caller the registry does not know: `os-user:<account>`, or `os-uid:<uid>`
/// when the account has no name.
pub fn os_actor(account: Option<&str>, uid: u32) -> String {
    match account {
        Some(account) => format!("os-user:{account}"),
        None => format!("os-uid:{uid}"),
    }
}

/// A daemon's access log and person key, shared by its services (cheap to clone).
#[derive(Debug, Clone)]
pub struct Accesses {
    log: Arc<AccessLog>,
    persons: Arc<PersonKey>,
}

impl Accesses {
    /// Opens (or creates, 0600) `data_dir/access.db` and `data_dir/access-person.key`.
    pub fn open_in(data_dir: &Path, calendar: LegalCalendar) -> Result<Accesses> {
        let log = AccessLog::open(&data_dir.join(ACCESS_LOG_FILE), calendar)?;
        let persons = PersonKey::load_or_create(&data_dir.join(PERSON_KEY_FILE))?;
        Ok(Accesses { log: Arc::new(log), persons: Arc::new(persons) })
    }

    /// The log itself (show, verify, heads, purges).
    pub fn log(&self) -> &AccessLog {
        &self.log
    }

    /// The person's keyed hash in this log.
    pub fn person(&self, nir: &Nir) -> PersonRef {
        self.persons.person(nir)
    }

    /// Appends one access, durably.
    pub fn record(&self, entry: &AccessEntry) -> Result<Position> {
        self.log.append(entry)
    }

    /// Appends several accesses in one transaction (an agent reading several persons).
    pub fn record_all(&self, entries: &[AccessEntry]) -> Result<()> {
        self.log.append_many(entries).map(drop)
    }

    /// Appends a machine action of `daemon` on `object` now.
    pub fn record_machine(&self, at: SystemTime, daemon: &str, kind: AccessKind, object: &str) -> Result<Position> {
        self.log.append(&AccessEntry::new(at, daemon_actor(daemon), kind, object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_protocol::untrusted::is_identifier;

    #[test]
    fn a_relayed_actor_names_the_worker_and_the_service_and_is_an_identifier() {
        let actor = relayed_actor("svc-social", "sw-1");
        assert_eq!(actor, "agent:sw-1:via:svc-social");
        assert!(is_identifier(&actor));
        assert!(crate::AccessEntry::new(SystemTime::UNIX_EPOCH, actor, crate::AccessKind::Read, "case-1")
            .check()
            .is_ok());
    }
}
