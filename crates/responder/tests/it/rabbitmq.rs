//! The responder on the real RabbitMQ (`PASSERELLE_TEST_AMQP_URL`), with the observatory double
//! on its own connection: the scenarios of `common::scenarios`. Each test has its own name
//! prefix and deletes its queues and exchanges at the end.

use crate::common;

use std::sync::Arc;

use common::*;
use passerelle_bus::{AmqpBus, Bus, Role};

/// A stack on RabbitMQ, or `None` when no broker answers outside CI.
async fn stack() -> Option<Stack> {
    if !broker_available().await {
        return None;
    }
    let settings = unique_broker_settings();
    // The observatory declares the topology; the body only checks its queues exist.
    let observatory = AmqpBus::connect(&settings, Role::Observatory(OBSERVATORY.to_owned())).await.unwrap();
    let responder = AmqpBus::connect(&settings, Role::Body(BODY.to_owned())).await.unwrap();
    let observatory: Arc<dyn Bus> = Arc::new(observatory);
    let responder: Arc<dyn Bus> = Arc::new(responder);
    let teardown = settings.clone();
    let cleanup: Cleanup = Box::new(move || Box::pin(delete_topology(teardown)));
    Some(Stack::start(settings, observatory, responder, &scenarios::population(), Some(cleanup)).await)
}

#[tokio::test]
async fn found_not_found_former_nir_and_identity_mismatch_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::matching(&mut s).await;
    s.shutdown().await;
}

#[tokio::test]
async fn a_category_not_held_is_declined_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::not_held_is_declined(&mut s).await;
    s.shutdown().await;
}

#[tokio::test]
async fn reminders_are_answered_again_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::reminders_are_answered_again(&mut s).await;
    s.shutdown().await;
}

#[tokio::test]
async fn a_reload_mid_stream_never_mixes_two_extracts_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::reload_mid_stream(&mut s).await;
    s.shutdown().await;
}
