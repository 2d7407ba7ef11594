//! Social-service transfers (norm 43, A.3) on the real RabbitMQ, in a vhost imported from the
//! definitions `topology export` writes, with one broker user per party: a transfer reaches the
//! recipient's transfers queue with every documented property and its receipt comes back; a
//! forged sender is dead-lettered and nobody is told; a social service's user reaches only its
//! own queues and the transfers exchange; a transfer to an office with no queue is unroutable;
//! the observatory declares a social service's queues, which the social service checks.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::BasicProperties;
use passerelle_bus::{AmqpBus, Bus, BusError, BusSettings, Delivery, Kind, Message, Outgoing, Queue, Role};
use passerelle_protocol::v1;
use passerelle_test_support::broker::url;
use passerelle_test_support::{unique, User};
use tokio::sync::mpsc;

/// The sending social service, the receiving one, and a third the forger claims to be.
const A: &str = "carsat-sud-est.ss-13";
const B: &str = "cramif.ss-75";
const C: &str = "msa-provence-azur.ss-84";
const TRANSFER_ID: &str = "0190a0b0-0000-7000-8000-0000000000d1";

/// The deployment's broker users, passwords set after the import.
struct Users {
    obs: User,
    a: User,
    b: User,
    c: User,
}

/// The three social services and the observatory, imported into `v` from the exported
/// definitions (strict identity, one broker user each).
fn imported(v: &Vhost) -> (BusSettings, Users) {
    let tag = unique();
    let name = |who: &str| format!("test-{tag}-{who}");
    let mut settings = BusSettings {
        urls: vec![url(&v.name, "x", "x")],
        observatories: vec![OBSERVATORY.into()],
        ..Default::default()
    };
    settings.social_services.insert("carsat-sud-est".into(), vec!["ss-13".into()]);
    settings.social_services.insert("cramif".into(), vec!["ss-75".into()]);
    settings.social_services.insert("msa-provence-azur".into(), vec!["ss-84".into()]);
    settings.identity.insecure_any_user = false;
    for (who, party) in [("obs", OBSERVATORY), ("a", A), ("b", B), ("c", C)] {
        settings.identity.users.insert(name(who), vec![party.into()]);
    }
    import(&settings);
    let users = Users {
        obs: User::imported(&name("obs")),
        a: User::imported(&name("a")),
        b: User::imported(&name("b")),
        c: User::imported(&name("c")),
    };
    (settings, users)
}

async fn social_service(settings: &BusSettings, user: &User, v: &Vhost, party: &str) -> AmqpBus {
    AmqpBus::connect(&as_user(settings, user, v), Role::SocialService(party.into()))
        .await
        .unwrap_or_else(|e| panic!("social service {party} connects: {e}"))
}

fn transfer(sender: &str, to: &str, index: u32, count: u32, expires_at: SystemTime) -> Outgoing {
    let m = Message::Transfer(v1::Transfer {
        schema_version: 1,
        sender: sender.into(),
        transfer_id: TRANSFER_ID.into(),
        basis: v1::LegalBasis::Norm43A3 as i32,
        chunk_index: index,
        chunk_count: count,
        ..Default::default()
    });
    Outgoing::new(m, to, expires_at)
}

fn accepted(sender: &str, to: &str) -> Outgoing {
    let m = Message::TransferReceipt(v1::TransferReceipt {
        schema_version: 1,
        sender: sender.into(),
        transfer_id: TRANSFER_ID.into(),
        accepted: true,
        ..Default::default()
    });
    Outgoing::new(m, to, in_an_hour())
}

fn int_header(props: &BasicProperties, key: &str) -> Option<String> {
    header(props, key)
}

