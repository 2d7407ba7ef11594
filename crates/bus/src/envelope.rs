//! What arrives from the broker before the bus trusts it, and the checks that turn it into a
//! [`Delivery`] or a dead-letter reason. Both buses (AMQP and in-process) run these same checks.

use passerelle_protocol::untrusted::Shown;
use passerelle_protocol::v1::NoticeReason;

use crate::{BusSettings, Delivery, IdentitySettings, Kind, Message, Queue, Rejected};

/// The largest message body a receiver accepts (16 MiB). The largest legitimate message, a
/// result chunk of the biggest allowed chunk size (10,000 persons, every category of every body),
/// stays a few megabytes; anything bigger is refused before it is decoded, so a hostile sender
/// cannot make a daemon decode and hold an arbitrarily large message (RabbitMQ's own limit is
/// 128 MiB).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// The parts of a received message the checks read (AMQP properties and headers, body).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Envelope {
    pub type_name: Option<String>,
    pub body: Vec<u8>,
    pub user_id: Option<String>,
    pub message_id: Option<String>,
    pub correlation_id: Option<String>,
    pub schema_version: Option<i64>,
    /// The `x-passerelle-schema-minor` header (optional: a sender of the release before minors
    /// existed does not set it).
    pub schema_minor: Option<i64>,
    pub chunk_index: Option<i64>,
    pub chunk_count: Option<i64>,
    pub redelivered: bool,
}

/// Why the bus dead-letters a received message before any handler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub kind: Option<Kind>,
    pub reason: String,
    pub code: NoticeReason,
    /// The refusal is about identity (no `user_id`, or one that may not speak for the sender):
    /// nobody is told of it.
    pub identity_refused: bool,
}

impl Envelope {
    /// The envelope a publisher writes for a message.
    pub fn of(message: &Message, message_id: &str, user_id: &str) -> Envelope {
        let chunk = message.chunk();
        Envelope {
            type_name: Some(message.kind().type_name().to_owned()),
            body: message.encode(),
            user_id: Some(user_id.to_owned()),
            message_id: Some(message_id.to_owned()),
            correlation_id: Some(message.case_id().to_owned()),
            schema_version: Some(i64::from(message.schema_version())),
            schema_minor: Some(i64::from(message.schema_minor())),
            chunk_index: chunk.map(|c| i64::from(c.0)),
            chunk_count: chunk.map(|c| i64::from(c.1)),
            redelivered: false,
        }
    }

