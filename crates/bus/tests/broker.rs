//! The AMQP bus against the real RabbitMQ, each test in a vhost of its own: confirms and
//! once-only consumption, properties, reasoned dead-letters, the receiver checks, the delivery
//! limit and its alarm, expiry, identity (forged `user_id`, a user speaking for another body)
//! and the permissions of the exported definitions.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::*;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::BasicProperties;
use passerelle_bus::amqp::lock::TerritoryLock;
use passerelle_bus::{AmqpBus, Bus, BusError, Kind, NoticeReason, Outgoing, Queue, Role, Verdict};
use passerelle_test_support::broker::url;
use passerelle_test_support::{unique, User};

fn responses_queue() -> Queue {
    Queue::ObservatoryResponses(OBSERVATORY.into())
}

async fn observatory(v: &Vhost) -> AmqpBus {
    AmqpBus::connect(&v.settings(), Role::Observatory(OBSERVATORY.into())).await.expect("observatory connects")
}

#[tokio::test]
async fn published_messages_are_confirmed_and_each_consumed_once() {
    let v = Vhost::new();
    let obs = observatory(&v).await;
    let body = AmqpBus::connect(&v.settings(), Role::Body("cnaf".into())).await.unwrap();
    let batch = responses("cnaf", 300);
    let ids: BTreeSet<String> = batch.iter().map(|o| o.message_id.to_string()).collect();
    body.publish(batch).await.unwrap();
    let (h, mut seen) = Recorder::acking();
    let consumer = obs.consume(responses_queue(), h.clone()).await.unwrap();
    let mut got = BTreeSet::new();
    for _ in 0..300 {
        let d = seen.next().await;
        assert_eq!(d.user_id, "guest");
        assert!(got.insert(d.message_id), "delivered twice");
    }
    assert_eq!(got, ids);
    assert!(!seen.more_within(Duration::from_millis(300)).await, "nothing more than what was published");
    consumer.stop().await;
    let queues = v.queues();
    let q = queues.iter().find(|q| q["name"] == "passerelle.observatory.carsat-sud-est.responses").unwrap();
    assert_eq!(q["messages"], 0, "every delivery was acknowledged");
    body.close().await;
    obs.close().await;
}

#[tokio::test]
async fn a_body_cannot_start_before_the_observatory_declared_the_topology() {
    let v = Vhost::new();
    let err = AmqpBus::connect(&v.settings(), Role::Body("cnaf".into())).await.unwrap_err();
    assert!(matches!(err, BusError::Declare { .. }), "{err}");
    let obs = observatory(&v).await;
    AmqpBus::connect(&v.settings(), Role::Body("cnaf".into())).await.unwrap().close().await;
    obs.close().await;
}

#[tokio::test]
async fn an_unreachable_broker_is_a_connect_error() {
    let settings =
        passerelle_bus::BusSettings { urls: vec!["amqp://guest:guest@127.0.0.1:1/%2f".into()], ..Default::default() };
    let err = AmqpBus::connect(&settings, Role::Observatory(OBSERVATORY.into())).await.unwrap_err();
    assert!(matches!(err, BusError::Connect(_)), "{err}");
}

#[tokio::test]
async fn messages_carry_the_documented_properties_and_unroutable_or_expired_ones_are_errors() {
    let v = Vhost::new();
    let obs = observatory(&v).await;
    let o = Outgoing::new(response("cnaf", 2, 5), OBSERVATORY, SystemTime::now() + Duration::from_secs(120));
    let id = o.message_id.to_string();
    obs.publish(vec![o]).await.unwrap();
    let raw = raw(&v.url()).await;
    let got = drain(&raw, "passerelle.observatory.carsat-sud-est.responses").await;
    assert_eq!(got.len(), 1);
    let p = &got[0].delivery.properties;
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), id);
    assert_eq!(p.kind().as_ref().unwrap().as_str(), "passerelle.v1.Response");
    assert_eq!(p.content_type().as_ref().unwrap().as_str(), "application/x-protobuf");
    assert_eq!(p.user_id().as_ref().unwrap().as_str(), "guest");
    assert_eq!(p.delivery_mode(), &Some(2));
    assert_eq!(p.correlation_id().as_ref().unwrap().as_str(), "0190a0b0-0000-7000-8000-000000000001");
    assert!(p.timestamp().is_some());
    let ttl: u64 = p.expiration().as_ref().unwrap().as_str().parse().unwrap();
    assert!(ttl <= 120_000 && ttl > 100_000, "expiration is the time left before the cap: {ttl}");
    assert_eq!(header(p, "x-passerelle-chunk-index").as_deref(), Some("LongLongInt(2)"));
    assert_eq!(header(p, "x-passerelle-chunk-count").as_deref(), Some("LongLongInt(5)"));
    assert_eq!(header(p, "x-passerelle-schema-version").as_deref(), Some("LongLongInt(1)"));
    let minor = format!("LongLongInt({})", got_minor(&got[0].delivery.data));
    assert_eq!(header(p, "x-passerelle-schema-minor"), Some(minor), "a copy of the field");

    let stray = Outgoing::new(response("cnaf", 0, 1), "no-such-observatory", in_an_hour());
    let err = obs.publish(vec![stray]).await.unwrap_err();
    assert!(matches!(err, BusError::Returned { .. }), "{err}");
    let past = Outgoing::new(response("cnaf", 0, 1), OBSERVATORY, SystemTime::now() - Duration::from_secs(1));
    assert!(matches!(obs.publish(vec![past]).await, Err(BusError::Expired { .. })));
    obs.publish(responses("cnaf", 3)).await.expect("the bus still publishes after a return");
    obs.close().await;
}

