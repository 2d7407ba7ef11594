//! The roles of DESIGN §7.1's table, by their kebab-case names: what the registry's `roles`
//! lists hold and what each call of a daemon's API requires.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A role an agent holds (DESIGN §7.1, need-to-know, decree art. 4). Where each is meaningful
/// and what it may do is the table's; a daemon requires the roles of each call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Observatory: cases in flight, their persons, the audit trail.
    ObservatoryAgent,
    /// Observatory, social service: the statistics views — never a NIR or the pseudonym key.
    StatisticsAgent,
    /// Every daemon: counts, ages, queues, dead-letter reasons, health — no personal datum.
    Operator,
    /// Every daemon: the audit trail and the access log, and their verification — no payload.
    Auditor,
    /// Observatory (decree), social service (norm): open and answer rights requests.
    RightsOfficer,
    /// Requester, scoped to its office: submit, follow and fetch its office's cases.
    PreventionAgent,
    /// Requester: settings, purge, registry — not the contact lists.
    RequesterAdmin,
    /// Responder: load extracts, settings.
    ResponderAdmin,
    /// A service account of the social service, scoped to its branch office: reads that office's
    /// contact lists at the requester and records offer outcomes.
    SocialService,
    /// Social service, scoped to its office: the office's case files.
    SocialWorker,
    /// Social service: archived files, each read with a purpose from the norm's list.
    ArchiveReader,
    /// Social service: signs `archive-reader` grants (with the medical officer), decides
    /// objections.
    DirectorDelegate,
    /// Social service: signs `archive-reader` grants (with the director's delegate), releases
    /// medical opinions for a transfer.
    MedicalOfficer,
}

impl Role {
    /// Every role, in the order of DESIGN's table.
    pub const ALL: [Role; 13] = [
        Role::ObservatoryAgent,
        Role::StatisticsAgent,
        Role::Operator,
        Role::Auditor,
        Role::RightsOfficer,
        Role::PreventionAgent,
        Role::RequesterAdmin,
        Role::ResponderAdmin,
        Role::SocialService,
        Role::SocialWorker,
        Role::ArchiveReader,
        Role::DirectorDelegate,
        Role::MedicalOfficer,
    ];

    /// Its name in the registry and in messages: `prevention-agent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ObservatoryAgent => "observatory-agent",
            Role::StatisticsAgent => "statistics-agent",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
            Role::RightsOfficer => "rights-officer",
            Role::PreventionAgent => "prevention-agent",
            Role::RequesterAdmin => "requester-admin",
            Role::ResponderAdmin => "responder-admin",
            Role::SocialService => "social-service",
            Role::SocialWorker => "social-worker",
            Role::ArchiveReader => "archive-reader",
            Role::DirectorDelegate => "director-delegate",
            Role::MedicalOfficer => "medical-officer",
        }
    }

    /// Whether the role acts for one office only, so that an agent holding it must have one:
    /// a prevention agent sees its office's cases, a social worker its office's files, the
    /// social service's account its branch office's contact lists.
    pub fn is_scoped(self) -> bool {
        matches!(self, Role::PreventionAgent | Role::SocialService | Role::SocialWorker)
    }

    /// Every role's name, comma-separated, for messages.
    pub fn names() -> String {
        Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is none of DESIGN's table, with the one it most likely meant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.explain())]
pub struct UnknownRole {
    pub name: String,
    pub near: Option<Role>,
}

impl UnknownRole {
    fn explain(&self) -> String {
        match self.near {
            Some(near) => {
                format!("\"{}\" is not a role (did you mean \"{near}\"?); the roles are: {}", self.name, Role::names())
            }
            None => format!("\"{}\" is not a role; the roles are: {}", self.name, Role::names()),
        }
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(name: &str) -> Result<Role, UnknownRole> {
        if let Some(role) = Role::ALL.into_iter().find(|r| r.as_str() == name) {
            return Ok(role);
        }
        let near = passerelle_settings::did_you_mean(&name.replace('_', "-"), Role::ALL.iter().map(|r| r.as_str()))
            .and_then(|n| Role::ALL.into_iter().find(|r| r.as_str() == n));
        Err(UnknownRole { name: name.to_owned(), near })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_design_tables_and_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            let json = serde_json_name(role);
            assert_eq!(json, role.as_str(), "serde uses the same name");
        }
        assert_eq!(Role::PreventionAgent.to_string(), "prevention-agent");
        assert!(Role::names().starts_with("observatory-agent, statistics-agent, operator, auditor"));
    }

    fn serde_json_name(role: Role) -> String {
        serde_json::to_value(role).unwrap().as_str().unwrap().to_owned()
    }

    #[test]
    fn a_misspelt_role_gets_a_suggestion() {
        let e = "prevntion-agent".parse::<Role>().unwrap_err();
        assert_eq!(e.near, Some(Role::PreventionAgent));
        assert!(e.to_string().starts_with("\"prevntion-agent\" is not a role (did you mean \"prevention-agent\"?)"));
        assert_eq!("rights_officer".parse::<Role>().unwrap_err().near, Some(Role::RightsOfficer));
        let e = "dba".parse::<Role>().unwrap_err();
        assert_eq!(e.near, None);
        assert!(e.to_string().contains("the roles are: observatory-agent"), "{e}");
    }

    #[test]
    fn the_office_scoped_roles() {
        let scoped: Vec<Role> = Role::ALL.into_iter().filter(|r| r.is_scoped()).collect();
        assert_eq!(scoped, [Role::PreventionAgent, Role::SocialService, Role::SocialWorker]);
    }
}
