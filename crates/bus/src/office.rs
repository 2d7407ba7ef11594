//! Requester offices. A requester party is a body **and an office** (DESIGN §7.1): a body that
//! lists its offices under `[broker.offices]` has no shared results queue; each office is a party
//! of its own, written `body.office` (`cnaf.caf-13`) in `[broker.identity.users]`, with its own
//! broker user, results queue `{prefix}.requester.{body}.{office}.results` and notices queue
//! `{prefix}.requester.{body}.{office}.notices` (routing key: the party, `cnaf.caf-13`), so no
//! office ever receives another's results.
//!
//! A body without offices keeps the single requester of earlier releases: its results go to
//! `{prefix}.body.{code}.results`, read by the body's own user.
//!
//! A health-insurance social service (`[broker.social_services]`, norm 43 A.3) is written the
//! same way, `body.office` (`carsat-sud-est.ss-13`): [`BusSettings::is_social_service`].

use std::collections::BTreeMap;

use crate::BusSettings;

/// What separates the body from the office in a requester office's party code.
pub const SEPARATOR: char = '.';

/// The party code of a body's requester office: `body.office`.
pub fn party(body: &str, office: &str) -> String {
    format!("{body}{SEPARATOR}{office}")
}

/// The body and the office of an office party code (`None` for a body or observatory code).
pub fn split(party: &str) -> Option<(&str, &str)> {
    party.split_once(SEPARATOR)
}

/// The requester offices of the bodies that have them: body code → office codes.
pub type Offices = BTreeMap<String, Vec<String>>;

/// Every office party of the deployment (`body.office`), in order.
pub fn parties(offices: &Offices) -> Vec<String> {
    offices.iter().flat_map(|(body, list)| list.iter().map(move |office| party(body, office))).collect()
}

/// Why a request's office cannot be a requester party of the deployment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("office {office:?} is not one of the offices [broker.offices] declares for body {body:?}")]
pub struct UndeclaredOffice {
    pub body: String,
    pub office: String,
}

/// The requester party that sends a body's requests from `office` and receives their results:
/// the office party when the body has offices (which must then list `office`), else the body.
pub fn requester_party(offices: &Offices, body: &str, office: &str) -> Result<String, UndeclaredOffice> {
    match offices.get(body) {
        None => Ok(body.to_owned()),
        Some(list) if list.iter().any(|o| o == office) => Ok(party(body, office)),
        Some(_) => Err(UndeclaredOffice { body: body.to_owned(), office: office.to_owned() }),
    }
}

/// Whether broker user `user` may send a request or a receipt whose `sender` is `body`: a user
/// of the body, or of one of the requester offices `[broker.offices]` declares for it (the
/// observatory then checks which office: [`requester_party`] and
/// [`crate::IdentitySettings::may_speak_for`]) — never a social service hosted by the body, whose
/// party is written `body.office` too.
pub fn may_request_for(settings: &BusSettings, user: &str, body: &str) -> bool {
    let identity = &settings.identity;
    identity.may_speak_for(user, body)
        || identity.users.get(user).is_some_and(|parties| {
            parties.iter().any(|p| settings.is_office(p) && split(p).is_some_and(|(b, _)| b == body))
        })
}

impl BusSettings {
    /// [`requester_party`] in this deployment.
    pub fn requester_party(&self, body: &str, office: &str) -> Result<String, UndeclaredOffice> {
        requester_party(&self.offices, body, office)
    }

    /// Whether `party` is an office party of this deployment.
    pub fn is_office(&self, party: &str) -> bool {
        declares(&self.offices, party)
    }

    /// Whether `party` is a social service of this deployment (`[broker.social_services]`,
    /// `body.office`): a party that sends and receives case-file transfers.
    pub fn is_social_service(&self, party: &str) -> bool {
        declares(&self.social_services, party)
    }
}

/// Whether `party` is `body.office` with `office` listed under `body`.
fn declares(offices: &Offices, party: &str) -> bool {
    split(party).is_some_and(|(body, office)| offices.get(body).is_some_and(|l| l.iter().any(|o| o == office)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_with_offices_sends_and_receives_per_office() {
        let mut offices = Offices::new();
        offices.insert("cnaf".into(), vec!["caf-13".into(), "caf-84".into()]);
        assert_eq!(requester_party(&offices, "cnaf", "caf-13").unwrap(), "cnaf.caf-13");
        assert_eq!(requester_party(&offices, "cnam", "cpam-13").unwrap(), "cnam", "no offices: the body");
        let e = requester_party(&offices, "cnaf", "caf-06").unwrap_err();
        assert!(e.to_string().contains("caf-06") && e.to_string().contains("cnaf"), "{e}");
        assert_eq!(parties(&offices), ["cnaf.caf-13", "cnaf.caf-84"]);
        assert_eq!(split("cnaf.caf-13"), Some(("cnaf", "caf-13")));
        assert_eq!(split("cnaf"), None);
    }

    #[test]
    fn an_office_user_may_request_for_its_body_but_speaks_only_for_its_office() {
        let mut s = BusSettings::default();
        s.offices.insert("cnaf".into(), vec!["caf-13".into()]);
        s.identity = crate::IdentitySettings { insecure_any_user: false, ..Default::default() };
        s.identity.users.insert("caf-13".into(), vec!["cnaf.caf-13".into()]);
        s.identity.users.insert("body-cnaf".into(), vec!["cnaf".into()]);
        assert!(may_request_for(&s, "caf-13", "cnaf"));
        assert!(!may_request_for(&s, "caf-13", "cnam"));
        assert!(may_request_for(&s, "body-cnaf", "cnaf"));
        let id = &s.identity;
        assert!(id.may_speak_for("caf-13", "cnaf.caf-13"));
        assert!(!id.may_speak_for("caf-13", "cnaf"), "an office is not its body");
        assert!(!id.may_speak_for("caf-13", "cnaf.caf-84"));
    }
}
