//! The exchanges of the topology and which one each message kind is published to.

use crate::{BusSettings, Kind};

/// The exchanges (direct, durable), named `{prefix}.{requests|solicitations|responses|results}`,
/// the notice exchanges `{prefix}.notices-to-observatories` (bodies write it) and
/// `{prefix}.notices-to-bodies` (observatories write it), the transfers exchange
/// `{prefix}.transfers` (social services write it), and the dead-letter exchange (headers)
/// `{prefix}.dead-letter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exchange {
    Requests,
    Solicitations,
    Responses,
    Results,
    NoticesToObservatories,
    NoticesToBodies,
    DeadLetter,
    /// Social-service case-file transfers between bodies (norm 43, A.3), routing key the
    /// recipient social service's party (`body.office`).
    Transfers,
    /// Rights requests and answers (decree art. 6, `rights.proto`), routing key the recipient's
    /// party (an observatory, a requester office or a requester body).
    Rights,
}

impl Exchange {
    /// The four exchanges that carry the flow.
    pub const FLOW: [Exchange; 4] =
        [Exchange::Requests, Exchange::Solicitations, Exchange::Responses, Exchange::Results];

    /// The two notice exchanges.
    pub const NOTICES: [Exchange; 2] = [Exchange::NoticesToObservatories, Exchange::NoticesToBodies];

    /// Every exchange of the enum (docs/PARTNERS.md names each; its test reads this list).
    pub const ALL: [Exchange; 9] = [
        Exchange::Requests,
        Exchange::Solicitations,
        Exchange::Responses,
        Exchange::Results,
        Exchange::NoticesToObservatories,
        Exchange::NoticesToBodies,
        Exchange::DeadLetter,
        Exchange::Transfers,
        Exchange::Rights,
    ];

    /// Where a message of `kind` with `routing_key` is published: a flow kind by its kind, a
    /// notice or a witness message by its recipient's side (an observatory code of the
    /// deployment, else a body).
    pub fn for_message(kind: Kind, routing_key: &str, settings: &BusSettings) -> Exchange {
        match kind {
            Kind::Request | Kind::Receipt => Exchange::Requests,
            Kind::Solicitation => Exchange::Solicitations,
            Kind::Response => Exchange::Responses,
            Kind::Result | Kind::Refusal => Exchange::Results,
            Kind::Transfer | Kind::TransferReceipt | Kind::TransferAmendment => Exchange::Transfers,
            Kind::RightsRequest | Kind::RightsAnswer => Exchange::Rights,
            Kind::Notice
            | Kind::Checkpoint
            | Kind::CheckpointReceipt
            | Kind::CheckpointQuery
            | Kind::WitnessedCheckpoints => {
                if settings.observatories.iter().any(|o| o == routing_key) {
                    Exchange::NoticesToObservatories
                } else {
                    // A body or a requester office (`body.office`).
                    Exchange::NoticesToBodies
                }
            }
        }
    }

    pub fn name(self, prefix: &str) -> String {
        let suffix = match self {
            Exchange::Requests => "requests",
            Exchange::Solicitations => "solicitations",
            Exchange::Responses => "responses",
            Exchange::Results => "results",
            Exchange::NoticesToObservatories => "notices-to-observatories",
            Exchange::NoticesToBodies => "notices-to-bodies",
            Exchange::DeadLetter => "dead-letter",
            Exchange::Transfers => "transfers",
            Exchange::Rights => "rights",
        };
        format!("{prefix}.{suffix}")
    }

    /// The AMQP exchange type.
    pub fn amqp_type(self) -> &'static str {
        match self {
            Exchange::DeadLetter => "headers",
            _ => "direct",
        }
    }
}
