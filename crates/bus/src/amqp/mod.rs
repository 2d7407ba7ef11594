//! The RabbitMQ bus (being built): connection with recovery, topology, publisher, consumers.

use std::sync::Arc;

use crate::{Bus, BusError, BusSettings, Consumer, Handler, Outgoing, Queue, Role};

/// The bus on RabbitMQ.
#[derive(Debug)]
pub struct AmqpBus {
    _private: (),
}

impl AmqpBus {
    /// Connects to the first reachable URL, declares (observatory) or checks (body) the topology.
    pub async fn connect(_settings: &BusSettings, _role: Role) -> Result<AmqpBus, BusError> {
        Err(BusError::Connect("the AMQP bus is not built yet".into()))
    }

    /// Stops every consumer, waits for outstanding confirms, closes the connection.
    pub async fn close(self) {}
}

#[async_trait::async_trait]
impl Bus for AmqpBus {
    async fn publish(&self, _messages: Vec<Outgoing>) -> Result<(), BusError> {
        Err(BusError::Closed)
    }
    async fn consume(&self, _queue: Queue, _handler: Arc<dyn Handler>) -> Result<Consumer, BusError> {
        Err(BusError::Closed)
    }
}
