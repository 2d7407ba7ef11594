//! The message types of the flow, the notice, the four witness messages and the three transfer
//! messages as one typed enum,
//! their protobuf codec and the checks every receiver applies before a handler sees a message
//! (schema version, chunk numbering).

use std::time::SystemTime;

use passerelle_protocol::untrusted::Shown;
use passerelle_protocol::v1;
use prost::Message as _;

use crate::BusError;

/// The only schema version this build speaks (`SchemaVersion::SCHEMA_VERSION_1`).
pub const SCHEMA_VERSION: i32 = v1::SchemaVersion::SchemaVersion1 as i32;
pub use passerelle_protocol::SCHEMA_MINOR;

/// The six message types of the flow, the notice a party sends about a message it refused, and
/// the four messages that carry a party's trail checkpoints to its witness and back
/// (`witness.proto`, DESIGN §7.1), and the three of a social-service file's transfer between
/// bodies (`transfer.proto`, DESIGN §7.2); the AMQP `type` property is `passerelle.v1.<Name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Request,
    Solicitation,
    Response,
    Result,
    Receipt,
    Refusal,
    Notice,
    /// Writer → witness: a signed head of one of the writer's trails.
    Checkpoint,
    /// Witness → writer: whether it keeps a checkpoint.
    CheckpointReceipt,
    /// Writer → witness: every checkpoint held of a trail and year, please.
    CheckpointQuery,
    /// Witness → writer: the answer to a query.
    WitnessedCheckpoints,
    /// Sending social service → receiving social service: a case file (`transfer.proto`).
    Transfer,
    /// Receiving social service → sending one: accepted, or refused with why.
    TransferReceipt,
    /// Sending social service → receiving one: a rectification or an erasure sent on.
    TransferAmendment,
    /// The competent observatory → an observatory or a requester party: what do you hold about
    /// this person (or: correct it) (`rights.proto`, DESIGN §7.3).
    RightsRequest,
    /// The party asked → the competent observatory: what it holds (and changed).
    RightsAnswer,
}

impl Kind {
    /// Every kind, in flow order, then the witness messages.
    pub const ALL: [Kind; 16] = [
        Kind::Request,
        Kind::Solicitation,
        Kind::Response,
        Kind::Result,
        Kind::Receipt,
        Kind::Refusal,
        Kind::Notice,
        Kind::Checkpoint,
        Kind::CheckpointReceipt,
        Kind::CheckpointQuery,
        Kind::WitnessedCheckpoints,
        Kind::Transfer,
        Kind::TransferReceipt,
        Kind::TransferAmendment,
        Kind::RightsRequest,
        Kind::RightsAnswer,
    ];

    /// The two messages of a rights request (decree art. 6): on the rights exchange, routing key
    /// the recipient's party code.
    pub const RIGHTS: [Kind; 2] = [Kind::RightsRequest, Kind::RightsAnswer];

    /// The three messages of a social-service file's transfer between bodies (norm 43, A.3):
    /// on the transfers exchange, routing key the recipient social service's party code.
    pub const TRANSFER: [Kind; 3] = [Kind::Transfer, Kind::TransferReceipt, Kind::TransferAmendment];

    /// The four witness messages, which travel as notices do.
    pub const WITNESS: [Kind; 4] =
        [Kind::Checkpoint, Kind::CheckpointReceipt, Kind::CheckpointQuery, Kind::WitnessedCheckpoints];

