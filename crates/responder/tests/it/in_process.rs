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
