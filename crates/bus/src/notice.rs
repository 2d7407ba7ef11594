//! Refusals and the notices that tell them: why a message is refused for good (a reason code of
//! the closed list `v1::NoticeReason` and a short text), and the notice a consumer sends to the
//! party whose message it refused — only when the broker authenticated that party.
//!
//! Who is told: a message that passed the receiver checks names its sender, whose broker user
//! was checked: that party. A message the bus refused before any handler saw it is answered
//! only when its broker-validated `user_id` speaks for exactly one party (strict identity) and
//! the refusal is not about identity: a forged sender is answered by nobody. Only the other
//! side is told (a body tells an observatory, an observatory a body), and a notice is never
//! answered, so no two parties can ping-pong. Nothing on a social service's transfers queue or
//! on a rights queue is answered by a notice ([`never_told`]).

use std::time::{Duration, SystemTime};

use passerelle_protocol::untrusted::Shown;
use passerelle_protocol::v1::{self, NoticeReason};

use crate::{BusSettings, Delivery, IdentitySettings, Kind, Message, Outgoing, Queue, SCHEMA_VERSION};

/// The longest detail a notice carries (characters).
pub const MAX_NOTICE_DETAIL: usize = 200;

/// The longest refused message id a notice repeats (characters).
pub const MAX_NOTICE_ID: usize = 100;

/// How long a notice may wait for its recipient (its AMQP expiration; the queue's TTL is the
/// same backstop).
pub const NOTICE_LIFETIME: Duration = crate::topology::NOTICE_TTL;

/// Why a message is refused for good: a code of the closed list and a short text (ids and codes
/// only). Displays as its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: NoticeReason,
    pub text: String,
}

impl Reason {
    pub fn new(code: NoticeReason, text: impl Into<String>) -> Reason {
        Reason { code, text: text.into() }
    }

    /// The code as the notice names it (`NOTICE_REASON_INVALID`…).
    pub fn code_name(&self) -> &'static str {
        self.code.as_str_name()
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A handler for a party's notices queue that logs each notice (by code and ids, the text
/// bounded) and acknowledges it: how a party's own operator hears why the other side refused
/// one of its messages. A witness message, which shares the queue, is logged as not handled
/// here (its kind and sender) and acknowledged.
#[derive(Debug, Default)]
pub struct NoticeLogger;

#[async_trait::async_trait]
impl crate::Handler for NoticeLogger {
    async fn handle(&self, delivery: Delivery) -> crate::Verdict {
        match &delivery.message {
            Message::Notice(n) => {
                let code = NoticeReason::try_from(n.reason).unwrap_or(NoticeReason::Unspecified).as_str_name();
                tracing::warn!(from = %identifier(&n.sender, 64), code, refused_type = %Kind::shown_type_name(&n.refused_type),
                    refused_message_id = %identifier(&n.refused_message_id, MAX_NOTICE_ID),
                    reason = %bounded(&n.detail, MAX_NOTICE_DETAIL), "a message of this party was refused (notice)");
            }
            // A witness message on a queue whose daemon does not witness yet: acknowledged, so
            // it does not hold back the notices behind it.
            other => {
                tracing::info!(from = %identifier(other.sender(), 64), kind = %other.kind(),
                    "a message that is not a notice, not handled here: acknowledged");
            }
        }
        crate::Verdict::Ack
    }
}

/// A notice to send once a refusal is settled: whom to tell, about which message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoticeDraft {
    /// The refusing party (the consumed queue's owner).
    pub sender: String,
    pub recipient: String,
    pub refused_message_id: String,
    pub refused_type: String,
    pub case_id: String,
}

impl NoticeDraft {
    /// The notice for a delivery a handler refused: its sender passed the identity check.
    /// A request or receipt is answered to the requester party that sent it: its office when its
    /// body has offices (see [`crate::office`]), never the body's own queue.
    pub fn for_delivery(queue: &Queue, settings: &BusSettings, d: &Delivery) -> Option<NoticeDraft> {
        NoticeDraft::addressed(
            queue,
            settings,
            &requester_side_sender(settings, d)?,
            &d.message_id,
            Some(d.message.kind()),
            d.message.case_id(),
        )
    }

    /// The notice for a delivery the bus refused: `answer_to` is the party its broker user
    /// speaks for, when the refusal is not about identity ([`answer_to`]).
    pub fn for_rejection(
        queue: &Queue,
        settings: &BusSettings,
        answer_to: Option<&str>,
        message_id: Option<&str>,
        kind: Option<Kind>,
        correlation_id: Option<&str>,
    ) -> Option<NoticeDraft> {
        NoticeDraft::addressed(
            queue,
            settings,
            answer_to?,
            message_id.unwrap_or(""),
            kind,
            correlation_id.unwrap_or(""),
        )
    }