    /// Runs every check: known type on the right queue, decodable, supported schema version,
    /// headers equal to the fields they copy, a broker user allowed to speak for the sender, for
    /// a witness or rights message a `recipient` that is the queue's owner, for a transfer
    /// message a `sender` that is a social service of the deployment, spoken for by the broker
    /// user itself, and for a rights message a `correlation_id` equal to its `request_id` and,
    /// for a rights request, a `sender` that is an observatory of the deployment.
    pub fn inspect(&self, queue: &Queue, settings: &BusSettings) -> Result<Delivery, Rejection> {
        let identity = &settings.identity;
        let coded = |kind: Option<Kind>, code: NoticeReason, reason: String| Rejection {
            kind,
            reason,
            code,
            identity_refused: code == NoticeReason::NotPermitted,
        };
        let type_name = self.type_name.as_deref().unwrap_or("");
        if self.body.len() > MAX_MESSAGE_BYTES {
            return Err(coded(
                Kind::from_type_name(type_name),
                NoticeReason::Oversized,
                format!(
                    "oversized message: {} bytes, more than the {MAX_MESSAGE_BYTES} a message may have",
                    self.body.len()
                ),
            ));
        }
        let kind = Kind::from_type_name(type_name).ok_or_else(|| {
            coded(None, NoticeReason::WrongType, format!("unknown message type {}", Kind::shown_type_name(type_name)))
        })?;
        let with_code = |code: NoticeReason, reason: String| coded(Some(kind), code, reason);
        let with_kind = |reason: String| with_code(NoticeReason::Malformed, reason);
        if !queue.accepts(kind) {
            return Err(with_code(NoticeReason::WrongType, format!("a {kind} does not belong on this queue")));
        }
        let message = Message::decode(kind, &self.body).map_err(|e| {
            let text = e.to_string();
            let code = if text.contains("schema version") {
                NoticeReason::UnsupportedVersion
            } else {
                NoticeReason::Malformed
            };
            with_code(code, text)
        })?;
        let message_id =
            self.message_id.clone().filter(|m| !m.is_empty()).ok_or_else(|| with_kind("no message_id".into()))?;
        let Some(user_id) = self.user_id.clone().filter(|u| !u.is_empty()) else {
            return Err(with_code(NoticeReason::NotPermitted, "no user_id: the sender cannot be authenticated".into()));
        };
        if self.schema_version != Some(i64::from(message.schema_version())) {
            return Err(with_kind(format!(
                "schema version header {:?} disagrees with the message",
                self.schema_version
            )));
        }
        if self.schema_minor.is_some_and(|m| m != i64::from(message.schema_minor())) {
            return Err(with_kind(format!(
                "schema minor header {:?} disagrees with the message's schema_minor {}",
                self.schema_minor,
                message.schema_minor()
            )));
        }
        let chunk = message.chunk().map(|(i, c)| (i64::from(i), i64::from(c)));
        if (self.chunk_index, self.chunk_count) != (chunk.map(|c| c.0), chunk.map(|c| c.1)) {
            return Err(with_kind(format!(
                "chunk headers {:?}/{:?} disagree with the message",
                self.chunk_index, self.chunk_count
            )));
        }
        if self.correlation_id.as_deref().is_some_and(|c| c != message.case_id()) {
            return Err(with_kind("correlation_id disagrees with the case id".into()));
        }
        // A rights message always names its request in `correlation_id` (`rights.proto`).
        if kind.is_rights() && self.correlation_id.as_deref().is_none_or(str::is_empty) {
            return Err(with_kind(format!("a {kind} without correlation_id (its request_id)")));
        }
        let requester_side = matches!(kind, Kind::Request | Kind::Receipt);
        let speaks = if requester_side {
            // An office's user sends its body's requests; the observatory checks which office.
            crate::office::may_request_for(settings, &user_id, message.sender())
        } else {
            identity.may_speak_for(&user_id, message.sender())
        };
        if !speaks {
            return Err(with_code(
                NoticeReason::NotPermitted,
                format!(
                    "broker user {:?} may not speak for {:?}",
                    Shown::text(&user_id).at_most(QUOTED_CHARS),
                    Shown::id(message.sender()).at_most(QUOTED_CHARS)
                ),
            ));
        }
        // A transfer message speaks for a social service of the deployment, and only that one's
        // own user may send it (never an office's or a body's user, whatever it may request for).
        if kind.is_transfer() && !settings.is_social_service(message.sender()) {
            return Err(with_code(
                NoticeReason::NotPermitted,
                format!(
                    "a {kind} whose sender {:?} is not a social service of the deployment",
                    Shown::id(message.sender()).at_most(QUOTED_CHARS)
                ),
            ));
        }
        // A rights request comes from an observatory of the deployment, whatever the broker user
        // may speak for: a requester may never ask another party for a person's data.
        if kind == Kind::RightsRequest && !settings.observatories.iter().any(|o| o == message.sender()) {
            return Err(with_code(
                NoticeReason::NotPermitted,
                format!(
                    "a {kind} whose sender {:?} is not an observatory of the deployment",
                    Shown::id(message.sender()).at_most(QUOTED_CHARS)
                ),
            ));
        }
        // A witness or rights message is read only by the party it names: one routed to another
        // party's queue (a routing key other than its `recipient`) is refused, never kept there.
        let recipient = message.recipient().unwrap_or_default();
        if (kind.is_witness() || kind.is_rights()) && recipient != queue.owner() {
            return Err(with_code(
                NoticeReason::NotPermitted,
                format!(
                    "a {kind} for {:?} on the queue of {:?}",
                    Shown::id(recipient).at_most(QUOTED_CHARS),
                    Shown::id(queue.owner()).at_most(QUOTED_CHARS)
                ),
            ));
        }
        let unknown_fields = unknown_fields(kind, &message, &self.body);
        Ok(Delivery { message, message_id, user_id, redelivered: self.redelivered, unknown_fields })
    }
}

impl Rejection {
    /// What [`crate::Handler::rejected`] is told about it; `identity` decides whom to tell, and
    /// nobody is told of a refusal on a social service's transfers queue (see
    /// [`crate::notice`]).
    pub fn rejected(self, queue: &Queue, prefix: &str, envelope: &Envelope, identity: &IdentitySettings) -> Rejected {
        let told = !crate::notice::never_told(queue, self.kind);
        Rejected {
            queue: queue.name(prefix),
            kind: self.kind,
            message_id: envelope.message_id.clone(),
            user_id: envelope.user_id.clone(),
            correlation_id: envelope.correlation_id.clone(),
            reason: self.reason,
            code: self.code,
            answer_to: crate::notice::answer_to(identity, envelope.user_id.as_deref(), self.identity_refused)
                .filter(|_| told),
        }
    }
}