    /// The full protobuf name, used as the AMQP `type` property.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Request => "passerelle.v1.Request",
            Kind::Solicitation => "passerelle.v1.Solicitation",
            Kind::Response => "passerelle.v1.Response",
            Kind::Result => "passerelle.v1.Result",
            Kind::Receipt => "passerelle.v1.Receipt",
            Kind::Refusal => "passerelle.v1.Refusal",
            Kind::Notice => "passerelle.v1.Notice",
            Kind::Checkpoint => "passerelle.v1.Checkpoint",
            Kind::CheckpointReceipt => "passerelle.v1.CheckpointReceipt",
            Kind::CheckpointQuery => "passerelle.v1.CheckpointQuery",
            Kind::WitnessedCheckpoints => "passerelle.v1.WitnessedCheckpoints",
            Kind::Transfer => "passerelle.v1.Transfer",
            Kind::TransferReceipt => "passerelle.v1.TransferReceipt",
            Kind::TransferAmendment => "passerelle.v1.TransferAmendment",
            Kind::RightsRequest => "passerelle.v1.RightsRequest",
            Kind::RightsAnswer => "passerelle.v1.RightsAnswer",
        }
    }

    /// The kind named by an AMQP `type` property, if it is one of ours.
    pub fn from_type_name(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.type_name() == s)
    }

    /// An AMQP `type` property as logs and reasons quote it: a name of our form
    /// (`passerelle.v<n>.<Name>`, known or not) as is, any other text as an outside identifier
    /// ([`Shown::id`]: withheld unless it has the shape of one).
    pub fn shown_type_name(s: &str) -> String {
        let version_and_name = s.strip_prefix("passerelle.v").and_then(|rest| rest.split_once('.'));
        let ours_in_form = version_and_name.is_some_and(|(version, name)| {
            (1..=3).contains(&version.len())
                && version.bytes().all(|b| b.is_ascii_digit())
                && (1..=32).contains(&name.len())
                && name.bytes().all(|b| b.is_ascii_alphabetic())
        });
        if ours_in_form {
            s.to_owned()
        } else {
            Shown::id(s).to_string()
        }
    }

    /// Whether messages of this kind are split in numbered chunks.
    pub fn is_chunked(self) -> bool {
        !matches!(self, Kind::Receipt | Kind::Refusal | Kind::TransferReceipt | Kind::TransferAmendment)
            && !self.travels_as_notice()
            && !self.is_rights()
    }

    /// Whether it is one of the three transfer messages ([`Kind::TRANSFER`]).
    pub fn is_transfer(self) -> bool {
        Kind::TRANSFER.contains(&self)
    }

    /// Whether it is one of the two rights messages ([`Kind::RIGHTS`]).
    pub fn is_rights(self) -> bool {
        Kind::RIGHTS.contains(&self)
    }

    /// Whether it is one of the four witness messages.
    pub fn is_witness(self) -> bool {
        Kind::WITNESS.contains(&self)
    }

    /// Whether it travels as a notice does (a notice or a witness message): on the notice
    /// exchange of its recipient's side, routing key its `recipient`, read from the recipient's
    /// notices queue; belongs to no case; never answered by a notice when refused.
    pub fn travels_as_notice(self) -> bool {
        self == Kind::Notice || self.is_witness()
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.type_name())
    }
}

/// A decoded, typed message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Request(v1::Request),
    Solicitation(v1::Solicitation),
    Response(v1::Response),
    Result(v1::Result),
    Receipt(v1::Receipt),
    Refusal(v1::Refusal),
    Notice(v1::Notice),
    Checkpoint(v1::Checkpoint),
    CheckpointReceipt(v1::CheckpointReceipt),
    CheckpointQuery(v1::CheckpointQuery),
    WitnessedCheckpoints(v1::WitnessedCheckpoints),
    Transfer(v1::Transfer),
    TransferReceipt(v1::TransferReceipt),
    TransferAmendment(v1::TransferAmendment),
    RightsRequest(v1::RightsRequest),
    RightsAnswer(v1::RightsAnswer),
}

