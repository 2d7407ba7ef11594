//! `BusError`: every way the bus can fail, as the services see it.

/// Why a bus operation failed. Nothing is dropped silently: a publish that returns `Ok` was
/// confirmed by the broker for every message.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// No broker URL could be connected to (after the retries the caller asked for).
    #[error("cannot connect to the broker: {0}")]
    Connect(String),
    /// Declaring (or, for a body, passively checking) the topology failed.
    #[error("cannot declare the broker topology ({what}): {detail}")]
    Declare { what: String, detail: String },
    /// The broker refused a message (negative publisher confirm).
    #[error("the broker refused message {message_id} (nack)")]
    Nacked { message_id: String },
    /// The broker could not route a mandatory message to any queue.
    #[error("message {message_id} is unroutable: no queue for routing key {routing_key:?} on {exchange:?}")]
    Returned { message_id: String, exchange: String, routing_key: String },
    /// The message's 30-day cap has passed: it is never sent.
    #[error("message {message_id} has passed its retention cap and is not sent")]
    Expired { message_id: String },
    /// Bytes that are not a valid message of this schema.
    #[error("undecodable message: {0}")]
    Decode(String),
    /// An AMQP operation failed (channel or connection error).
    #[error("broker error while {context}: {detail}")]
    Amqp { context: &'static str, detail: String },
    /// The TLS files could not be read or used.
    #[error("TLS settings unusable: {0}")]
    Tls(String),
    /// The settings are inconsistent (e.g. a queue for an unknown party).
    #[error("invalid bus settings: {0}")]
    Settings(String),
    /// Another observatory's connection holds the territory's lock (at start, not waiting).
    #[error("another observatory runs territory {territory}: its lock is held by {holder}")]
    TerritoryHeld { territory: String, holder: String },
    /// The territory's lock was taken by another observatory while this one was disconnected:
    /// the bus closed, so two observatories never consume at once.
    #[error(
        "the lock of territory {territory} was taken by another observatory while this one was disconnected: {holder}"
    )]
    TerritoryLost { territory: String, holder: String },
    /// The bus was closed.
    #[error("the bus is closed")]
    Closed,
}

impl BusError {
    /// Wraps a lapin error with what the bus was doing.
    pub(crate) fn amqp(context: &'static str, e: impl std::fmt::Display) -> BusError {
        BusError::Amqp { context, detail: e.to_string() }
    }
}
