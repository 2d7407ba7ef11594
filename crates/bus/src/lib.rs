//! The bus of the fragility exchange, of the social-service transfers and of the persons' rights
//! requests (`rights.proto`: the rights exchange, one rights queue per observatory, requester
//! office and body without offices, see [`topology`]): RabbitMQ through lapin with publisher
//! confirms, manual acks, dead-letters with reasons, per-party identity checks and recovery — and
//! an in-process twin with the same semantics for the demo and unit tests.
//!
//! Services code against the [`Bus`] trait: [`Bus::publish`] returns once the broker confirmed
//! every message; [`Bus::consume`] hands each [`Delivery`] (decoded, identity checked) to a
//! [`Handler`] that answers a [`Verdict`].
//!
//! Architecture invariant: only protocol types cross the broker, and a handler never sees a
//! message whose broker user may not speak for its `sender`.
#![forbid(unsafe_code)]

pub mod amqp;
mod consumer;
pub mod definitions;
mod envelope;
mod error;
mod exchange;
mod health;
mod identity;
mod memory;
mod message;
mod notice;
pub mod office;
#[cfg(test)]
mod partners_guide_tests;
#[cfg(test)]
mod rights_tests;
mod role;
#[cfg(test)]
mod seen_tests;
mod settings;
mod stats;
pub mod topology;
#[cfg(test)]
mod transfer_tests;
mod transport;
#[cfg(test)]
mod witness_tests;

pub use amqp::{AmqpBus, ClientCertificate, StartPatience};
pub use consumer::{
    Consumer, Delivery, Handler, Rejected, Verdict, RETRY_BUDGET, RETRY_INITIAL_BACKOFF, RETRY_MAX_BACKOFF,
};
pub use envelope::MAX_MESSAGE_BYTES;
pub use error::BusError;
pub use health::BrokerHealth;
pub use memory::{DeadLetter, InProcessBus, InProcessConnection};
pub use message::{Kind, Message, Outgoing, SCHEMA_MINOR, SCHEMA_VERSION};
pub use notice::{
    bounded as notice_text, identifier as notice_id, NoticeLogger, Reason, MAX_NOTICE_DETAIL, MAX_NOTICE_ID,
};
pub use passerelle_protocol::v1::NoticeReason;
pub use settings::{BusSettings, BusSettingsError, IdentitySettings, TlsSettings};
pub use stats::BusStats;
pub use topology::{Queue, Role};

/// Publishing and consuming, the same for the AMQP bus and the in-process bus.
#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publishes every message and returns once all are confirmed (pipelined confirms within a
    /// bounded window). Any nack, return (unroutable) or expiry is an error; nothing is dropped.
    ///
    /// A message no queue is bound for — a transfer to a social service the deployment does not
    /// declare, a notice to an unknown party — is [`BusError::Returned`] on both buses (the AMQP
    /// bus publishes `mandatory`, and the broker returns it; the in-process bus routes as the
    /// broker would, and sends nothing of the batch). A sender relies on it to mark a transfer
    /// refused, "unknown office".
    async fn publish(&self, messages: Vec<Outgoing>) -> Result<(), BusError>;
    /// Starts consuming with manual acks and bounded prefetch; survives reconnects.
    async fn consume(&self, queue: Queue, handler: std::sync::Arc<dyn Handler>) -> Result<Consumer, BusError>;
}