impl Message {
    pub fn kind(&self) -> Kind {
        match self {
            Message::Request(_) => Kind::Request,
            Message::Solicitation(_) => Kind::Solicitation,
            Message::Response(_) => Kind::Response,
            Message::Result(_) => Kind::Result,
            Message::Receipt(_) => Kind::Receipt,
            Message::Refusal(_) => Kind::Refusal,
            Message::Notice(_) => Kind::Notice,
            Message::Checkpoint(_) => Kind::Checkpoint,
            Message::CheckpointReceipt(_) => Kind::CheckpointReceipt,
            Message::CheckpointQuery(_) => Kind::CheckpointQuery,
            Message::WitnessedCheckpoints(_) => Kind::WitnessedCheckpoints,
            Message::Transfer(_) => Kind::Transfer,
            Message::TransferReceipt(_) => Kind::TransferReceipt,
            Message::TransferAmendment(_) => Kind::TransferAmendment,
            Message::RightsRequest(_) => Kind::RightsRequest,
            Message::RightsAnswer(_) => Kind::RightsAnswer,
        }
    }

    /// The protobuf `sender` field: the one claim of identity the receiver checks.
    pub fn sender(&self) -> &str {
        match self {
            Message::Request(m) => &m.sender,
            Message::Solicitation(m) => &m.sender,
            Message::Response(m) => &m.sender,
            Message::Result(m) => &m.sender,
            Message::Receipt(m) => &m.sender,
            Message::Refusal(m) => &m.sender,
            Message::Notice(m) => &m.sender,
            Message::Checkpoint(m) => &m.sender,
            Message::CheckpointReceipt(m) => &m.sender,
            Message::CheckpointQuery(m) => &m.sender,
            Message::WitnessedCheckpoints(m) => &m.sender,
            Message::Transfer(m) => &m.sender,
            Message::TransferReceipt(m) => &m.sender,
            Message::TransferAmendment(m) => &m.sender,
            Message::RightsRequest(m) => &m.sender,
            Message::RightsAnswer(m) => &m.sender,
        }
    }

    /// The protobuf `recipient` field of the kinds that travel as notices do and of the rights
    /// messages (the routing key they are published with, and the owner of the queue that reads
    /// them); `None` for the flow kinds, which are routed by kind.
    pub fn recipient(&self) -> Option<&str> {
        match self {
            Message::Notice(m) => Some(&m.recipient),
            Message::Checkpoint(m) => Some(&m.recipient),
            Message::CheckpointReceipt(m) => Some(&m.recipient),
            Message::CheckpointQuery(m) => Some(&m.recipient),
            Message::WitnessedCheckpoints(m) => Some(&m.recipient),
            Message::RightsRequest(m) => Some(&m.recipient),
            Message::RightsAnswer(m) => Some(&m.recipient),
            Message::Request(_)
            | Message::Solicitation(_)
            | Message::Response(_)
            | Message::Result(_)
            | Message::Receipt(_)
            | Message::Refusal(_)
            | Message::Transfer(_)
            | Message::TransferReceipt(_)
            | Message::TransferAmendment(_) => None,
        }
    }

    /// The case it belongs to (for a transfer message, the transfer id; for a rights message,
    /// the request id: its `correlation_id`);
    /// empty for the witness messages, which belong to none.
    pub fn case_id(&self) -> &str {
        match self {
            Message::Request(m) => &m.case_id,
            Message::Solicitation(m) => &m.case_id,
            Message::Response(m) => &m.case_id,
            Message::Result(m) => &m.case_id,
            Message::Receipt(m) => &m.case_id,
            Message::Refusal(m) => &m.case_id,
            Message::Notice(m) => &m.case_id,
            Message::Checkpoint(_)
            | Message::CheckpointReceipt(_)
            | Message::CheckpointQuery(_)
            | Message::WitnessedCheckpoints(_) => "",
            Message::Transfer(m) => &m.transfer_id,
            Message::TransferReceipt(m) => &m.transfer_id,
            Message::TransferAmendment(m) => &m.transfer_id,
            Message::RightsRequest(m) => &m.request_id,
            Message::RightsAnswer(m) => &m.request_id,
        }
    }

