//! An agent — one line of the registry — and the decision whether it may make a call.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::role::Role;

/// A person authorised to act through the daemons, known by its OS account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agent {
    /// The OS account the agent logs in with: what the socket's peer credentials give (uid →
    /// account name), the registry's key.
    pub account: String,
    /// The agent's id in the body (`agent-0042`): what the audit trail and the access log name.
    pub id: String,
    /// The display name, for messages and consoles (never in a log line about a person).
    pub name: String,
    /// What the agent may do (DESIGN §7.1), at least one.
    pub roles: BTreeSet<Role>,
    /// The office the scoped roles act for (`caf-13`); required when one of them is held.
    pub office: Option<String>,
}

/// Whether a call is allowed, and if not, why, in words said to the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Refused { reason: String },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed)
    }
}

impl Agent {
    /// Whether the agent holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Allowed when the agent holds `role`.
    pub fn allows(&self, role: Role) -> Decision {
        self.allows_any(&[role])
    }

    /// Allowed when the agent holds one of `roles` (a call several roles may make).
    pub fn allows_any(&self, roles: &[Role]) -> Decision {
        if roles.iter().any(|r| self.has(*r)) {
            return Decision::Allowed;
        }
        let wanted = match roles {
            [] => "a role no agent holds".to_owned(),
            [one] => format!("the role {one}"),
            many => format!("one of the roles {}", many.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")),
        };
        Decision::Refused { reason: format!("{self} needs {wanted} for this (it holds: {})", self.held()) }
    }

    /// Allowed when the agent holds `role` for `office`: a scoped role acts for the agent's own
    /// office only.
    pub fn allows_in_office(&self, role: Role, office: &str) -> Decision {
        match self.allows(role) {
            Decision::Allowed if self.office.as_deref() == Some(office) => Decision::Allowed,
            Decision::Allowed => Decision::Refused {
                reason: format!(
                    "{self} acts as {role} for the office {}, not for {office}",
                    self.office.as_deref().unwrap_or("(none)")
                ),
            },
            refused => refused,
        }
    }

    /// The roles held, comma-separated.
    fn held(&self) -> String {
        self.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// `agent-0042 (Agent Bleu, account prev-a1)`.
impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, account {})", self.id, self.name, self.account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(roles: &[Role], office: Option<&str>) -> Agent {
        Agent {
            account: "prev-a1".into(),
            id: "agent-0042".into(),
            name: "Agent Bleu".into(),
            roles: roles.iter().copied().collect(),
            office: office.map(str::to_owned),
        }
    }

    #[test]
    fn a_role_held_allows_and_one_missing_refuses_naming_both() {
        let a = agent(&[Role::Operator, Role::Auditor], None);
        assert!(a.allows(Role::Auditor).is_allowed());
        assert!(a.allows_any(&[Role::ObservatoryAgent, Role::Operator]).is_allowed());
        let Decision::Refused { reason } = a.allows(Role::ObservatoryAgent) else { panic!("allowed") };
        assert_eq!(
            reason,
            "agent-0042 (Agent Bleu, account prev-a1) needs the role observatory-agent for this (it holds: operator, auditor)"
        );
        let Decision::Refused { reason } = a.allows_any(&[Role::StatisticsAgent, Role::RightsOfficer]) else {
            panic!("allowed")
        };
        assert!(reason.contains("needs one of the roles statistics-agent, rights-officer"), "{reason}");
        assert!(!a.allows_any(&[]).is_allowed());
    }

    #[test]
    fn a_scoped_role_acts_for_its_own_office_only() {
        let a = agent(&[Role::PreventionAgent], Some("caf-13"));
        assert!(a.allows_in_office(Role::PreventionAgent, "caf-13").is_allowed());
        let Decision::Refused { reason } = a.allows_in_office(Role::PreventionAgent, "caf-69") else { panic!() };
        assert!(reason.ends_with("acts as prevention-agent for the office caf-13, not for caf-69"), "{reason}");
        assert!(!a.allows_in_office(Role::SocialWorker, "caf-13").is_allowed());
    }
}
