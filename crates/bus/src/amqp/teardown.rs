//! Deleting a deployment's topology: every queue and exchange of its prefix. For runs that own
//! their prefix (the demo over RabbitMQ, tests, benchmarks), so a broker shared by many runs
//! keeps nothing of theirs. Never for a real deployment: queued messages are deleted with their
//! queues.

use std::sync::Arc;

use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};

use super::connection::Connector;
use crate::topology::Topology;
use crate::{BusError, BusSettings, Role};

/// Deletes every queue and exchange of `settings`' topology (those that exist; a missing one is
/// not an error). Connects as the deployment's first observatory, with the configure right that
/// deleting needs; stop and close the services using the topology first.
pub async fn delete_topology(settings: &BusSettings) -> Result<(), BusError> {
    let observatory = settings
        .observatories
        .first()
        .ok_or_else(|| BusError::Settings("no observatory in the deployment: nothing to connect as".into()))?;
    let connector = Arc::new(Connector::new(settings, Role::Observatory(observatory.clone()))?);
    let live = connector.live().await?;
    let topology = Topology::of(settings);
    let mut result = Ok(());
    for q in &topology.queues {
        // A failed delete closes the channel: one channel per operation keeps the others going.
        let deleted = async {
            let ch = live.conn.create_channel().await.map_err(|e| BusError::amqp("opening a channel", e))?;
            ch.queue_delete(q.name.as_str().into(), QueueDeleteOptions::default())
                .await
                .map_err(|e| BusError::amqp("deleting a queue", e))?;
            let _ = ch.close(200, "queue deleted".into()).await;
            Ok::<_, BusError>(())
        }
        .await;
        if let Err(e) = deleted {
            tracing::warn!(queue = %q.name, error = %e, "cannot delete a queue");
            result = result.and(Err(e));
        }
    }
    for (name, _) in &topology.exchanges {
        let deleted = async {
            let ch = live.conn.create_channel().await.map_err(|e| BusError::amqp("opening a channel", e))?;
            ch.exchange_delete(name.as_str().into(), ExchangeDeleteOptions::default())
                .await
                .map_err(|e| BusError::amqp("deleting an exchange", e))?;
            let _ = ch.close(200, "exchange deleted".into()).await;
            Ok::<_, BusError>(())
        }
        .await;
        if let Err(e) = deleted {
            tracing::warn!(exchange = %name, error = %e, "cannot delete an exchange");
            result = result.and(Err(e));
        }
    }
    connector.close().await;
    result
}