    /// The protobuf schema version field.
    pub fn schema_version(&self) -> i32 {
        match self {
            Message::Request(m) => m.schema_version,
            Message::Solicitation(m) => m.schema_version,
            Message::Response(m) => m.schema_version,
            Message::Result(m) => m.schema_version,
            Message::Receipt(m) => m.schema_version,
            Message::Refusal(m) => m.schema_version,
            Message::Notice(m) => m.schema_version,
            Message::Checkpoint(m) => m.schema_version,
            Message::CheckpointReceipt(m) => m.schema_version,
            Message::CheckpointQuery(m) => m.schema_version,
            Message::WitnessedCheckpoints(m) => m.schema_version,
            Message::Transfer(m) => m.schema_version,
            Message::TransferReceipt(m) => m.schema_version,
            Message::TransferAmendment(m) => m.schema_version,
            Message::RightsRequest(m) => m.schema_version,
            Message::RightsAnswer(m) => m.schema_version,
        }
    }

    /// The protobuf schema minor version field (`schema_minor`, 0 from a sender of the release
    /// before minors existed).
    pub fn schema_minor(&self) -> u32 {
        match self {
            Message::Request(m) => m.schema_minor,
            Message::Solicitation(m) => m.schema_minor,
            Message::Response(m) => m.schema_minor,
            Message::Result(m) => m.schema_minor,
            Message::Receipt(m) => m.schema_minor,
            Message::Refusal(m) => m.schema_minor,
            Message::Notice(m) => m.schema_minor,
            Message::Checkpoint(m) => m.schema_minor,
            Message::CheckpointReceipt(m) => m.schema_minor,
            Message::CheckpointQuery(m) => m.schema_minor,
            Message::WitnessedCheckpoints(m) => m.schema_minor,
            Message::Transfer(m) => m.schema_minor,
            Message::TransferReceipt(m) => m.schema_minor,
            Message::TransferAmendment(m) => m.schema_minor,
            Message::RightsRequest(m) => m.schema_minor,
            Message::RightsAnswer(m) => m.schema_minor,
        }
    }