#[tokio::test]
async fn a_transfer_reaches_the_recipients_queue_with_its_properties_and_the_receipt_comes_back() {
    let v = Vhost::reserved();
    let (settings, users) = imported(&v);
    let a = social_service(&settings, &users.a, &v, A).await;
    let b = social_service(&settings, &users.b, &v, B).await;
    let cap = SystemTime::now() + Duration::from_secs(30 * 24 * 3600);
    let chunks = vec![transfer(A, B, 0, 2, cap), transfer(A, B, 1, 2, cap)];
    let first_id = chunks[0].message_id.to_string();
    a.publish(chunks).await.expect("a social service publishes transfers");

    // The first chunk, as the broker holds it: every property and header the contract names.
    let raw_b = raw(&users.b.url(&v)).await;
    let ch = raw_b.create_channel().await.unwrap();
    let got = ch
        .basic_get("passerelle.social-service.cramif.ss-75.transfers".into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the first chunk waits on B's transfers queue");
    let p = &got.delivery.properties;
    assert_eq!(got.delivery.exchange.as_str(), "passerelle.transfers");
    assert_eq!(got.delivery.routing_key.as_str(), B);
    assert_eq!(p.kind().as_ref().unwrap().as_str(), "passerelle.v1.Transfer");
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), first_id);
    assert_eq!(p.user_id().as_ref().unwrap().as_str(), users.a.name);
    assert_eq!(p.correlation_id().as_ref().unwrap().as_str(), TRANSFER_ID, "correlation_id is the transfer id");
    assert_eq!(p.content_type().as_ref().unwrap().as_str(), "application/x-protobuf");
    assert_eq!(p.delivery_mode(), &Some(2));
    let ttl: u64 = p.expiration().as_ref().unwrap().as_str().parse().unwrap();
    assert!(ttl <= 30 * 24 * 3600 * 1000 && ttl > 30 * 24 * 3600 * 1000 - 60_000, "the time left to the cap: {ttl}");
    assert_eq!(int_header(p, "x-passerelle-schema-version").as_deref(), Some("LongLongInt(1)"));
    assert_eq!(int_header(p, "x-passerelle-chunk-index").as_deref(), Some("LongLongInt(0)"));
    assert_eq!(int_header(p, "x-passerelle-chunk-count").as_deref(), Some("LongLongInt(2)"));
    let decoded = <v1::Transfer as prost::Message>::decode(got.delivery.data.as_slice()).unwrap();
    assert_eq!((decoded.sender.as_str(), decoded.basis), (A, v1::LegalBasis::Norm43A3 as i32));

    // The second chunk, through B's bus: checked and handed over.
    let (h, mut delivered, _) = listener();
    let consumer = b.consume(Queue::SocialServiceTransfers(B.into()), h).await.expect("B reads its own queue");
    let d = next(&mut delivered).await;
    assert_eq!((d.message.kind(), d.message.sender(), d.user_id.as_str()), (Kind::Transfer, A, users.a.name.as_str()));
    assert_eq!(d.message.chunk(), Some((1, 2)));
    consumer.stop().await;

    // B's receipt comes back on A's transfers queue.
    b.publish(vec![accepted(B, A)]).await.unwrap();
    let (h, mut delivered, _) = listener();
    let consumer = a.consume(Queue::SocialServiceTransfers(A.into()), h).await.unwrap();
    let r = next(&mut delivered).await;
    assert_eq!((r.message.kind(), r.message.sender(), r.message.case_id()), (Kind::TransferReceipt, B, TRANSFER_ID));
    assert_eq!(r.user_id, users.b.name);
    consumer.stop().await;
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn a_transfer_whose_sender_is_another_social_service_is_dead_lettered_and_nobody_is_told() {
    let v = Vhost::reserved();
    let (settings, users) = imported(&v);
    let a = social_service(&settings, &users.a, &v, A).await;
    let b = social_service(&settings, &users.b, &v, B).await;
    // A's user claims to be C; then sends one of its own.
    let forged = transfer(C, B, 0, 1, in_an_hour());
    let forged_id = forged.message_id.to_string();
    a.publish(vec![forged]).await.expect("the broker validates the user, not the claim");
    a.publish(vec![transfer(A, B, 0, 1, in_an_hour())]).await.unwrap();
    let (h, mut delivered, mut refused) = listener();
    let consumer = b.consume(Queue::SocialServiceTransfers(B.into()), h).await.unwrap();
    let d = next(&mut delivered).await;
    assert_eq!(d.message.sender(), A, "the genuine transfer is handled");
    let r = next(&mut refused).await;
    assert_eq!(r.message_id.as_deref(), Some(forged_id.as_str()));
    assert!(r.reason.contains(&format!("may not speak for \"{C}\"")), "{}", r.reason);
    assert_eq!((r.kind, r.answer_to.as_deref()), (Some(Kind::Transfer), None), "nobody is told");
    let raw_obs = raw(&users.obs.url(&v)).await;
    let dead = transfers_dead_letters(&v, 1).await;
    consumer.stop().await;
    assert_eq!(dead.len(), 1);
    let p = &dead[0].delivery.properties;
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), forged_id);
    assert_eq!(header(p, "x-first-death-reason").as_deref(), Some("rejected"), "B rejects, the broker dead-letters");
    assert_eq!(header(p, "x-first-death-queue").as_deref(), Some("passerelle.social-service.cramif.ss-75.transfers"));
    assert!(!delivered_more(&mut delivered).await, "the handler never saw the forgery");
    for queue in [
        "passerelle.social-service.msa-provence-azur.ss-84.transfers",
        "passerelle.social-service.msa-provence-azur.ss-84.notices",
        "passerelle.social-service.carsat-sud-est.ss-13.notices",
        "passerelle.social-service.carsat-sud-est.ss-13.transfers",
        "passerelle.observatory.carsat-sud-est.notices",
        "passerelle.dead-letters",
        "passerelle.delivery-limit-alarms",
    ] {
        assert_eq!(waiting(&raw_obs, queue).await, 0, "nothing arrives on {queue}");
    }
    let ch = raw_obs.create_channel().await.unwrap();
    let err = ch.basic_get("passerelle.transfers-dead-letters".into(), BasicGetOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("ACCESS_REFUSED"), "the observatory never reads a refused case file: {err}");
    a.close().await;
    b.close().await;
}

