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

#[tokio::test]
async fn an_unhandleable_solicitation_is_dead_lettered_by_the_broker_and_the_observatory_told_over_rabbitmq() {
    if !broker_available().await {
        return;
    }
    let settings = unique_broker_settings();
    let observatory = AmqpBus::connect(&settings, Role::Observatory(OBSERVATORY.to_owned())).await.unwrap();
    let responder = AmqpBus::connect(&settings, Role::Body(BODY.to_owned())).await.unwrap();
    let teardown = settings.clone();
    let cleanup: Cleanup = Box::new(move || Box::pin(delete_topology(teardown)));
    let mut s = Stack::start(
        settings.clone(),
        Arc::new(observatory),
        Arc::new(responder),
        &scenarios::population(),
        Some(cleanup),
    )
    .await;
    let case = uuid::Uuid::now_v7().to_string();
    let mut unhandleable = solicitation(&case, &wanted(&[passerelle_protocol::v1::Category::Rsa]), vec![]);
    unhandleable.respond_by = None;
    s.solicit(unhandleable).await;
    let notice = s.notice().await;
    assert_eq!((notice.sender.as_str(), notice.recipient.as_str()), (BODY, OBSERVATORY));
    assert_eq!(notice.reason, passerelle_protocol::v1::NoticeReason::Invalid as i32);
    assert_eq!((notice.case_id.as_str(), notice.detail.as_str()), (case.as_str(), "no valid respond_by"));
    assert_eq!(notice.refused_type, "passerelle.v1.Solicitation");
    // The broker dead-lettered the solicitation itself (the body may not write the exchange).
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let queue = format!("{}.dead-letters", settings.prefix);
    let dead =
        passerelle_test_support::eventually_async("the broker's dead-letter", || {
            let (ch, queue) = (ch.clone(), queue.clone());
            async move {
                ch.basic_get(queue.as_str().into(), lapin::options::BasicGetOptions { no_ack: true }).await.unwrap()
            }
        })
        .await;
    let headers = dead.properties.headers().clone().unwrap_or_default();
    let reason = match headers.inner().get("x-first-death-reason") {
        Some(lapin::types::AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        other => format!("{other:?}"),
    };
    assert_eq!(reason, "rejected", "the broker's own dead-lettering");
    assert!(!headers.contains_key("x-passerelle-reason"), "no reasoned copy from a body");
    assert_eq!(dead.properties.message_id().as_ref().map(|m| m.as_str()), Some(notice.refused_message_id.as_str()));
    let _ = conn.close(200, "done".into()).await;
    s.shutdown().await;
}