    /// `(chunk_index, chunk_count)` for the chunked kinds.
    pub fn chunk(&self) -> Option<(u32, u32)> {
        match self {
            Message::Request(m) => Some((m.chunk_index, m.chunk_count)),
            Message::Solicitation(m) => Some((m.chunk_index, m.chunk_count)),
            Message::Response(m) => Some((m.chunk_index, m.chunk_count)),
            Message::Result(m) => Some((m.chunk_index, m.chunk_count)),
            Message::Transfer(m) => Some((m.chunk_index, m.chunk_count)),
            Message::TransferReceipt(_)
            | Message::TransferAmendment(_)
            | Message::RightsRequest(_)
            | Message::RightsAnswer(_) => None,
            Message::Receipt(_)
            | Message::Refusal(_)
            | Message::Notice(_)
            | Message::Checkpoint(_)
            | Message::CheckpointReceipt(_)
            | Message::CheckpointQuery(_)
            | Message::WitnessedCheckpoints(_) => None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        match self {
            Message::Request(m) => m.encode_to_vec(),
            Message::Solicitation(m) => m.encode_to_vec(),
            Message::Response(m) => m.encode_to_vec(),
            Message::Result(m) => m.encode_to_vec(),
            Message::Receipt(m) => m.encode_to_vec(),
            Message::Refusal(m) => m.encode_to_vec(),
            Message::Notice(m) => m.encode_to_vec(),
            Message::Checkpoint(m) => m.encode_to_vec(),
            Message::CheckpointReceipt(m) => m.encode_to_vec(),
            Message::CheckpointQuery(m) => m.encode_to_vec(),
            Message::WitnessedCheckpoints(m) => m.encode_to_vec(),
            Message::Transfer(m) => m.encode_to_vec(),
            Message::TransferReceipt(m) => m.encode_to_vec(),
            Message::TransferAmendment(m) => m.encode_to_vec(),
            Message::RightsRequest(m) => m.encode_to_vec(),
            Message::RightsAnswer(m) => m.encode_to_vec(),
        }
    }

    /// Decodes bytes of a known kind, then refuses a schema version other than 1 and a chunk
    /// numbering that cannot be (`chunk_count` 0 or `chunk_index >= chunk_count`).
    pub fn decode(kind: Kind, bytes: &[u8]) -> Result<Message, BusError> {
        let bad = |e: prost::DecodeError| BusError::Decode(format!("not a valid {kind}: {e}"));
        let message = match kind {
            Kind::Request => Message::Request(v1::Request::decode(bytes).map_err(bad)?),
            Kind::Solicitation => Message::Solicitation(v1::Solicitation::decode(bytes).map_err(bad)?),
            Kind::Response => Message::Response(v1::Response::decode(bytes).map_err(bad)?),
            Kind::Result => Message::Result(v1::Result::decode(bytes).map_err(bad)?),
            Kind::Receipt => Message::Receipt(v1::Receipt::decode(bytes).map_err(bad)?),
            Kind::Refusal => Message::Refusal(v1::Refusal::decode(bytes).map_err(bad)?),
            Kind::Notice => Message::Notice(v1::Notice::decode(bytes).map_err(bad)?),
            Kind::Checkpoint => Message::Checkpoint(v1::Checkpoint::decode(bytes).map_err(bad)?),
            Kind::CheckpointReceipt => Message::CheckpointReceipt(v1::CheckpointReceipt::decode(bytes).map_err(bad)?),
            Kind::CheckpointQuery => Message::CheckpointQuery(v1::CheckpointQuery::decode(bytes).map_err(bad)?),
            Kind::WitnessedCheckpoints => {
                Message::WitnessedCheckpoints(v1::WitnessedCheckpoints::decode(bytes).map_err(bad)?)
            }
            Kind::Transfer => Message::Transfer(v1::Transfer::decode(bytes).map_err(bad)?),
            Kind::TransferReceipt => Message::TransferReceipt(v1::TransferReceipt::decode(bytes).map_err(bad)?),
            Kind::TransferAmendment => Message::TransferAmendment(v1::TransferAmendment::decode(bytes).map_err(bad)?),
            Kind::RightsRequest => Message::RightsRequest(v1::RightsRequest::decode(bytes).map_err(bad)?),
            Kind::RightsAnswer => Message::RightsAnswer(v1::RightsAnswer::decode(bytes).map_err(bad)?),
        };
        message.check()?;
        Ok(message)
    }

    /// The checks `decode` applies, for messages built in memory.
    pub fn check(&self) -> Result<(), BusError> {
        if self.schema_version() != SCHEMA_VERSION {
            return Err(BusError::Decode(format!(
                "unsupported schema version {} in a {}",
                self.schema_version(),
                self.kind()
            )));
        }
        if let Some((index, count)) = self.chunk() {
            if index >= count {
                return Err(BusError::Decode(format!("chunk index {index} not below chunk count {count}")));
            }
        }
        Ok(())
    }
}

/// A message to publish. The exchange follows from the kind:
///   Request, Receipt → requests exchange, routing key = observatory code;
///   Solicitation     → solicitations exchange, routing key = body code;
///   Response         → responses exchange, routing key = observatory code;
///   Result, Refusal  → results exchange, routing key = requester body code;
///   Notice, and the witness messages (Checkpoint, CheckpointReceipt, CheckpointQuery,
///   WitnessedCheckpoints) → the notice exchange of the recipient's side, routing key = its
///   code ([`Outgoing::to_recipient`]);
///   Transfer, TransferReceipt, TransferAmendment → transfers exchange, routing key = the
///   recipient social service's party code (`body.office`);
///   RightsRequest, RightsAnswer → rights exchange, routing key = the recipient's party code
///   (an observatory, a requester office `body.office` or a requester body).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub message: Message,
    pub routing_key: String,
    /// Stable id (UUID v7): receivers' inboxes dedupe on it; an outbox re-publish keeps it.
    pub message_id: uuid::Uuid,
    /// The end of the case's 30-day cap; the AMQP `expiration` is the time left until then.
    /// Publishing a message whose cap has passed is an error (`BusError::Expired`), never a send.
    pub expires_at: SystemTime,
}