/// The transfers the broker dead-lettered (at least `n`), read as the broker's operator: no
/// party's user may read that queue.
async fn transfers_dead_letters(v: &Vhost, n: usize) -> Vec<lapin::message::BasicGetMessage> {
    let (operator, _) = passerelle_test_support::broker::credentials(&passerelle_test_support::amqp_url());
    rabbitmqctl(&["set_permissions", "-p", &v.name, &operator, "^$", "^$", r"^passerelle\.transfers-dead-letters$"]);
    let conn = raw(&v.url()).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut dead = Vec::new();
    loop {
        dead.extend(drain(&conn, "passerelle.transfers-dead-letters").await);
        if dead.len() >= n {
            return dead;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {n} dead transfers, got {}", dead.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether another delivery was handed over (within a short grace for one in flight).
async fn delivered_more(rx: &mut mpsc::UnboundedReceiver<Delivery>) -> bool {
    matches!(tokio::time::timeout(Duration::from_millis(300), rx.recv()).await, Ok(Some(_)))
}

#[tokio::test]
async fn a_social_service_user_reaches_only_its_own_queues_and_the_transfers_exchange() {
    let v = Vhost::reserved();
    let (settings, users) = imported(&v);
    let a = social_service(&settings, &users.a, &v, A).await;
    a.publish(vec![transfer(A, B, 0, 1, in_an_hour())]).await.expect("it may publish to passerelle.transfers");
    let (h, _, _) = listener();
    a.consume(Queue::SocialServiceNotices(A.into()), h).await.expect("its own notices queue").stop().await;

    // B's queues: consuming or taking from them is refused.
    let (h, _, _) = listener();
    let err = a.consume(Queue::SocialServiceTransfers(B.into()), h).await.unwrap_err();
    assert!(err.to_string().contains("ACCESS_REFUSED"), "{err}");
    let raw_a = raw(&users.a.url(&v)).await;
    for queue in [
        "passerelle.social-service.cramif.ss-75.transfers",
        "passerelle.social-service.cramif.ss-75.notices",
        "passerelle.dead-letters",
        "passerelle.body.cnaf.solicitations",
    ] {
        let ch = raw_a.create_channel().await.unwrap();
        let err = ch.basic_get(queue.into(), BasicGetOptions::default()).await.unwrap_err();
        assert!(err.to_string().contains("ACCESS_REFUSED"), "{queue}: {err}");
    }
    assert_eq!(
        waiting(&raw_a, "passerelle.social-service.cramif.ss-75.transfers").await,
        1,
        "B's transfer is untouched"
    );
    // Every exchange but the transfers and notices-to-observatories ones: refused.
    for exchange in [
        "passerelle.results",
        "passerelle.solicitations",
        "passerelle.requests",
        "passerelle.responses",
        "passerelle.notices-to-bodies",
        "passerelle.dead-letter",
    ] {
        let ch = raw_a.create_channel().await.unwrap();
        ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
        let props = BasicProperties::default().with_user_id(users.a.name.as_str().into());
        let result = async {
            ch.basic_publish(exchange.into(), B.into(), BasicPublishOptions::default(), b"x", props).await?.await
        }
        .await;
        let err = result.expect_err("publishing to an exchange a social service does not need");
        assert!(err.to_string().contains("ACCESS_REFUSED"), "{exchange}: {err}");
    }
    // Declaring anything: refused (no configure right).
    let ch = raw_a.create_channel().await.unwrap();
    let err = ch
        .queue_declare("passerelle.mine".into(), QueueDeclareOptions::default(), FieldTable::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ACCESS_REFUSED"), "{err}");
    a.close().await;
    drop(users.c);
}

#[tokio::test]
async fn the_observatory_starts_on_the_imported_definitions_but_cannot_bind_a_queue_to_the_transfers() {
    let v = Vhost::reserved();
    let (settings, users) = imported(&v);
    let obs = AmqpBus::connect(&as_user(&settings, &users.obs, &v), Role::Observatory(OBSERVATORY.into()))
        .await
        .expect("the observatory declares the topology, leaving the transfers' bindings to the definitions");
    let a = social_service(&settings, &users.a, &v, A).await;
    a.publish(vec![transfer(A, B, 0, 1, in_an_hour())]).await.expect("still routed to B");
    let raw_obs = raw(&users.obs.url(&v)).await;
    let own = "passerelle.observatory.carsat-sud-est.notices";
    for (exchange, key) in [("passerelle.transfers", B), ("passerelle.transfers-dead-letter", "")] {
        let ch = raw_obs.create_channel().await.unwrap();
        let err = ch
            .queue_bind(own.into(), exchange.into(), key.into(), QueueBindOptions::default(), FieldTable::default())
            .await
            .expect_err("an observatory copying a social service's case files");
        assert!(err.to_string().contains("ACCESS_REFUSED"), "{exchange}: {err}");
    }
    let ch = raw_obs.create_channel().await.unwrap();
    let err = ch
        .queue_bind(
            "passerelle.social-service.cramif.ss-75.transfers".into(),
            "passerelle.results".into(),
            B.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect_err("nor bind a transfers queue elsewhere");
    assert!(err.to_string().contains("ACCESS_REFUSED"), "{err}");
    assert_eq!(waiting(&raw_obs, own).await, 0);
    a.close().await;
    obs.close().await;
}

#[tokio::test]
async fn a_transfer_to_an_office_with_no_queue_is_unroutable() {
    let v = Vhost::reserved();
    let (settings, users) = imported(&v);
    let a = social_service(&settings, &users.a, &v, A).await;
    let err = a.publish(vec![transfer(A, "cramif.ss-93", 0, 1, in_an_hour())]).await.unwrap_err();
    match &err {
        BusError::Returned { exchange, routing_key, .. } => {
            assert_eq!((exchange.as_str(), routing_key.as_str()), ("passerelle.transfers", "cramif.ss-93"));
        }
        other => panic!("expected the unroutable error, got {other}"),
    }
    a.publish(vec![transfer(A, B, 0, 1, in_an_hour())]).await.expect("the bus still publishes after a return");
    a.close().await;
}

#[tokio::test]
async fn the_observatory_declares_the_social_services_queues_and_a_social_service_checks_them_passively() {
    let v = Vhost::new();
    let mut settings = v.settings();
    settings.social_services.insert("cramif".into(), vec!["ss-75".into()]);
    let err = AmqpBus::connect(&settings, Role::SocialService(B.into())).await.unwrap_err();
    assert!(matches!(err, BusError::Declare { .. }), "nothing declared yet: {err}");
    let obs = AmqpBus::connect(&settings, Role::Observatory(OBSERVATORY.into())).await.unwrap();
    let b = AmqpBus::connect(&settings, Role::SocialService(B.into())).await.expect("its queues exist now");
    // rabbitmqctl lists arguments as [name, type, value] triples.
    let arguments = |name: &str| -> serde_json::Map<String, serde_json::Value> {
        let queues = v.queues();
        let q = queues.iter().find(|q| q["name"] == name).unwrap_or_else(|| panic!("{name} declared"));
        q["arguments"].as_array().unwrap().iter().map(|a| (a[0].as_str().unwrap().to_owned(), a[2].clone())).collect()
    };
    let transfers = arguments("passerelle.social-service.cramif.ss-75.transfers");
    assert_eq!(transfers["x-queue-type"], "quorum");
    assert_eq!(transfers["x-delivery-limit"], 20);
    assert_eq!(transfers["x-message-ttl"], 30_i64 * 24 * 3600 * 1000);
    assert_eq!(transfers["x-dead-letter-exchange"], "passerelle.transfers-dead-letter", "apart from the observatory's");
    let notices = arguments("passerelle.social-service.cramif.ss-75.notices");
    assert_eq!((&notices["x-max-length"], &notices["x-overflow"]), (&1000.into(), &"drop-head".into()));
    b.close().await;
    obs.close().await;
}