/// The versions rule: the paths of the fields unknown to this release in a message whose
/// `schema_minor` is this release's or lower (a violation); none for a message of a higher minor
/// (a newer partner's additive fields, ignored).
fn unknown_fields(kind: Kind, message: &Message, body: &[u8]) -> Vec<String> {
    if message.schema_minor() > crate::SCHEMA_MINOR {
        tracing::debug!(kind = %kind, minor = message.schema_minor(), "a newer minor: its unknown fields are ignored");
        return Vec::new();
    }
    passerelle_protocol::wire::unknown_fields(kind.type_name(), body)
}

/// The most characters of a sender-written value a reason quotes.
const QUOTED_CHARS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_protocol::v1;

    fn response(sender: &str) -> Message {
        Message::Response(v1::Response {
            schema_version: 1,
            sender: sender.into(),
            case_id: "case-1".into(),
            chunk_index: 0,
            chunk_count: 2,
            ..Default::default()
        })
    }

    fn strict() -> BusSettings {
        let mut s = BusSettings {
            identity: IdentitySettings { insecure_any_user: false, ..Default::default() },
            ..Default::default()
        };
        s.identity.users.insert("u-cnaf".into(), vec!["cnaf".into()]);
        s.social_services.insert("carsat-sud-est".into(), vec!["ss-13".into()]);
        s.social_services.insert("cramif".into(), vec!["ss-75".into()]);
        s.identity.users.insert("u-ss-13".into(), vec!["carsat-sud-est.ss-13".into()]);
        s.identity.users.insert("u-ss-75".into(), vec!["cramif.ss-75".into()]);
        s
    }

    fn transfer(sender: &str) -> Message {
        Message::Transfer(v1::Transfer {
            schema_version: 1,
            sender: sender.into(),
            transfer_id: "0190a0b0-0000-7000-8000-0000000000c1".into(),
            chunk_index: 0,
            chunk_count: 1,
            ..Default::default()
        })
    }

    fn queue() -> Queue {
        Queue::ObservatoryResponses("obs".into())
    }

    #[test]
    fn a_well_formed_message_from_its_user_passes() {
        let e = Envelope::of(&response("cnaf"), "m1", "u-cnaf");
        let d = e.inspect(&queue(), &strict()).unwrap();
        assert_eq!(d.user_id, "u-cnaf");
        assert_eq!(d.message_id, "m1");
        assert_eq!(d.message, response("cnaf"));
    }

    #[test]
    fn each_check_has_its_reason() {
        let ok = Envelope::of(&response("cnaf"), "m1", "u-cnaf");
        let reason = |e: Envelope| e.inspect(&queue(), &strict()).unwrap_err().reason;
        assert!(reason(Envelope { type_name: Some("x".into()), ..ok.clone() }).contains("unknown message type"));
        assert!(reason(Envelope { body: vec![0xff; 7], ..ok.clone() }).contains("undecodable"));
        assert!(reason(Envelope { chunk_index: Some(1), ..ok.clone() }).contains("chunk headers"));
        assert!(reason(Envelope { schema_version: None, ..ok.clone() }).contains("schema version"));
        assert!(reason(Envelope { correlation_id: Some("other".into()), ..ok.clone() }).contains("correlation"));
        assert!(reason(Envelope { user_id: None, ..ok.clone() }).contains("no user_id"));
        let huge = Envelope { body: vec![0; MAX_MESSAGE_BYTES + 1], ..ok.clone() };
        assert!(reason(huge).starts_with("oversized message"));
        assert!(reason(Envelope::of(&response("cnam"), "m1", "u-cnaf")).contains("may not speak for"));
        let receipt = Message::Receipt(v1::Receipt { schema_version: 1, ..Default::default() });
        assert!(reason(Envelope::of(&receipt, "m1", "u-cnaf")).contains("does not belong"));
    }

    #[test]
    fn the_schema_minor_header_when_present_equals_the_field() {
        let ok = Envelope::of(&response("cnaf"), "m1", "u-cnaf");
        assert_eq!(ok.schema_minor, Some(0));
        let wrong = Envelope { schema_minor: Some(1), ..ok.clone() }.inspect(&queue(), &strict()).unwrap_err();
        assert!(wrong.reason.contains("schema minor header"), "{wrong:?}");
        assert_eq!(wrong.code, NoticeReason::Malformed);
        Envelope { schema_minor: None, ..ok }.inspect(&queue(), &strict()).expect("a sender before minors");
    }

    #[test]
    fn unknown_fields_are_a_violation_at_the_receiver_s_minor_and_ignored_from_a_newer_one() {
        let at = |minor: u32| {
            let Message::Response(mut r) = response("cnaf") else { unreachable!() };
            r.schema_minor = minor;
            let message = Message::Response(r);
            let mut e = Envelope::of(&message, "m1", "u-cnaf");
            e.body.extend_from_slice(&[14 << 3, 1]); // field 14, a varint: unknown to this release
            e.inspect(&queue(), &strict()).unwrap().unknown_fields
        };
        assert_eq!(at(crate::SCHEMA_MINOR), ["Response#14"]);
        assert_eq!(at(0), ["Response#14"], "a sender before minors is at a lower minor");
        assert!(at(crate::SCHEMA_MINOR + 1).is_empty(), "a newer partner's additive fields");
        let plain = Envelope::of(&response("cnaf"), "m1", "u-cnaf").inspect(&queue(), &strict()).unwrap();
        assert!(plain.unknown_fields.is_empty());
    }

    #[test]
    fn a_social_service_user_may_not_send_a_request_or_receipt_for_the_body_hosting_it() {
        // A deployment whose bodies include a social service's hosting body: the social
        // service's user (`cramif.ss-75`) is not one of that body's requester offices.
        let mut s = strict();
        s.bodies.push("cramif".into());
        s.offices.insert("cnaf".into(), vec!["caf-13".into()]);
        s.identity.users.insert("u-caf-13".into(), vec!["cnaf.caf-13".into()]);
        let q = Queue::ObservatoryRequests("carsat-sud-est".into());
        let receipt = |sender: &str| {
            Message::Receipt(v1::Receipt {
                schema_minor: passerelle_protocol::SCHEMA_MINOR,
                schema_version: 1,
                sender: sender.into(),
                case_id: "0190a0b0-0000-7000-8000-0000000000c2".into(),
                chunks_received: 1,
            })
        };
        let forged = Envelope::of(&receipt("cramif"), "m1", "u-ss-75").inspect(&q, &s).unwrap_err();
        assert!(forged.identity_refused && forged.reason.contains("may not speak for \"cramif\""), "{forged:?}");
        Envelope::of(&receipt("cnaf"), "m2", "u-caf-13").inspect(&q, &s).expect("an office of the body");
    }

    #[test]
    fn a_transfer_comes_from_a_social_service_of_the_deployment_spoken_for_by_its_own_user() {
        let s = strict();
        let b = Queue::SocialServiceTransfers("cramif.ss-75".into());
        let d = Envelope::of(&transfer("carsat-sud-est.ss-13"), "m1", "u-ss-13").inspect(&b, &s).unwrap();
        assert_eq!(
            (d.message.sender(), d.message.case_id()),
            ("carsat-sud-est.ss-13", "0190a0b0-0000-7000-8000-0000000000c1")
        );
        let forged = Envelope::of(&transfer("cramif.ss-75"), "m1", "u-ss-13").inspect(&b, &s).unwrap_err();
        assert!(forged.identity_refused && forged.reason.contains("may not speak for \"cramif.ss-75\""), "{forged:?}");
        let body = Envelope::of(&transfer("cnaf"), "m1", "u-cnaf").inspect(&b, &s).unwrap_err();
        assert!(body.identity_refused && body.reason.contains("not a social service"), "{body:?}");
        let mut insecure = s.clone();
        insecure.identity.insecure_any_user = true;
        let anyone = Envelope::of(&transfer("cramif.ss-93"), "m1", "guest").inspect(&b, &insecure).unwrap_err();
        assert!(anyone.reason.contains("not a social service"), "even when anyone speaks for anyone: {anyone:?}");
        let receipt = Message::TransferReceipt(v1::TransferReceipt {
            schema_version: 1,
            sender: "cramif.ss-75".into(),
            transfer_id: "t".into(),
            ..Default::default()
        });
        let a = Queue::SocialServiceTransfers("carsat-sud-est.ss-13".into());
        Envelope::of(&receipt, "m2", "u-ss-75").inspect(&a, &s).expect("a receipt from the receiving service");
        let wrong = Envelope::of(&receipt, "m2", "u-ss-75").inspect(&queue(), &s).unwrap_err();
        assert_eq!(wrong.code, NoticeReason::WrongType, "a transfer message belongs on a transfers queue only");
        let rejected = forged.rejected(&b, "p", &Envelope::of(&transfer("cramif.ss-75"), "m1", "u-ss-13"), &s.identity);
        assert_eq!((rejected.queue.as_str(), rejected.answer_to), ("p.social-service.cramif.ss-75.transfers", None));
        let malformed =
            Envelope { body: vec![0xff; 3], ..Envelope::of(&transfer("carsat-sud-est.ss-13"), "m3", "u-ss-13") };
        let refusal = malformed.inspect(&b, &s).unwrap_err();
        assert!(!refusal.identity_refused);
        assert_eq!(
            refusal.rejected(&b, "p", &malformed, &s.identity).answer_to,
            None,
            "nobody is told on a transfers queue"
        );
    }
}
