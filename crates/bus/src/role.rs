//! Who connects, and what it may touch: an observatory, a body, a requester office of a body
//! that has offices (see [`crate::office`]), or a health-insurance social service
//! (`[broker.social_services]`). The queues a party consumes and the exchanges it publishes to
//! follow from its role and the deployment; the AMQP bus checks (or, for an observatory,
//! declares) exactly these — except a body's rights queue and the rights exchange, which only its
//! requester daemon uses, not its responder — and `topology export` grants exactly these. The
//! persons' rights (`rights.proto`): an observatory, a requester office and a body without
//! offices read their own rights queue ([`Role::rights_queue`]) and write the rights exchange; a
//! body with offices (its offices are asked) and a social service (never asked) do neither.

use crate::office;
use crate::topology::{Exchange, Queue};
use crate::BusSettings;

/// Who connects: an observatory declares the whole topology (idempotent); a body, a requester
/// office or a social service only checks passively that its own queues exist, so no such
/// account needs the configure right.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    Observatory(String),
    Body(String),
    /// A requester office of a body that has offices; holds its party code, `body.office`.
    Office(String),
    /// A health-insurance social service (`[broker.social_services]`); holds its party code,
    /// `body.office`. It sends and receives case-file transfers (norm 43, A.3).
    SocialService(String),
}

impl Role {
    /// The party code (`body.office` for an office).
    pub fn code(&self) -> &str {
        match self {
            Role::Observatory(c) | Role::Body(c) | Role::Office(c) | Role::SocialService(c) => c,
        }
    }

    /// The role a body's requester at `office` connects as: the office when the body has
    /// offices in the deployment (which must list it), else the body.
    pub fn requester(settings: &BusSettings, body: &str, office: &str) -> Result<Role, office::UndeclaredOffice> {
        let party = settings.requester_party(body, office)?;
        Ok(if office::split(&party).is_some() { Role::Office(party) } else { Role::Body(party) })
    }

    /// What this party is, in words (`body cnaf`, `requester office cnaf.caf-13`).
    pub fn label(&self) -> String {
        match self {
            Role::Observatory(c) => format!("observatory {c}"),
            Role::Body(c) => format!("body {c}"),
            Role::Office(c) => format!("requester office {c}"),
            Role::SocialService(c) => format!("social service {c}"),
        }
    }

    /// The queues this party consumes in the deployment (its notices and its rights queue
    /// included): a body with offices has no results queue and no rights queue (its offices
    /// do); a social service has no rights queue (it is never asked).
    pub fn queues(&self, settings: &BusSettings) -> Vec<Queue> {
        let mut queues = match self {
            Role::Observatory(c) => vec![
                Queue::ObservatoryRequests(c.clone()),
                Queue::ObservatoryResponses(c.clone()),
                Queue::ObservatoryNotices(c.clone()),
            ],
            Role::Body(c) if settings.offices.contains_key(c) => {
                vec![Queue::BodySolicitations(c.clone()), Queue::BodyNotices(c.clone())]
            }
            Role::Body(c) => {
                vec![Queue::BodySolicitations(c.clone()), Queue::BodyResults(c.clone()), Queue::BodyNotices(c.clone())]
            }
            Role::Office(c) => vec![Queue::OfficeResults(c.clone()), Queue::OfficeNotices(c.clone())],
            Role::SocialService(c) => {
                vec![Queue::SocialServiceTransfers(c.clone()), Queue::SocialServiceNotices(c.clone())]
            }
        };
        queues.extend(self.rights_queue(settings));
        queues
    }

    /// The queue a requester of this party receives its results and refusals on.
    pub fn results_queue(&self) -> Option<Queue> {
        match self {
            Role::Observatory(_) | Role::SocialService(_) => None,
            Role::Body(c) => Some(Queue::BodyResults(c.clone())),
            Role::Office(c) => Some(Queue::OfficeResults(c.clone())),
        }
    }

    /// The queue a requester of this party, or an observatory, receives rights requests (and,
    /// for an observatory, their answers) on (`rights.proto`); `None` for a body with offices
    /// (its offices are asked) and a social service (never asked).
    pub fn rights_queue(&self, settings: &BusSettings) -> Option<Queue> {
        match self {
            Role::Observatory(c) => Some(Queue::ObservatoryRights(c.clone())),
            Role::Body(c) if settings.offices.contains_key(c) => None,
            Role::Body(c) => Some(Queue::BodyRights(c.clone())),
            Role::Office(c) => Some(Queue::OfficeRights(c.clone())),
            Role::SocialService(_) => None,
        }
    }

    /// The queue this party's notices arrive on.
    pub fn notices_queue(&self) -> Queue {
        match self {
            Role::Observatory(c) => Queue::ObservatoryNotices(c.clone()),
            Role::Body(c) => Queue::BodyNotices(c.clone()),
            Role::Office(c) => Queue::OfficeNotices(c.clone()),
            Role::SocialService(c) => Queue::SocialServiceNotices(c.clone()),
        }
    }

