//! The witness messages (`witness.proto`) over the real RabbitMQ, in a vhost of the test's own
//! with the definitions `topology export` writes (one broker user per party): a body's
//! checkpoint reaches its observatory's notices consumer, the observatory's answer reaches a
//! requester office's, and a checkpoint whose sender is forged is dead-lettered, never handled.

mod common;

use std::time::Duration;

use common::*;
use passerelle_bus::{AmqpBus, Bus, BusSettings, Kind, Message, Outgoing, Queue, Role};
use passerelle_protocol::v1;
use passerelle_test_support::broker::url;
use passerelle_test_support::{unique, User};

const OFFICE: &str = "cnaf.caf-13";

/// A deployment imported into `v`: the observatory, cnaf with its office caf-13, and cnam, each
/// with its own broker user (strict identity). Users: observatory, cnam, office.
fn deployment(v: &Vhost) -> (BusSettings, User, User, User) {
    let tag = unique();
    let (obs, cnam, office) = (format!("test-{tag}-obs"), format!("test-{tag}-cnam"), format!("test-{tag}-caf-13"));
    let mut settings = BusSettings {
        urls: vec![url(&v.name, "x", "x")],
        observatories: vec![OBSERVATORY.into()],
        ..Default::default()
    };
    settings.offices.insert("cnaf".into(), vec!["caf-13".into()]);
    settings.identity.insecure_any_user = false;
    settings.identity.users.insert(obs.clone(), vec![OBSERVATORY.into()]);
    settings.identity.users.insert(cnam.clone(), vec!["cnam".into()]);
    settings.identity.users.insert(office.clone(), vec![OFFICE.into()]);
    import(&settings);
    (settings, User::imported(&obs), User::imported(&cnam), User::imported(&office))
}

/// A regular checkpoint of `sender`'s audit trail for the observatory (synthetic hashes).
fn checkpoint(sender: &str) -> Message {
    Message::Checkpoint(v1::Checkpoint {
        schema_minor: passerelle_protocol::SCHEMA_MINOR,
        schema_version: 1,
        sender: sender.into(),
        recipient: OBSERVATORY.into(),
        checkpoint: Some(v1::SignedCheckpoint {
            trail: "audit".into(),
            year: 2026,
            count: 12,
            head: "ab".repeat(32),
            at_ms: 1_780_000_000_000,
            kind: v1::CheckpointKind::Regular as i32,
            signature: "cd".repeat(64),
            public_key: "ef".repeat(32),
        }),
    })
}

#[tokio::test]
async fn witness_messages_travel_between_the_observatory_and_a_body_or_an_office_and_a_forged_one_is_dead_lettered() {
    let v = Vhost::reserved();
    let (settings, obs, cnam, office) = deployment(&v);
    let obs_bus = AmqpBus::connect(&as_user(&settings, &obs, &v), Role::Observatory(OBSERVATORY.into())).await.unwrap();
    let cnam_bus = AmqpBus::connect(&as_user(&settings, &cnam, &v), Role::Body("cnam".into())).await.unwrap();
    let office_role = Role::Office(OFFICE.into());
    let office_bus = AmqpBus::connect(&as_user(&settings, &office, &v), office_role.clone()).await.unwrap();

    // cnam's user first forges a checkpoint of cnaf's, then sends its own.
    let forged = Outgoing::to_recipient(checkpoint("cnaf"), in_an_hour()).unwrap();
    let forged_id = forged.message_id.to_string();
    cnam_bus.publish(vec![forged]).await.expect("the broker routes it: the receiver checks the sender");
    let own = checkpoint("cnam");
    cnam_bus.publish(vec![Outgoing::to_recipient(own.clone(), in_an_hour()).unwrap()]).await.unwrap();
    let (h, mut seen) = Recorder::acking();
    let c = obs_bus.consume(Queue::ObservatoryNotices(OBSERVATORY.into()), h.clone()).await.unwrap();
    let d = seen.next().await;
    assert_eq!((&d.message, d.user_id.as_str()), (&own, cnam.name.as_str()), "only cnam's own checkpoint is handled");
    let raw_obs = raw(&obs.url(&v)).await;
    let dead = dead_letters(&raw_obs, 1).await;
    let p = &dead[0].delivery.properties;
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), forged_id);
    assert_eq!(p.kind().as_ref().unwrap().as_str(), "passerelle.v1.Checkpoint");
    let reason = header(p, "x-passerelle-reason").unwrap();
    assert!(reason.contains("may not speak for \"cnaf\""), "{reason}");
    assert!(!seen.more_within(Duration::from_millis(300)).await, "the forged checkpoint was never handled");
    c.stop().await;
    assert_eq!(h.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    let raw_cnam = raw(&cnam.url(&v)).await;
    assert!(drain(&raw_cnam, "passerelle.body.cnam.notices").await.is_empty(), "no notice about a witness message");

    // The observatory answers the office's query: it reaches the office's notices consumer.
    let answer = Message::WitnessedCheckpoints(v1::WitnessedCheckpoints {
        schema_version: 1,
        sender: OBSERVATORY.into(),
        recipient: OFFICE.into(),
        query_id: "0190a0b0-0000-7000-8000-00000000c0de".into(),
        trail: "access-log".into(),
        year: 0,
        years_held: vec![2025, 2026],
        ..Default::default()
    });
    let o = Outgoing::to_recipient(answer.clone(), in_an_hour()).unwrap();
    assert_eq!(o.routing_key, OFFICE);
    obs_bus.publish(vec![o]).await.unwrap();
    let (h, mut seen) = Recorder::acking();
    let c = office_bus.consume(office_role.notices_queue(), h).await.unwrap();
    let d = seen.next().await;
    assert_eq!(
        (d.message.kind(), &d.message, d.user_id.as_str()),
        (Kind::WitnessedCheckpoints, &answer, obs.name.as_str())
    );
    c.stop().await;

    office_bus.close().await;
    cnam_bus.close().await;
    obs_bus.close().await;
}