    fn addressed(
        queue: &Queue,
        settings: &BusSettings,
        recipient: &str,
        message_id: &str,
        kind: Option<Kind>,
        case_id: &str,
    ) -> Option<NoticeDraft> {
        if never_told(queue, kind) {
            return None;
        }
        let other_side = if queue.is_observatory_queue() {
            settings.bodies.iter().any(|p| p == recipient) || settings.is_office(recipient)
        } else {
            settings.observatories.iter().any(|p| p == recipient)
        };
        if !other_side {
            return None;
        }
        Some(NoticeDraft {
            sender: queue.owner().to_owned(),
            recipient: recipient.to_owned(),
            refused_message_id: identifier(message_id, MAX_NOTICE_ID),
            refused_type: kind.map(|k| k.type_name().to_owned()).unwrap_or_default(),
            case_id: if uuid::Uuid::parse_str(case_id).is_ok() { case_id.to_owned() } else { String::new() },
        })
    }

    /// The notice message, expiring after [`NOTICE_LIFETIME`].
    pub fn outgoing(self, reason: &Reason, now: SystemTime) -> Outgoing {
        let notice = v1::Notice {
            schema_version: SCHEMA_VERSION,
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            sender: self.sender,
            recipient: self.recipient.clone(),
            refused_message_id: self.refused_message_id,
            refused_type: self.refused_type,
            case_id: self.case_id,
            reason: reason.code as i32,
            detail: bounded(&reason.text, MAX_NOTICE_DETAIL),
            refused_at: Some(prost_types::Timestamp::from(now)),
        };
        Outgoing::new(Message::Notice(notice), self.recipient, now + NOTICE_LIFETIME)
    }
}

/// Who sent a delivery that passed the identity check: its `sender`, except for a request or a
/// receipt sent by an office's user (the office party: the request's office when the body has
/// offices, else the one party the user speaks for; `None` when there is no telling).
fn requester_side_sender(settings: &BusSettings, d: &Delivery) -> Option<String> {
    let sender = d.message.sender();
    let office = match &d.message {
        Message::Request(r) if settings.offices.contains_key(sender) => Some(r.requester_office.as_str()),
        Message::Receipt(_) if settings.offices.contains_key(sender) => None,
        _ => return Some(sender.to_owned()),
    };
    let party = office.and_then(|o| settings.requester_party(sender, o).ok());
    match party {
        Some(party) if settings.identity.may_speak_for(&d.user_id, &party) => Some(party),
        _ if settings.identity.insecure_any_user => None,
        _ => answer_to(&settings.identity, Some(&d.user_id), false),
    }
}

/// Whether a refusal on `queue` (of a message of `kind`, when known) is told to nobody: nothing
/// that travels as a notice (a notice, a witness message) is answered, and neither is anything
/// on a social service's transfers queue, nor a transfer message anywhere — a social service
/// answers a transfer it refuses with a `TransferReceipt`, and may not write the notice exchange
/// towards bodies; what it cannot read (malformed, wrong type, a forged sender) is only
/// dead-lettered. Nor is anything on a rights queue or any rights message (`rights.proto`):
/// the asking observatory marks a party that never answers as unanswered.
pub(crate) fn never_told(queue: &Queue, kind: Option<Kind>) -> bool {
    queue.is_notice_queue()
        || matches!(
            queue,
            Queue::SocialServiceTransfers(_)
                | Queue::ObservatoryRights(_)
                | Queue::OfficeRights(_)
                | Queue::BodyRights(_)
        )
        || kind.is_some_and(|k| k.travels_as_notice() || k.is_transfer() || k.is_rights())
}

/// The party a refused delivery's broker user speaks for, if exactly one and the refusal is not
/// about identity (a message without `user_id`, or whose user may not speak for its sender, is
/// answered by nobody).
pub(crate) fn answer_to(identity: &IdentitySettings, user_id: Option<&str>, identity_refused: bool) -> Option<String> {
    if identity_refused || identity.insecure_any_user {
        return None;
    }
    match identity.users.get(user_id?)?.as_slice() {
        [party] => Some(party.clone()),
        _ => None,
    }
}

