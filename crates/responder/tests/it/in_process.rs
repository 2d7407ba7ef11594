//! The responder on the in-process bus, with the observatory double: the scenarios of
//! `common::scenarios`, plus what only the in-process bus can show (dead-letters by reason).

use crate::common;

use std::sync::Arc;

use common::*;
use passerelle_bus::{Bus, BusSettings, InProcessBus};

async fn stack() -> (Stack, InProcessBus) {
    let settings = BusSettings::default();
    let bus = InProcessBus::new(&settings);
    let observatory: Arc<dyn Bus> = Arc::new(bus.connect_as(OBSERVATORY));
    let responder: Arc<dyn Bus> = Arc::new(bus.connect_as(BODY));
    (Stack::start(settings, observatory, responder, &scenarios::population(), None).await, bus)
}

#[tokio::test]
async fn found_not_found_former_nir_and_identity_mismatch() {
    let (mut s, _) = stack().await;
    scenarios::matching(&mut s).await;
    s.shutdown().await;
}

#[tokio::test]
async fn a_category_not_held_is_declined_and_the_rest_answered() {
    let (mut s, _) = stack().await;
    scenarios::not_held_is_declined(&mut s).await;
    s.shutdown().await;
}

#[tokio::test]
async fn reminders_and_redeliveries_are_answered_again_in_full() {
    let (mut s, _) = stack().await;
    scenarios::reminders_are_answered_again(&mut s).await;
    s.shutdown().await;
}

#[tokio::test]
async fn a_reload_mid_stream_never_mixes_two_extracts() {
    let (mut s, _) = stack().await;
    scenarios::reload_mid_stream(&mut s).await;
    s.shutdown().await;
}

#[tokio::test]
async fn a_solicitation_for_another_body_is_dead_lettered_and_the_next_answered() {
    let (mut s, bus) = stack().await;
    let mut wrong = solicitation("case-wrong", &wanted(&[passerelle_protocol::v1::Category::Rsa]), vec![]);
    wrong.body = "cnam".to_owned();
    s.solicit(wrong).await;
    s.solicit(solicitation("case-right", &wanted(&[passerelle_protocol::v1::Category::Rsa]), vec![])).await;
    let r = s.response().await;
    assert_eq!(r.case_id, "case-right");
    let dead = bus.dead_letters();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].reason.contains("addressed to body `cnam`"), "{}", dead[0].reason);
    s.shutdown().await;
}

/// A bus whose broker is gone: every consumer is refused.
#[derive(Debug)]
struct BrokerGone;

#[async_trait::async_trait]
impl Bus for BrokerGone {
    async fn publish(&self, _: Vec<passerelle_bus::Outgoing>) -> Result<(), passerelle_bus::BusError> {
        Err(passerelle_bus::BusError::Closed)
    }
    async fn consume(
        &self,
        _: passerelle_bus::Queue,
        _: Arc<dyn passerelle_bus::Handler>,
    ) -> Result<passerelle_bus::Consumer, passerelle_bus::BusError> {
        Err(passerelle_bus::BusError::Closed)
    }
}

/// `ready` (what turns the daemon's `/health` to serving) comes once the consumers are
/// registered, and never when they cannot be.
#[tokio::test]
async fn ready_is_reported_only_once_consuming() {
    let dir = tempfile::tempdir().unwrap();
    let settings = extract_settings(&dir.path().join("data"), BusSettings::default());
    let extract = dir.path().join("extract.csv");
    write_extract(&extract, &scenarios::population());
    assert_eq!(load(&settings, &extract).len(), 1);

    let refused = passerelle_responder::Responder::build(&settings, Arc::new(BrokerGone)).await.unwrap();
    let mut ready = false;
    let outcome = refused.run_until_stopped_with_ready(std::future::pending(), || ready = true).await;
    assert!(outcome.is_err(), "no consumer, no run");
    assert!(!ready, "never ready without its consumers");

    let bus = InProcessBus::new(&BusSettings::default());
    let responder = passerelle_responder::Responder::build(&settings, Arc::new(bus.connect_as(BODY))).await.unwrap();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(responder.run_until_stopped_with_ready(
        async {
            let _ = stopped.await;
        },
        move || {
            let _ = ready_tx.send(());
        },
    ));
    tokio::time::timeout(WAIT, ready_rx).await.expect("ready within the bound").expect("ready is called");
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}
