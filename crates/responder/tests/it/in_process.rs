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

/// Each chunk answered is one `export` by `daemon:responder` of its case, whatever the number of
/// persons; a refused chunk adds nothing; the log verifies and holds no NIR.
#[tokio::test]
async fn each_chunk_answered_is_one_export_by_the_daemon_and_no_nir_reaches_the_log() {
    use passerelle_access_log::AccessKind;
    use passerelle_protocol::v1::Category;

    let (mut s, bus) = stack().await;
    let mut wrong = solicitation("case-wrong", &wanted(&[Category::Rsa]), vec![person(1, &nir(1), &[], None, 0)]);
    wrong.body = "cnam".to_owned();
    s.solicit(wrong).await;
    let mut not_an_id = solicitation("Case 7", &wanted(&[Category::Rsa]), vec![]);
    not_an_id.case_id = "Case 7".to_owned();
    s.solicit(not_an_id).await;
    let persons: Vec<_> = (1..=4).map(|i| person(u64::from(i), &nir(i), &[], None, 0)).collect();
    for chunk in 0..2 {
        let mut c = solicitation("case-a", &wanted(&[Category::Rsa]), persons.clone());
        (c.chunk_index, c.chunk_count) = (chunk, 2);
        s.solicit(c).await;
    }
    s.solicit(solicitation("case-b", &wanted(&[Category::Rsa]), vec![person(1, &nir(999), &[], None, 0)])).await;
    for _ in 0..3 {
        s.response().await;
    }
    passerelle_test_support::eventually("both refusals dead-lettered", || bus.dead_letters().len() == 2).await;
    assert!(bus.dead_letters().iter().any(|d| d.reason.contains("case id is not an identifier")));

    let entries = access_entries(&s.accesses);
    let mut seen: Vec<(&str, &str, &str)> =
        entries.iter().map(|e| (e.agent.as_str(), e.kind.as_str(), e.object.as_str())).collect();
    seen.sort();
    let export = |case| ("daemon:responder", AccessKind::Export.as_str(), case);
    assert_eq!(seen, vec![export("case-a"), export("case-a"), export("case-b")], "one per chunk, none refused");
    assert!(entries.iter().all(|e| !e.concerns_person), "machine actions name no person");
    assert!(s.accesses.log().verify().unwrap().is_intact());
    let bytes = access_log_bytes(&s.data_dir());
    for n in (1..=4).chain([20, 999]) {
        assert!(!bytes_contain(&bytes, nir(n).as_str()), "no NIR in access.db");
    }
    s.shutdown().await;
}

/// An access log that cannot be written is a transient fault: the chunk is not answered (no
/// response leaves untraced) and is retried; once the log takes writes again, it is answered
/// and recorded.
#[tokio::test]
async fn a_chunk_is_never_answered_untraced_and_is_retried_until_the_log_takes_it() {
    use passerelle_protocol::v1::Category;
    use passerelle_sqlite::rusqlite::Connection;

    let (mut s, _) = stack().await;
    // Someone else's connection makes every write of an entry fail.
    let other = Connection::open(s.data_dir().join("access.db")).unwrap();
    other
        .execute_batch(
            "CREATE TRIGGER no_entry BEFORE INSERT ON access_entry BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    s.solicit(solicitation("case-untraced", &wanted(&[Category::Rsa]), vec![person(1, &nir(1), &[], None, 0)])).await;
    // Long enough for several attempts (the bus retries after 0.1 s, 0.2 s, 0.4 s…).
    let early = tokio::time::timeout(std::time::Duration::from_millis(1500), s.response()).await;
    assert!(early.is_err(), "no response while the access log refuses the entry");
    assert!(access_entries(&s.accesses).is_empty());

    other.execute_batch("DROP TRIGGER no_entry;").unwrap();
    let r = s.response().await;
    assert_eq!(r.case_id, "case-untraced");
    let entries = access_entries(&s.accesses);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!((entries[0].agent.as_str(), entries[0].object.as_str()), ("daemon:responder", "case-untraced"));
    assert!(s.accesses.log().verify().unwrap().is_intact());
    s.shutdown().await;
}