    /// The exchanges this party publishes to: a body sends responses, notices to observatories
    /// and, when it has no offices, requests and receipts (as a requester) and rights answers;
    /// an office sends requests, receipts, notices to observatories and rights answers; a social
    /// service sends transfers, receipts and amendments, and notices to observatories; an
    /// observatory sends solicitations, results and refusals, notices to bodies, and rights
    /// requests and answers (and writes the dead-letter exchange, which only it may: see
    /// [`crate::definitions`]).
    pub fn publishes_to(&self, settings: &BusSettings) -> Vec<Exchange> {
        match self {
            Role::Observatory(_) => {
                vec![Exchange::Solicitations, Exchange::Results, Exchange::NoticesToBodies, Exchange::Rights]
            }
            Role::Body(c) if settings.offices.contains_key(c) => {
                vec![Exchange::Responses, Exchange::NoticesToObservatories]
            }
            Role::Body(_) => {
                vec![Exchange::Requests, Exchange::Responses, Exchange::NoticesToObservatories, Exchange::Rights]
            }
            Role::Office(_) => vec![Exchange::Requests, Exchange::NoticesToObservatories, Exchange::Rights],
            // Transfers, and its checkpoints to its witness (an observatory).
            Role::SocialService(_) => vec![Exchange::Transfers, Exchange::NoticesToObservatories],
        }
    }
}

impl Queue {
    /// One queue of each kind, its owner a placeholder as the docs write it: `{code}` for an
    /// observatory, `{body}` for a body, `{body}.{office}` for a requester office or a social
    /// service (docs/PARTNERS.md names each; its test reads this list).
    pub fn kinds() -> Vec<Queue> {
        let observatory = || "{code}".to_owned();
        let body = || "{body}".to_owned();
        let office = || "{body}.{office}".to_owned();
        let kinds = vec![
            Queue::ObservatoryRequests(observatory()),
            Queue::ObservatoryResponses(observatory()),
            Queue::ObservatoryNotices(observatory()),
            Queue::ObservatoryRights(observatory()),
            Queue::BodySolicitations(body()),
            Queue::BodyResults(body()),
            Queue::BodyNotices(body()),
            Queue::BodyRights(body()),
            Queue::OfficeResults(office()),
            Queue::OfficeNotices(office()),
            Queue::OfficeRights(office()),
            Queue::SocialServiceTransfers(office()),
            Queue::SocialServiceNotices(office()),
        ];
        // A new kind must be listed above: this match has no wildcard arm.
        for q in &kinds {
            match q {
                Queue::ObservatoryRequests(_)
                | Queue::ObservatoryResponses(_)
                | Queue::ObservatoryNotices(_)
                | Queue::ObservatoryRights(_)
                | Queue::BodySolicitations(_)
                | Queue::BodyResults(_)
                | Queue::BodyNotices(_)
                | Queue::BodyRights(_)
                | Queue::OfficeResults(_)
                | Queue::OfficeNotices(_)
                | Queue::OfficeRights(_)
                | Queue::SocialServiceTransfers(_)
                | Queue::SocialServiceNotices(_) => {}
            }
        }
        kinds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Topology;
    use crate::Kind;

    fn with_offices() -> BusSettings {
        let mut s = BusSettings::default();
        s.offices.insert("cnaf".into(), vec!["caf-13".into(), "caf-84".into()]);
        s
    }

    #[test]
    fn each_office_of_a_body_with_offices_has_its_own_results_and_notices_queues() {
        let s = with_offices();
        let office = Role::requester(&s, "cnaf", "caf-13").unwrap();
        assert_eq!(office, Role::Office("cnaf.caf-13".into()));
        assert_eq!(Role::requester(&s, "cnam", "cpam-13").unwrap(), Role::Body("cnam".into()));
        assert!(Role::requester(&s, "cnaf", "caf-06").is_err(), "an office the deployment does not declare");
        let results = office.results_queue().unwrap();
        assert_eq!(results.name("p"), "p.requester.cnaf.caf-13.results");
        assert_eq!(results.binding(), (Exchange::Results, "cnaf.caf-13"));
        assert_eq!(office.notices_queue().name("p"), "p.requester.cnaf.caf-13.notices");
        assert_eq!(office.notices_queue().binding(), (Exchange::NoticesToBodies, "cnaf.caf-13"));
        assert!(results.accepts(Kind::Result) && results.accepts(Kind::Refusal) && !results.accepts(Kind::Notice));
        let t = Topology::of(&s);
        let names: Vec<&str> = t.queues.iter().map(|q| q.name.as_str()).collect();
        for name in ["passerelle.requester.cnaf.caf-13.results", "passerelle.requester.cnaf.caf-84.results"] {
            assert!(names.contains(&name), "{name}");
        }
        assert!(!names.contains(&"passerelle.body.cnaf.results"), "no shared results queue for a body with offices");
        assert!(names.contains(&"passerelle.body.cnam.results"), "a body without offices keeps its own");
        assert!(t.bindings.iter().any(|b| b.queue == "passerelle.requester.cnaf.caf-84.results"
            && b.exchange == "passerelle.results"
            && b.routing_key == "cnaf.caf-84"));
        assert_eq!(Role::Body("cnaf".into()).publishes_to(&s), [Exchange::Responses, Exchange::NoticesToObservatories]);
    }
}
