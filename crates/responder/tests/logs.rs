//! Logs never contain a NIR: every event of a responder's life (load, answers, refusals,
//! reload, shutdown), captured at TRACE level, is searched for the NIRs it handled. In a test
//! binary of its own: `tracing` caches per-callsite interest process-wide, so a capturing
//! subscriber must not share the binary with tests that run without one.

mod common;

use std::sync::Arc;

use common::*;
use passerelle_bus::{Bus, BusSettings, InProcessBus};
use passerelle_test_support::LogBuffer;

async fn stack() -> (Stack, InProcessBus) {
    let settings = BusSettings::default();
    let bus = InProcessBus::new(&settings);
    let observatory: Arc<dyn Bus> = Arc::new(bus.connect_as(OBSERVATORY));
    let responder: Arc<dyn Bus> = Arc::new(bus.connect_as(BODY));
    (Stack::start(settings, observatory, responder, &scenarios::population(), None).await, bus)
}

#[tokio::test]
async fn logs_never_contain_a_nir() {
    let captured = LogBuffer::default();
    let writer = captured.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).finish();
    // This test's runtime is single-threaded: the subscriber sees every task of the test.
    let _guard = tracing::subscriber::set_default(subscriber);
    let (mut s, _) = stack().await;
    scenarios::matching(&mut s).await;
    scenarios::not_held_is_declined(&mut s).await;
    let mut wrong = solicitation("case-wrong", &[], vec![person(1, &nir(1), &[], None, 0)]);
    wrong.body = "cnam".to_owned();
    s.solicit(wrong).await;
    s.solicit(solicitation("case-after", &[], vec![])).await;
    s.response().await;
    s.reload(&scenarios::population());
    s.shutdown().await;
    let logs = captured.text();
    assert!(logs.contains("chunk answered"), "the capture works: {logs}");
    for i in [1, 2, 3, 4, 20, 30, 999] {
        assert!(!logs.contains(nir(i).as_str()), "a NIR reached the logs");
        assert!(!logs.contains(&nir(i).as_str()[..13]), "a NIR without its key reached the logs");
    }
}