#[tokio::test]
async fn a_dead_letter_verdict_lands_in_the_dead_letter_queue_with_its_reason_and_lifetime() {
    let v = Vhost::new();
    let obs = observatory(&v).await;
    let o = Outgoing::new(response("cnaf", 0, 1), OBSERVATORY, SystemTime::now() + Duration::from_secs(600));
    let id = o.message_id.to_string();
    obs.publish(vec![o]).await.unwrap();
    let (h, mut seen) =
        Recorder::new(|_| Verdict::dead_letter(passerelle_bus::NoticeReason::UnknownReference, "unknown solicitation"));
    let c = obs.consume(responses_queue(), h).await.unwrap();
    seen.next().await;
    let raw = raw(&v.url()).await;
    let dead = dead_letters(&raw, 1).await;
    c.stop().await;
    let p = &dead[0].delivery.properties;
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), id);
    assert_eq!(header(p, "x-passerelle-reason").as_deref(), Some("unknown solicitation"));
    assert_eq!(
        header(p, "x-passerelle-original-queue").as_deref(),
        Some("passerelle.observatory.carsat-sud-est.responses")
    );
    assert_eq!(header(p, "x-passerelle-original-routing-key").as_deref(), Some(OBSERVATORY));
    let ttl: u64 = p.expiration().as_ref().unwrap().as_str().parse().unwrap();
    assert!(ttl <= 600_000 && ttl > 500_000, "the copy keeps the original's remaining lifetime: {ttl}");
    let queues = v.queues();
    let q = queues.iter().find(|q| q["name"] == "passerelle.observatory.carsat-sud-est.responses").unwrap();
    assert_eq!(q["messages"], 0, "the original was acknowledged");
    let alarms = queues.iter().find(|q| q["name"] == "passerelle.delivery-limit-alarms").unwrap();
    assert_eq!(
        (alarms["messages"].as_i64(), obs.delivery_limit_alarms()),
        (Some(0), 0),
        "a reasoned dead-letter is no alarm"
    );
    obs.close().await;
}