/// A text as a notice carries it: [`Shown::text`] (escaped, NIR-shaped runs masked), then at
/// most `max` characters.
pub fn bounded(text: &str, max: usize) -> String {
    at_most(Shown::text(text).at_most(max).to_string(), max)
}

/// An identifier as a notice carries it: [`Shown::id`] (withheld unless it has the shape of an
/// identifier, so no name or NIR a sender put in a message id travels or reaches a log), then at
/// most `max` characters.
pub fn identifier(text: &str, max: usize) -> String {
    at_most(Shown::id(text).at_most(max).to_string(), max)
}

fn at_most(mut text: String, max: usize) -> String {
    if text.chars().count() > max {
        text = text.chars().take(max.saturating_sub(1)).collect();
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBSERVATORY: &str = "carsat-sud-est";

    fn strict() -> BusSettings {
        let mut s = BusSettings::default();
        s.identity.insecure_any_user = false;
        s.identity.users.insert("u-cnaf".into(), vec!["cnaf".into()]);
        s.identity.users.insert("u-both".into(), vec!["cnaf".into(), "cnam".into()]);
        s
    }

    #[test]
    fn only_an_authenticated_party_of_the_other_side_is_told() {
        let s = strict();
        let obs = Queue::ObservatoryResponses("carsat-sud-est".into());
        let to = |user: Option<&str>, refused| answer_to(&s.identity, user, refused);
        assert_eq!(to(Some("u-cnaf"), false).as_deref(), Some("cnaf"));
        assert_eq!(to(Some("u-cnaf"), true), None, "an identity refusal is answered by nobody");
        assert_eq!(to(Some("u-both"), false), None, "a user of several parties: nobody to pick");
        assert_eq!(to(Some("stranger"), false), None);
        assert_eq!(to(None, false), None);
        let draft = NoticeDraft::for_rejection(&obs, &s, Some("cnaf"), Some("m-1"), Some(Kind::Response), Some("x"));
        let draft = draft.unwrap();
        assert_eq!(
            (draft.sender.as_str(), draft.recipient.as_str(), draft.case_id.as_str()),
            ("carsat-sud-est", "cnaf", "")
        );
        let body_queue = Queue::BodySolicitations("cnaf".into());
        assert!(NoticeDraft::for_rejection(&body_queue, &s, Some("cnam"), None, None, None).is_none(), "not a body");
        let notices = Queue::ObservatoryNotices("carsat-sud-est".into());
        assert!(
            NoticeDraft::for_rejection(&notices, &s, Some("cnaf"), None, None, None).is_none(),
            "never about a notice"
        );
    }

    #[test]
    fn notice_texts_are_bounded_and_mask_nir_shaped_runs() {
        let nir = "1500575123456 78";
        let text = bounded(&format!("case {nir}"), 200);
        assert!(!text.contains("1500575123456") && text.starts_with("case "), "{text}");
        let id = "0190a0b0-c3d4-7e5f-8a6b-9c0d1e2f3a4b";
        assert_eq!(bounded(id, 200), id, "a UUID is not a NIR");
        assert_eq!(identifier(id, 100), id);
        let forged = identifier("message id Marie DUPONT", 100);
        assert!(!forged.contains("DUPONT"), "a name in a message id is withheld: {forged}");
        assert!(bounded(&"x".repeat(500), 200).chars().count() <= 200);
        assert!(!bounded("a\nb", 200).contains('\n'));
    }

    #[test]
    fn nothing_on_a_transfers_queue_nor_any_transfer_message_is_answered_by_a_notice() {
        let mut s = strict();
        s.social_services.insert("cramif".into(), vec!["ss-75".into()]);
        s.identity.users.insert("u-ss-75".into(), vec!["cramif.ss-75".into()]);
        let transfers = Queue::SocialServiceTransfers("cramif.ss-75".into());
        for kind in [None, Some(Kind::Transfer), Some(Kind::TransferReceipt), Some(Kind::Response)] {
            let draft = NoticeDraft::for_rejection(&transfers, &s, Some(OBSERVATORY), Some("m-1"), kind, None);
            assert!(draft.is_none(), "{kind:?}");
        }
        let obs = Queue::ObservatoryResponses(OBSERVATORY.into());
        for kind in Kind::TRANSFER {
            assert!(NoticeDraft::for_rejection(&obs, &s, Some("cnaf"), Some("m-1"), Some(kind), None).is_none());
        }
        assert!(never_told(&Queue::SocialServiceNotices("cramif.ss-75".into()), None));
        assert!(!never_told(&Queue::BodySolicitations("cnaf".into()), Some(Kind::Solicitation)));
    }
}
