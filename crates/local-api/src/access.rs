//! Who tried what and how it went, for the daemon's trail: every call refused by the API
//! (an account the registry does not know, an agent without the role) is given to the daemon's
//! [`AccessRecorder`] — the observatory writes it in its audit trail.

use std::sync::Mutex;

use serde::Serialize;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AccessOutcome {
    /// The account is no agent of the registry (or the peer has no account name).
    NotAnAgent,
    /// The agent lacks the role or the office the call needs.
    Refused { reason: String },
}

/// One attempt: who (the peer's uid, its account name, the agent id when it is one), what (the
/// method and path; never a query string, which may carry an identifier) and the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    pub uid: Option<u32>,
    pub account: Option<String>,
    pub agent_id: Option<String>,
    pub method: String,
    pub path: String,
    #[serde(flatten)]
    pub outcome: AccessOutcome,
}

/// Where a daemon records the attempts its API refused.
pub trait AccessRecorder: Send + Sync + std::fmt::Debug {
    fn record(&self, access: &Access);
}

/// Records in the log only (a daemon without a trail of its own yet, and the tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogRecorder;

impl AccessRecorder for LogRecorder {
    fn record(&self, a: &Access) {
        tracing::warn!(
            uid = ?a.uid,
            account = a.account.as_deref().unwrap_or("-"),
            agent = a.agent_id.as_deref().unwrap_or("-"),
            method = %a.method,
            path = %a.path,
            outcome = ?a.outcome,
            "local API call refused"
        );
    }
}

/// Keeps every refused attempt in memory, to be read back ([`KeptAccesses::taken`]): for a
/// caller that checks what was refused (the tests of every daemon's routes).
#[derive(Debug, Default)]
pub struct KeptAccesses(Mutex<Vec<Access>>);

impl KeptAccesses {
    /// Every attempt recorded so far, oldest first.
    pub fn taken(&self) -> Vec<Access> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl AccessRecorder for KeptAccesses {
    fn record(&self, access: &Access) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(access.clone());
    }
}