#[tokio::test]
async fn random_bytes_and_a_wrong_type_are_dead_lettered_and_the_consumer_goes_on() {
    let v = Vhost::new();
    let obs = observatory(&v).await;
    let (h, mut seen) = Recorder::acking();
    let c = obs.consume(responses_queue(), h.clone()).await.unwrap();
    let raw = raw(&v.url()).await;
    let ch = raw.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    let garbage: Vec<u8> = (0..97u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    for (kind, body) in [("passerelle.v1.Response", garbage), ("passerelle.v1.Gossip", b"hello".to_vec())] {
        let props = BasicProperties::default()
            .with_type(kind.into())
            .with_message_id(unique().into())
            .with_user_id("guest".into());
        ch.basic_publish(
            "passerelle.responses".into(),
            OBSERVATORY.into(),
            BasicPublishOptions::default(),
            &body,
            props,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    obs.publish(responses("cnaf", 1)).await.unwrap();
    let d = seen.next().await;
    assert_eq!(d.message.kind(), Kind::Response);
    let dead = dead_letters(&raw, 2).await;
    let reasons: Vec<String> =
        dead.iter().map(|m| header(&m.delivery.properties, "x-passerelle-reason").unwrap()).collect();
    assert!(reasons[0].contains("undecodable"), "{reasons:?}");
    assert!(reasons[1].contains("unknown message type"), "{reasons:?}");
    assert_eq!(h.calls.load(std::sync::atomic::Ordering::SeqCst), 1, "the handler saw only the valid message");
    c.stop().await;
    obs.close().await;
}

#[tokio::test]
async fn the_queues_are_bounded_quorum_queues_and_the_dead_letter_ttl_is_set() {
    let v = Vhost::new();
    let obs = observatory(&v).await;
    let queues = v.queues();
    // Per observatory and per body three and a rights queue; dead-letters, alarms; the holder.
    assert_eq!(queues.len(), 4 + 4 * 4 + 2 + 1, "{queues:?}");
    for q in &queues {
        // rabbitmqctl lists arguments as [name, type, value] triples.
        let args: serde_json::Map<String, serde_json::Value> = q["arguments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a[0].as_str().unwrap().to_owned(), a[2].clone()))
            .collect();
        let name = q["name"].as_str().unwrap();
        if name == "passerelle.observatory.carsat-sud-est.holder" {
            // The territory lock's holder record: the newest only.
            assert_eq!((&args["x-queue-type"], &args["x-max-length"]), (&"classic".into(), &1.into()), "{q}");
            continue;
        }
        assert_eq!(args["x-queue-type"], "quorum", "{q}");
        if name == "passerelle.dead-letters" || name == "passerelle.delivery-limit-alarms" {
            assert_eq!(args["x-message-ttl"], 7 * 24 * 3600 * 1000_i64, "{q}");
        } else if name.ends_with(".notices") {
            assert_eq!(args["x-message-ttl"], 7 * 24 * 3600 * 1000_i64, "{q}");
            assert_eq!(args["x-max-length"], 1000, "{q}");
            assert_eq!(args["x-overflow"], "drop-head", "{q}");
        } else {
            assert_eq!(args["x-message-ttl"], 30 * 24 * 3600 * 1000_i64, "{q}");
            assert_eq!(args["x-delivery-limit"], 20, "{q}");
            assert_eq!(args["x-dead-letter-exchange"], "passerelle.dead-letter", "{q}");
        }
    }
    obs.close().await;
}

#[tokio::test]
async fn a_message_at_the_delivery_limit_is_dead_lettered_and_raises_the_alarm() {
    struct Crashing;
    #[async_trait::async_trait]
    impl passerelle_bus::Handler for Crashing {
        async fn handle(&self, _d: passerelle_bus::Delivery) -> Verdict {
            panic!("crash (expected by the test)")
        }
    }
    let v = Vhost::new();
    let obs = observatory(&v).await;
    obs.publish(responses("cnaf", 1)).await.unwrap();
    let c = obs.consume(responses_queue(), std::sync::Arc::new(Crashing)).await.unwrap();
    eventually("the delivery-limit alarm", || {
        let n = obs.delivery_limit_alarms();
        async move { n == 1 }
    })
    .await;
    c.stop().await;
    let raw = raw(&v.url()).await;
    let dead = drain(&raw, "passerelle.dead-letters").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(header(&dead[0].delivery.properties, "x-first-death-reason").as_deref(), Some("delivery_limit"));
    obs.close().await;
}

#[tokio::test]
async fn a_message_that_expires_in_its_queue_is_dropped_not_dead_lettered() {
    let v = Vhost::new();
    let obs = observatory(&v).await;
    let expires = SystemTime::now() + Duration::from_millis(500);
    obs.publish(vec![Outgoing::new(response("cnaf", 0, 1), OBSERVATORY, expires)]).await.unwrap();
    let raw = raw(&v.url()).await;
    eventually("the message's expiry", || async move { SystemTime::now() > expires + Duration::from_millis(100) })
        .await;
    // An expired message is removed when it reaches the head of the queue: a consumer makes
    // the broker look at it.
    let ch = raw.create_channel().await.unwrap();
    let _consumer = ch
        .basic_consume(
            "passerelle.observatory.carsat-sud-est.responses".into(),
            "probe".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    eventually("the queue to be empty", || async {
        v.queues().iter().any(|q| q["name"] == "passerelle.observatory.carsat-sud-est.responses" && q["messages"] == 0)
    })
    .await;
    assert!(drain(&raw, "passerelle.dead-letters").await.is_empty(), "expiry is not a dead-letter");
    obs.close().await;
}

#[tokio::test]
async fn a_publisher_forging_another_users_user_id_is_refused_by_the_broker() {
    let v = Vhost::new();
    let obs = observatory(&v).await;
    let raw = raw(&v.url()).await;
    let ch = raw.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    let props = BasicProperties::default().with_type("passerelle.v1.Response".into()).with_user_id("body-cnam".into());
    let body = response("cnam", 0, 1).encode();
    let result = async {
        ch.basic_publish(
            "passerelle.responses".into(),
            OBSERVATORY.into(),
            BasicPublishOptions::default(),
            &body,
            props,
        )
        .await?
        .await
    }
    .await;
    let err = result.expect_err("the broker refuses a user_id that is not the login");
    assert!(err.to_string().contains("user_id"), "{err}");
    assert!(!ch.status().connected(), "the broker closed the channel");
    obs.close().await;
}

#[tokio::test]
async fn a_sender_whose_user_may_not_speak_for_the_claimed_body_is_dead_lettered() {
    let v = Vhost::new();
    let cnam = User::new(&format!("test-{}-cnam", unique()));
    rabbitmqctl(&["set_permissions", "-p", &v.name, &cnam.name, "^$", ".*", "^$"]);
    let mut settings = v.settings();
    settings.identity.insecure_any_user = false;
    settings.identity.users.insert("guest".into(), vec![OBSERVATORY.into()]);
    settings.identity.users.insert(cnam.name.clone(), vec!["cnam".into()]);
    let obs = AmqpBus::connect(&settings, Role::Observatory(OBSERVATORY.into())).await.unwrap();
    let mut body_settings = settings.clone();
    body_settings.urls = vec![cnam.url(&v)];
    let body = AmqpBus::connect(&body_settings, Role::Body("cnam".into())).await.unwrap();
    // The cnam user claims to be cnaf, then speaks for itself.
    body.publish(responses("cnaf", 1)).await.unwrap();
    body.publish(responses("cnam", 1)).await.unwrap();
    let (h, mut seen) = Recorder::acking();
    let c = obs.consume(responses_queue(), h.clone()).await.unwrap();
    let d = seen.next().await;
    assert_eq!((d.message.sender(), d.user_id.as_str()), ("cnam", cnam.name.as_str()));
    let raw = raw(&v.url()).await;
    let dead = dead_letters(&raw, 1).await;
    let reason = header(&dead[0].delivery.properties, "x-passerelle-reason").unwrap();
    assert!(reason.contains("may not speak for \"cnaf\""), "{reason}");
    assert_eq!(
        header(&dead[0].delivery.properties, "x-passerelle-original-user-id").as_deref(),
        Some(cnam.name.as_str())
    );
    assert_eq!(h.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    c.stop().await;
    body.close().await;
    obs.close().await;
}

#[tokio::test]
async fn exported_definitions_let_a_body_reach_only_its_own_queues_and_exchanges() {
    let v = Vhost::reserved();
    let (settings, obs, cnaf, _cnam) = imported_deployment(&v);

    // The observatory's user may declare the whole topology; the body's may check its part.
    let mut obs_settings = settings.clone();
    obs_settings.urls = vec![obs.url(&v)];
    // … and hold its territory's lock, publishing its holder record.
    let obs_bus =
        AmqpBus::connect_holding(&obs_settings, Role::Observatory(OBSERVATORY.into()), Some(lock("obs", false)))
            .await
            .unwrap();
    let mut cnaf_settings = settings.clone();
    cnaf_settings.urls = vec![cnaf.url(&v)];
    let cnaf_bus = AmqpBus::connect(&cnaf_settings, Role::Body("cnaf".into())).await.unwrap();
    cnaf_bus.publish(responses("cnaf", 1)).await.expect("a body may publish responses");
    let (h, mut seen) = Recorder::acking();
    let own = cnaf_bus.consume(Queue::BodySolicitations("cnaf".into()), h).await.expect("a body reads its own queue");
    obs_bus
        .publish(vec![Outgoing::new(
            passerelle_bus::Message::Solicitation(passerelle_protocol::v1::Solicitation {
                schema_version: 1,
                sender: OBSERVATORY.into(),
                case_id: "c".into(),
                body: "cnaf".into(),
                chunk_count: 1,
                ..Default::default()
            }),
            "cnaf",
            in_an_hour(),
        )])
        .await
        .expect("the observatory publishes solicitations");
    assert_eq!(seen.next().await.user_id, obs.name);
    own.stop().await;

    // Another body's queue: refused.
    let err = cnaf_bus.consume(Queue::BodySolicitations("cnam".into()), Recorder::acking().0).await.unwrap_err();
    assert!(err.to_string().contains("ACCESS_REFUSED"), "{err}");
    // Exchanges a body's role does not need: refused.
    let raw = raw(&cnaf.url(&v)).await;
    for exchange in ["passerelle.solicitations", "passerelle.results", "passerelle.notices-to-bodies"] {
        let ch = raw.create_channel().await.unwrap();
        ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
        let props = BasicProperties::default().with_user_id(cnaf.name.as_str().into());
        let result = async {
            ch.basic_publish(exchange.into(), "cnam".into(), BasicPublishOptions::default(), b"x", props).await?.await
        }
        .await;
        let err = result.expect_err("publishing to an exchange the role does not need");
        assert!(err.to_string().contains("ACCESS_REFUSED"), "{exchange}: {err}");
    }
    // The territory lock's holder record: not a body's to read.
    let ch = raw.create_channel().await.unwrap();
    let err = ch
        .basic_get("passerelle.observatory.carsat-sud-est.holder".into(), lapin::options::BasicGetOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ACCESS_REFUSED"), "{err}");
    // Declaring anything: refused (bodies have no configure right).
    let ch = raw.create_channel().await.unwrap();
    let err = ch
        .queue_declare("passerelle.mine".into(), lapin::options::QueueDeclareOptions::default(), FieldTable::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ACCESS_REFUSED"), "{err}");
    cnaf_bus.close().await;
    obs_bus.close().await;
}

/// A territory lock for `holder`, recording what its standby is told.
fn lock(holder: &str, wait: bool) -> TerritoryLock {
    TerritoryLock { holder: holder.to_owned(), wait, on_standby: Arc::new(|_| {}) }
}

#[tokio::test]
async fn one_observatory_connection_holds_the_territory_and_a_second_is_told_who() {
    let v = Vhost::new();
    let role = || Role::Observatory(OBSERVATORY.into());
    let first = AmqpBus::connect_holding(&v.settings(), role(), Some(lock("first, pid 1", false))).await.unwrap();
    let err = AmqpBus::connect_holding(&v.settings(), role(), Some(lock("second, pid 2", false))).await.unwrap_err();
    assert!(matches!(&err, BusError::TerritoryHeld { holder, .. } if holder == "first, pid 1"), "{err}");
    assert!(err.to_string().contains("another observatory runs territory carsat-sud-est"), "{err}");

    // A standby waits, saying who holds the lock, and takes it once the holder's connection ends.
    let told = Arc::new(Mutex::new(Vec::<Option<String>>::new()));
    let record = Arc::clone(&told);
    let standby = TerritoryLock {
        holder: "standby, pid 3".to_owned(),
        wait: true,
        on_standby: Arc::new(move |h| record.lock().unwrap().push(h.map(str::to_owned))),
    };
    let settings = v.settings();
    let waiting = tokio::spawn(async move { AmqpBus::connect_holding(&settings, role(), Some(standby)).await });
    let seen = Arc::clone(&told);
    passerelle_test_support::eventually("the standby says who holds the lock", || {
        seen.lock().unwrap().first().cloned().flatten().as_deref() == Some("first, pid 1")
    })
    .await;
    assert!(!waiting.is_finished(), "the standby waits");
    first.close().await;
    let standby = tokio::time::timeout(WAIT, waiting).await.expect("the standby took over").unwrap().unwrap();
    assert_eq!(told.lock().unwrap().last(), Some(&None), "its standby ended");
    // A body's connection takes no lock.
    AmqpBus::connect(&v.settings(), Role::Body("cnaf".into())).await.unwrap().close().await;
    standby.close().await;
}

#[tokio::test]
async fn an_observatory_that_lost_its_territory_while_disconnected_stops() {
    let v = Vhost::new();
    let role = || Role::Observatory(OBSERVATORY.into());
    let first = AmqpBus::connect_holding(&v.settings(), role(), Some(lock("first, pid 1", true))).await.unwrap();
    let health = first.broker_health();
    v.close_connections();
    passerelle_test_support::eventually("the first observatory sees its connection closed", || !health.is_connected())
        .await;
    // Meanwhile another observatory of the territory takes the lock.
    let second = AmqpBus::connect_holding(&v.settings(), role(), Some(lock("second, pid 2", false))).await.unwrap();
    // The first reconnects when it next needs the broker, and finds the territory taken.
    let err = first.publish(responses("cnaf", 1)).await.unwrap_err();
    assert!(matches!(err, BusError::TerritoryLost { .. } | BusError::Closed), "{err}");
    let lost = first.territory_lost().expect("the bus says the territory was lost");
    assert!(lost.contains("second, pid 2"), "{lost}");
    let err = first.consume(responses_queue(), Recorder::acking().0).await.unwrap_err();
    assert!(matches!(err, BusError::Closed), "it consumes nothing any more: {err}");
    first.close().await;
    second.close().await;
}

/// A deployment imported from the exported definitions into a vhost of the test's own: the
/// settings (strict identity), and the observatory's, cnaf's and cnam's broker users.
fn imported_deployment(v: &Vhost) -> (passerelle_bus::BusSettings, User, User, User) {
    let tag = unique();
    let (obs_user, cnaf_user, cnam_user) =
        (format!("test-{tag}-obs"), format!("test-{tag}-cnaf"), format!("test-{tag}-cnam"));
    let mut settings = passerelle_bus::BusSettings {
        urls: vec![url(&v.name, "x", "x")],
        observatories: vec![OBSERVATORY.into()],
        ..Default::default()
    };
    settings.identity.insecure_any_user = false;
    settings.identity.users.insert(obs_user.clone(), vec![OBSERVATORY.into()]);
    settings.identity.users.insert(cnaf_user.clone(), vec!["cnaf".into()]);
    settings.identity.users.insert(cnam_user.clone(), vec!["cnam".into()]);
    import(&settings);
    (settings, User::imported(&obs_user), User::imported(&cnaf_user), User::imported(&cnam_user))
}

/// A solicitation from the test observatory to `body`.
fn solicitation(body: &str) -> Outgoing {
    Outgoing::new(
        passerelle_bus::Message::Solicitation(passerelle_protocol::v1::Solicitation {
            schema_version: 1,
            sender: OBSERVATORY.into(),
            case_id: "0190a0b0-0000-7000-8000-000000000002".into(),
            body: body.into(),
            chunk_count: 1,
            ..Default::default()
        }),
        body,
        in_an_hour(),
    )
}

/// The queue names and effective policy names of a vhost.
fn policies(v: &Vhost) -> std::collections::BTreeMap<String, String> {
    let out = rabbitmqctl(&["list_queues", "-q", "-p", &v.name, "name", "policy", "--formatter", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    rows.iter()
        .map(|r| (r["name"].as_str().unwrap().to_owned(), r["policy"].as_str().unwrap_or("").to_owned()))
        .collect()
}

#[tokio::test]
async fn a_body_may_not_write_the_dead_letter_exchange_and_its_refusals_are_dead_lettered_by_the_broker() {
    let v = Vhost::reserved();
    let (settings, obs, cnaf, _cnam) = imported_deployment(&v);
    let obs_bus = AmqpBus::connect(&as_user(&settings, &obs, &v), Role::Observatory(OBSERVATORY.into())).await.unwrap();
    let cnaf_bus = AmqpBus::connect(&as_user(&settings, &cnaf, &v), Role::Body("cnaf".into())).await.unwrap();

    // A forged reasoned dead-letter and a forged delivery-limit alarm: the broker refuses both.
    let raw_cnaf = raw(&cnaf.url(&v)).await;
    for (header, value) in [("x-passerelle-dead-letter", "reasoned"), ("x-first-death-reason", "delivery_limit")] {
        let ch = raw_cnaf.create_channel().await.unwrap();
        ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
        let mut headers = FieldTable::default();
        headers.insert(header.into(), lapin::types::AMQPValue::LongString(value.into()));
        let props = BasicProperties::default()
            .with_type("passerelle.v1.Response".into())
            .with_user_id(cnaf.name.as_str().into())
            .with_headers(headers);
        let result = async {
            ch.basic_publish(
                "passerelle.dead-letter".into(),
                "".into(),
                BasicPublishOptions::default(),
                b"forged",
                props,
            )
            .await?
            .await
        }
        .await;
        let err = result.expect_err("a body writing the dead-letter exchange");
        assert!(err.to_string().contains("ACCESS_REFUSED"), "{header}: {err}");
        println!("a body's forged dead-letter ({header}: {value}): {err}");
    }

    // cnaf cannot handle a solicitation: it rejects it, the broker dead-letters it, and the
    // observatory hears why on its notices queue.
    let (h, mut seen) = Recorder::new(|_| Verdict::dead_letter(NoticeReason::Invalid, "no valid respond_by"));
    let c = cnaf_bus.consume(Queue::BodySolicitations("cnaf".into()), h).await.unwrap();
    let o = solicitation("cnaf");
    let id = o.message_id.to_string();
    obs_bus.publish(vec![o]).await.unwrap();
    seen.next().await;
    let raw_obs = raw(&obs.url(&v)).await;
    let dead = dead_letters(&raw_obs, 1).await;
    c.stop().await;
    let p = &dead[0].delivery.properties;
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), id);
    assert_eq!(header(p, "x-first-death-reason").as_deref(), Some("rejected"));
    assert_eq!(header(p, "x-first-death-queue").as_deref(), Some("passerelle.body.cnaf.solicitations"));
    assert_eq!(header(p, "x-passerelle-reason"), None, "no reasoned copy: the broker dead-lettered it");
    let notices = drain(&raw_obs, "passerelle.observatory.carsat-sud-est.notices").await;
    assert_eq!(notices.len(), 1);
    let notice_props = &notices[0].delivery.properties;
    assert_eq!(notice_props.kind().as_ref().unwrap().as_str(), "passerelle.v1.Notice");
    assert_eq!(notice_props.user_id().as_ref().unwrap().as_str(), cnaf.name);
    let notice =
        <passerelle_protocol::v1::Notice as prost::Message>::decode(notices[0].delivery.data.as_slice()).unwrap();
    assert_eq!((notice.sender.as_str(), notice.recipient.as_str()), ("cnaf", OBSERVATORY));
    assert_eq!((notice.refused_message_id.as_str(), notice.reason), (id.as_str(), NoticeReason::Invalid as i32));
    assert_eq!(notice.detail, "no valid respond_by");

    // The length limits came with the definitions, as policies.
    let policies = policies(&v);
    assert_eq!(policies["passerelle.dead-letters"], "passerelle.dead-letters-limit");
    assert_eq!(policies["passerelle.delivery-limit-alarms"], "passerelle.alarms-limit");
    assert_eq!(policies["passerelle.body.cnaf.notices"], "passerelle.notices-limit");
    assert_eq!(policies["passerelle.body.cnaf.solicitations"], "");
    cnaf_bus.close().await;
    obs_bus.close().await;
}

#[tokio::test]
async fn an_authenticated_sender_is_told_why_and_a_forged_one_by_nobody() {
    let v = Vhost::reserved();
    let (settings, obs, cnaf, cnam) = imported_deployment(&v);
    let obs_bus = AmqpBus::connect(&as_user(&settings, &obs, &v), Role::Observatory(OBSERVATORY.into())).await.unwrap();
    let cnam_bus = AmqpBus::connect(&as_user(&settings, &cnam, &v), Role::Body("cnam".into())).await.unwrap();
    // cnam's user claims to be cnaf (forged), then sends its own response, which the
    // observatory's handler refuses.
    cnam_bus.publish(responses("cnaf", 1)).await.unwrap();
    let own = responses("cnam", 1);
    let own_id = own[0].message_id.to_string();
    cnam_bus.publish(own).await.unwrap();
    let (h, mut seen) = Recorder::new(|_| Verdict::dead_letter(NoticeReason::UnknownReference, "no such solicitation"));
    let c = obs_bus.consume(responses_queue(), h).await.unwrap();
    assert_eq!(seen.next().await.message.sender(), "cnam");
    let raw_obs = raw(&obs.url(&v)).await;
    dead_letters(&raw_obs, 2).await;
    c.stop().await;
    let raw_cnam = raw(&cnam.url(&v)).await;
    let told = drain(&raw_cnam, "passerelle.body.cnam.notices").await;
    assert_eq!(told.len(), 1, "cnam is told of its own message, not of the forgery");
    let notice = <passerelle_protocol::v1::Notice as prost::Message>::decode(told[0].delivery.data.as_slice()).unwrap();
    assert_eq!((notice.refused_message_id.as_str(), notice.sender.as_str()), (own_id.as_str(), OBSERVATORY));
    assert_eq!(notice.reason, NoticeReason::UnknownReference as i32);
    let raw_cnaf = raw(&cnaf.url(&v)).await;
    assert!(drain(&raw_cnaf, "passerelle.body.cnaf.notices").await.is_empty(), "the forged sender is told nothing");
    cnam_bus.close().await;
    obs_bus.close().await;
}

/// A deployment where cnaf has two requester offices, caf-13 and caf-84, each with its own
/// broker user, imported from the definitions `topology export` writes.
fn imported_offices(v: &Vhost) -> (passerelle_bus::BusSettings, User, User, User) {
    let tag = unique();
    let (obs_user, a_user, b_user) =
        (format!("test-{tag}-obs"), format!("test-{tag}-caf-13"), format!("test-{tag}-caf-84"));
    let mut settings = passerelle_bus::BusSettings {
        urls: vec![url(&v.name, "x", "x")],
        observatories: vec![OBSERVATORY.into()],
        ..Default::default()
    };
    settings.offices.insert("cnaf".into(), vec!["caf-13".into(), "caf-84".into()]);
    settings.identity.insecure_any_user = false;
    settings.identity.users.insert(obs_user.clone(), vec![OBSERVATORY.into()]);
    settings.identity.users.insert(a_user.clone(), vec!["cnaf.caf-13".into()]);
    settings.identity.users.insert(b_user.clone(), vec!["cnaf.caf-84".into()]);
    import(&settings);
    (settings, User::imported(&obs_user), User::imported(&a_user), User::imported(&b_user))
}

/// A one-chunk result of `case_id` from the test observatory, routed to `party`.
fn result_for(party: &str, case_id: &str) -> Outgoing {
    Outgoing::new(
        passerelle_bus::Message::Result(passerelle_protocol::v1::Result {
            schema_version: 1,
            sender: OBSERVATORY.into(),
            case_id: case_id.into(),
            chunk_count: 1,
            ..Default::default()
        }),
        party,
        in_an_hour(),
    )
}

#[tokio::test]
async fn exported_definitions_give_each_office_its_own_results_queue_and_refuse_it_to_the_other_offices() {
    let v = Vhost::reserved();
    let (settings, obs, caf13, caf84) = imported_offices(&v);
    let obs_bus = AmqpBus::connect(&as_user(&settings, &obs, &v), Role::Observatory(OBSERVATORY.into())).await.unwrap();
    let a = Role::requester(&settings, "cnaf", "caf-13").unwrap();
    let a_bus = AmqpBus::connect(&as_user(&settings, &caf13, &v), a.clone()).await.expect("office caf-13 connects");
    let (case_a, case_b) = ("0190a0b0-0000-7000-8000-0000000000a1", "0190a0b0-0000-7000-8000-0000000000b1");
    obs_bus.publish(vec![result_for("cnaf.caf-13", case_a), result_for("cnaf.caf-84", case_b)]).await.unwrap();

    // Its own results queue: it gets its own case, and only that.
    let (h, mut seen) = Recorder::acking();
    let own = a_bus.consume(a.results_queue().unwrap(), h).await.expect("an office reads its own results");
    assert_eq!(seen.next().await.message.case_id(), case_a);
    own.stop().await;

    // The other office's results queue: consuming it, or taking from it, is refused.
    let err = a_bus.consume(Queue::OfficeResults("cnaf.caf-84".into()), Recorder::acking().0).await.unwrap_err();
    assert!(err.to_string().contains("ACCESS_REFUSED"), "{err}");
    let raw_a = raw(&caf13.url(&v)).await;
    for queue in ["passerelle.requester.cnaf.caf-84.results", "passerelle.requester.cnaf.caf-84.notices"] {
        let ch = raw_a.create_channel().await.unwrap();
        let err = ch.basic_get(queue.into(), lapin::options::BasicGetOptions::default()).await.unwrap_err();
        assert!(err.to_string().contains("ACCESS_REFUSED"), "{queue}: {err}");
    }
    let ch = raw_a.create_channel().await.unwrap();
    let passive = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
    // What RabbitMQ does not refuse: a passive declare checks no permission (its access-control
    // table lists none), so another office's user learns that the queue exists and how many
    // messages wait there — a count, never a message. Asserted so that a broker that starts
    // refusing it is noticed (and README's "Requester offices" updated).
    let peek =
        ch.queue_declare("passerelle.requester.cnaf.caf-84.results".into(), passive, FieldTable::default()).await;
    assert_eq!(peek.expect("a passive declare is not permission-checked").message_count(), 1);
    // Declaring a queue of its own to bind to the results exchange: refused (no configure right),
    // and it may not read the results exchange either (which a binding needs).
    let ch = raw_a.create_channel().await.unwrap();
    let err = ch
        .queue_declare("passerelle.mine".into(), lapin::options::QueueDeclareOptions::default(), FieldTable::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ACCESS_REFUSED"), "{err}");
    // An office publishes only requests and receipts and its notices: never a result.
    for exchange in ["passerelle.results", "passerelle.responses", "passerelle.solicitations"] {
        let ch = raw_a.create_channel().await.unwrap();
        ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
        let props = BasicProperties::default().with_user_id(caf13.name.as_str().into());
        let result = async {
            ch.basic_publish(exchange.into(), "cnaf.caf-84".into(), BasicPublishOptions::default(), b"x", props)
                .await?
                .await
        }
        .await;
        let err = result.expect_err("publishing to an exchange an office does not need");
        assert!(err.to_string().contains("ACCESS_REFUSED"), "{exchange}: {err}");
    }

    // The other office still finds its own result there, untouched.
    let b = Role::requester(&settings, "cnaf", "caf-84").unwrap();
    let b_bus = AmqpBus::connect(&as_user(&settings, &caf84, &v), b.clone()).await.unwrap();
    let (h, mut seen) = Recorder::acking();
    let own = b_bus.consume(b.results_queue().unwrap(), h).await.unwrap();
    assert_eq!(seen.next().await.message.case_id(), case_b);
    own.stop().await;
    b_bus.close().await;
    a_bus.close().await;
    obs_bus.close().await;
}

/// The first release's topology, declared as it was: the same flow queue arguments, the
/// dead-letter and alarm queues without any length limit, no notice queue.
async fn declare_the_first_release_topology(conn: &lapin::Connection) {
    use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
    use lapin::types::AMQPValue;
    let ch = conn.create_channel().await.unwrap();
    let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
    for e in ["passerelle.requests", "passerelle.solicitations", "passerelle.responses", "passerelle.results"] {
        ch.exchange_declare(e.into(), lapin::ExchangeKind::Direct, durable, FieldTable::default()).await.unwrap();
    }
    ch.exchange_declare("passerelle.dead-letter".into(), lapin::ExchangeKind::Headers, durable, FieldTable::default())
        .await
        .unwrap();
    let table = |pairs: &[(&str, AMQPValue)]| {
        let mut t = FieldTable::default();
        for (k, v) in pairs {
            t.insert((*k).into(), v.clone());
        }
        t
    };
    let text = |s: &str| AMQPValue::LongString(s.into());
    let flow = table(&[
        ("x-queue-type", text("quorum")),
        ("x-delivery-limit", AMQPValue::LongLongInt(20)),
        ("x-message-ttl", AMQPValue::LongLongInt(30 * 24 * 3600 * 1000)),
        ("x-dead-letter-exchange", text("passerelle.dead-letter")),
    ]);
    let dead =
        table(&[("x-queue-type", text("quorum")), ("x-message-ttl", AMQPValue::LongLongInt(7 * 24 * 3600 * 1000))]);
    let durable = QueueDeclareOptions { durable: true, ..Default::default() };
    let mut queues = vec![
        (format!("passerelle.observatory.{OBSERVATORY}.requests"), "passerelle.requests", OBSERVATORY.to_owned()),
        (format!("passerelle.observatory.{OBSERVATORY}.responses"), "passerelle.responses", OBSERVATORY.to_owned()),
    ];
    for b in ["cnam", "cnav", "cnaf", "msa"] {
        queues.push((format!("passerelle.body.{b}.solicitations"), "passerelle.solicitations", b.to_owned()));
        queues.push((format!("passerelle.body.{b}.results"), "passerelle.results", b.to_owned()));
    }
    for (q, e, key) in &queues {
        ch.queue_declare(q.as_str().into(), durable, flow.clone()).await.unwrap();
        ch.queue_bind(
            q.as_str().into(),
            (*e).into(),
            key.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    }
    for q in ["passerelle.dead-letters", "passerelle.delivery-limit-alarms"] {
        ch.queue_declare(q.into(), durable, dead.clone()).await.unwrap();
    }
    let limit = ("x-first-death-reason", text("delivery_limit"));
    let reasoned = ("x-passerelle-dead-letter", text("reasoned"));
    for (q, rule) in [
        ("passerelle.dead-letters", limit.clone()),
        ("passerelle.dead-letters", reasoned),
        ("passerelle.delivery-limit-alarms", limit),
    ] {
        let headers = table(&[("x-match", text("all-with-x")), rule]);
        ch.queue_bind(q.into(), "passerelle.dead-letter".into(), "".into(), QueueBindOptions::default(), headers)
            .await
            .unwrap();
    }
    // A dead-letter of the first release, still waiting for an operator.
    let mut headers = FieldTable::default();
    headers.insert("x-passerelle-dead-letter".into(), text("reasoned"));
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    ch.basic_publish(
        "passerelle.dead-letter".into(),
        "".into(),
        BasicPublishOptions::default(),
        b"old",
        BasicProperties::default().with_message_id("old-dead-letter".into()).with_headers(headers),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let _ = ch.close(200, "first release declared".into()).await;
}

#[tokio::test]
async fn a_vhost_with_the_first_release_topology_keeps_working_after_the_upgrade() {
    let v = Vhost::new();
    let raw_conn = raw(&v.url()).await;
    declare_the_first_release_topology(&raw_conn).await;
    // The new observatory declares over it (nothing redeclared with other arguments), a body
    // starts, and a body's refusal reaches the dead-letter queue and the observatory's notices.
    let obs = observatory(&v).await;
    let body =
        AmqpBus::connect(&v.settings(), Role::Body("cnaf".into())).await.expect("a body starts after the upgrade");
    let (h, mut seen) = Recorder::new(|_| Verdict::dead_letter(NoticeReason::Invalid, "cannot handle it"));
    let c = body.consume(Queue::BodySolicitations("cnaf".into()), h).await.unwrap();
    obs.publish(vec![solicitation("cnaf")]).await.unwrap();
    seen.next().await;
    eventually("the refusal and its notice", || async {
        let queues = v.queues();
        let count = |name: &str| queues.iter().find(|q| q["name"] == name).map(|q| q["messages"].as_i64().unwrap_or(0));
        count("passerelle.dead-letters") == Some(2) && count("passerelle.observatory.carsat-sud-est.notices") == Some(1)
    })
    .await;
    c.stop().await;
    // The operator imports the new definitions: the limits apply to the old queues as policies,
    // and what they held is kept.
    import(&v.settings());
    let policies = policies(&v);
    assert_eq!(policies["passerelle.dead-letters"], "passerelle.dead-letters-limit");
    assert_eq!(policies["passerelle.delivery-limit-alarms"], "passerelle.alarms-limit");
    let dead = drain(&raw_conn, "passerelle.dead-letters").await;
    let ids: Vec<&str> =
        dead.iter().filter_map(|m| m.delivery.properties.message_id().as_ref().map(|i| i.as_str())).collect();
    assert!(ids.contains(&"old-dead-letter"), "{ids:?}");
    // The daemons reconnect and redeclare after the import as before.
    body.close().await;
    obs.close().await;
    let obs = observatory(&v).await;
    obs.close().await;
}

/// The `schema_minor` field of an encoded response.
fn got_minor(body: &[u8]) -> u32 {
    <passerelle_protocol::v1::Response as prost::Message>::decode(body).unwrap().schema_minor
}
