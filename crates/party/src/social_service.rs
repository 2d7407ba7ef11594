//! The social service's own part of a party: the bus its transfers travel on when its settings
//! have a `[broker]` (or the bus that refuses everything when they do not), and how it runs —
//! its transfers started before it says it serves and stopped after its housekeeping ends.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use passerelle_bus::{Bus, BusError};
use passerelle_social_service::SocialService;

/// The bus a social service's transfers travel on.
pub(crate) struct TransfersBus(pub(crate) Arc<dyn Bus>);

impl std::fmt::Debug for TransfersBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransfersBus")
    }
}

/// The bus of a social service without `[broker]`: every operation fails; its trails have no
/// witness, so they never publish.
#[derive(Debug)]
pub(crate) struct NoBroker;

#[async_trait::async_trait]
impl Bus for NoBroker {
    async fn publish(&self, _: Vec<passerelle_bus::Outgoing>) -> Result<(), BusError> {
        Err(BusError::Closed)
    }
    async fn consume(
        &self,
        _: passerelle_bus::Queue,
        _: Arc<dyn passerelle_bus::Handler>,
    ) -> Result<passerelle_bus::Consumer, BusError> {
        Err(BusError::Closed)
    }
}

/// Runs a social service until `shutdown`: with a broker, its transfers started first (`ready`
/// only once its transfers queue is consumed) and stopped after its housekeeping ends.
pub(crate) async fn social_service_until(
    service: SocialService,
    bus: Option<TransfersBus>,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(),
) -> anyhow::Result<()> {
    let settings = service.settings();
    let (body, office) = (settings.body.clone(), settings.office.clone());
    let transfers = match bus {
        Some(TransfersBus(bus)) => {
            let running = service.start_transfers(bus).await.context("its transfers cannot start")?;
            tracing::info!(
                %body,
                %office,
                "social-service daemon running; it sends and receives case-file transfers on the broker; \
                 its access log is chained, not witnessed"
            );
            Some(running)
        }
        None => {
            tracing::info!(
                %body,
                %office,
                "social-service daemon running without a broker (no [broker]: it neither sends nor receives \
                 transfers); its access log is chained, not witnessed"
            );
            None
        }
    };
    ready();
    social_housekeeping_until(&service, shutdown).await;
    if let Some(transfers) = transfers {
        transfers.stop().await;
    }
    drop(service);
    Ok(())
}

/// How often the social service's periodic work runs (the service's own period, which its
/// `GET /v1/overview` tells the operator).
const SOCIAL_HOUSEKEEPING_EVERY: std::time::Duration =
    passerelle_social_service::service::housekeeping::HOUSEKEEPING_EVERY;

/// Runs the social service's periodic work now, then every [`SOCIAL_HOUSEKEEPING_EVERY`],
/// until `shutdown`. A failed round is logged and retried at the next one.
async fn social_housekeeping_until(service: &SocialService, shutdown: impl Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let round = service.clone();
        match tokio::task::spawn_blocking(move || round.housekeeping()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the social service's housekeeping failed; retried within the hour")
            }
            Err(e) => {
                tracing::warn!(error = %e, "the social service's housekeeping task failed; retried within the hour")
            }
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(SOCIAL_HOUSEKEEPING_EVERY) => {}
        }
    }
}