impl Outgoing {
    /// A message with a fresh UUID v7 id.
    pub fn new(message: Message, routing_key: impl Into<String>, expires_at: SystemTime) -> Self {
        Outgoing { message, routing_key: routing_key.into(), message_id: uuid::Uuid::now_v7(), expires_at }
    }

    /// A message that travels as a notice does, or a rights message, addressed to its
    /// `recipient` (the routing key), with a fresh id; `None` for a flow kind, which is routed
    /// by kind.
    pub fn to_recipient(message: Message, expires_at: SystemTime) -> Option<Self> {
        let recipient = message.recipient()?.to_owned();
        Some(Outgoing::new(message, recipient, expires_at))
    }

    /// The time left before `expires_at`, or `BusError::Expired` when none is left.
    pub fn time_left(&self, now: SystemTime) -> Result<std::time::Duration, BusError> {
        match self.expires_at.duration_since(now) {
            Ok(left) if !left.is_zero() => Ok(left),
            _ => Err(BusError::Expired { message_id: self.message_id.to_string() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(version: i32) -> Message {
        Message::Receipt(v1::Receipt {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: version,
            sender: "cnaf".into(),
            case_id: "c1".into(),
            chunks_received: 1,
        })
    }

    #[test]
    fn type_names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_type_name(k.type_name()), Some(k));
        }
        assert_eq!(Kind::from_type_name("passerelle.v2.Request"), None);
        assert_eq!(Kind::shown_type_name("passerelle.v2.Request"), "passerelle.v2.Request");
        assert_eq!(Kind::shown_type_name("passerelle.v1.Result"), "passerelle.v1.Result");
        assert_eq!(Kind::shown_type_name("Marie DUPONT"), "(withheld: 12 characters, not an identifier)");
        assert_eq!(Kind::shown_type_name("passerelle.v1.Re\nquest"), "(withheld: 22 characters, not an identifier)");
    }

    #[test]
    fn decode_refuses_other_schema_versions() {
        let ok = receipt(SCHEMA_VERSION);
        assert_eq!(Message::decode(Kind::Receipt, &ok.encode()).unwrap(), ok);
        let err = Message::decode(Kind::Receipt, &receipt(2).encode()).unwrap_err();
        assert!(err.to_string().contains("schema version"), "{err}");
        assert!(Message::decode(Kind::Receipt, &receipt(0).encode()).is_err());
    }

    #[test]
    fn decode_refuses_impossible_chunks() {
        let m = |index, count| {
            Message::Response(v1::Response {
                schema_version: SCHEMA_VERSION,
                chunk_index: index,
                chunk_count: count,
                ..Default::default()
            })
        };
        assert!(Message::decode(Kind::Response, &m(0, 1).encode()).is_ok());
        assert!(Message::decode(Kind::Response, &m(1, 1).encode()).is_err());
        assert!(Message::decode(Kind::Response, &m(0, 0).encode()).is_err());
        assert_eq!(m(2, 3).chunk(), Some((2, 3)));
    }

    #[test]
    fn garbage_does_not_decode() {
        assert!(Message::decode(Kind::Request, &[0xff, 0xff, 0xff, 0x01]).is_err());
    }

    #[test]
    fn publishing_after_the_cap_is_an_error() {
        let now = SystemTime::now();
        let o = Outgoing::new(receipt(1), "obs", now);
        assert!(matches!(o.time_left(now), Err(BusError::Expired { .. })));
        assert!(o.time_left(now - std::time::Duration::from_secs(1)).is_ok());
        assert_eq!(o.message_id.get_version_num(), 7);
    }
}
