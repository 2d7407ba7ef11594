//! The persons' rights messages (decree art. 6, `rights.proto`) on the real RabbitMQ, in a vhost
//! imported from the definitions `topology export` writes, with one broker user per party: a
//! request from the observatory reaches a requester office's and a requester body's rights queue
//! with every documented property, and the answers reach the observatory's; a rights request
//! published by a requester's user is dead-lettered at the receiver, never handled, nobody told;
//! a requester's user may read no other party's rights queue; the export grants exactly these.

mod common;

use std::time::Duration;

use common::*;
use lapin::options::BasicGetOptions;
use passerelle_bus::{AmqpBus, Bus, BusSettings, Kind, Message, Outgoing, Queue, Role};
use passerelle_protocol::v1;
use passerelle_test_support::broker::url;
use passerelle_test_support::{unique, User};

/// A requester office of a body with offices, another one, and a requester body without.
const OFFICE: &str = "cnaf.caf-13";
const OTHER_OFFICE: &str = "cnaf.caf-84";
const BODY: &str = "cnam";
const REQUEST_ID: &str = "0190a0b0-0000-7000-8000-0000000000e7";

/// The deployment's broker users, passwords set after the import.
struct Users {
    obs: User,
    office: User,
    other_office: User,
    body: User,
    cnaf: User,
}

/// The observatory, cnaf's two offices, cnaf itself (a responder) and cnam, imported into `v`
/// from the exported definitions (strict identity, one broker user each).
fn imported(v: &Vhost) -> (BusSettings, Users) {
    let tag = unique();
    let name = |who: &str| format!("test-{tag}-{who}");
    let mut settings = BusSettings {
        urls: vec![url(&v.name, "x", "x")],
        observatories: vec![OBSERVATORY.into()],
        ..Default::default()
    };
    settings.offices.insert("cnaf".into(), vec!["caf-13".into(), "caf-84".into()]);
    settings.identity.insecure_any_user = false;
    for (who, party) in
        [("obs", OBSERVATORY), ("office", OFFICE), ("other-office", OTHER_OFFICE), ("body", BODY), ("cnaf", "cnaf")]
    {
        settings.identity.users.insert(name(who), vec![party.into()]);
    }
    import(&settings);
    let users = Users {
        obs: User::imported(&name("obs")),
        office: User::imported(&name("office")),
        other_office: User::imported(&name("other-office")),
        body: User::imported(&name("body")),
        cnaf: User::imported(&name("cnaf")),
    };
    (settings, users)
}

async fn connect(settings: &BusSettings, user: &User, v: &Vhost, role: Role) -> AmqpBus {
    let label = role.label();
    AmqpBus::connect(&as_user(settings, user, v), role).await.unwrap_or_else(|e| panic!("{label} connects: {e}"))
}

fn request(sender: &str, recipient: &str) -> Outgoing {
    let m = Message::RightsRequest(v1::RightsRequest {
        schema_version: 1,
        sender: sender.into(),
        request_id: REQUEST_ID.into(),
        recipient: recipient.into(),
        kind: v1::RightsKind::Access as i32,
        nir: "2850575123456".into(),
        ..Default::default()
    });
    Outgoing::to_recipient(m, in_an_hour()).unwrap()
}

fn answer(sender: &str) -> Outgoing {
    let m = Message::RightsAnswer(v1::RightsAnswer {
        schema_version: 1,
        sender: sender.into(),
        request_id: REQUEST_ID.into(),
        recipient: OBSERVATORY.into(),
        kind: v1::RightsKind::Access as i32,
        ..Default::default()
    });
    Outgoing::to_recipient(m, in_an_hour()).unwrap()
}

#[tokio::test]
async fn a_request_reaches_an_office_and_a_body_and_their_answers_reach_the_observatory() {
    let v = Vhost::reserved();
    let (settings, users) = imported(&v);
    let obs = connect(&settings, &users.obs, &v, Role::Observatory(OBSERVATORY.into())).await;
    let office = connect(&settings, &users.office, &v, Role::Office(OFFICE.into())).await;
    let body = connect(&settings, &users.body, &v, Role::Body(BODY.into())).await;
    // A body with offices (its responder) connects as before: it has no rights queue.
    connect(&settings, &users.cnaf, &v, Role::Body("cnaf".into())).await.close().await;
    let to_office = request(OBSERVATORY, OFFICE);
    let office_message_id = to_office.message_id.to_string();
    obs.publish(vec![to_office, request(OBSERVATORY, BODY)]).await.expect("the observatory asks");

    // The office's request, as the broker holds it: every property and header the contract names.
    let raw_office = raw(&users.office.url(&v)).await;
    let ch = raw_office.create_channel().await.unwrap();
    let got = ch
        .basic_get("passerelle.requester.cnaf.caf-13.rights".into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the request waits on the office's rights queue");
    let p = &got.delivery.properties;
    assert_eq!((got.delivery.exchange.as_str(), got.delivery.routing_key.as_str()), ("passerelle.rights", OFFICE));
    assert_eq!(p.kind().as_ref().unwrap().as_str(), "passerelle.v1.RightsRequest");
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), office_message_id);
    assert_eq!(p.user_id().as_ref().unwrap().as_str(), users.obs.name);
    assert_eq!(p.correlation_id().as_ref().unwrap().as_str(), REQUEST_ID, "correlation_id is the request id");
    assert_eq!(p.content_type().as_ref().unwrap().as_str(), "application/x-protobuf");
    assert_eq!(p.delivery_mode(), &Some(2));
    assert!(p.timestamp().is_some());
    let ttl: u64 = p.expiration().as_ref().unwrap().as_str().parse().unwrap();
    assert!(ttl <= 3_600_000 && ttl > 3_540_000, "the time left to the cap: {ttl}");
    assert_eq!(header(p, "x-passerelle-schema-version").as_deref(), Some("LongLongInt(1)"));
    assert!(header(p, "x-passerelle-expires-at").is_some());
    assert_eq!(header(p, "x-passerelle-chunk-index"), None, "a rights message is never chunked");
    let decoded = <v1::RightsRequest as prost::Message>::decode(got.delivery.data.as_slice()).unwrap();
    assert_eq!((decoded.sender.as_str(), decoded.recipient.as_str()), (OBSERVATORY, OFFICE));

    // The body's, through its requester's bus: checked and handed over.
    let (h, mut delivered, _) = listener();
    let consumer = body.consume(Queue::BodyRights(BODY.into()), h).await.expect("the body reads its rights queue");
    let d = next(&mut delivered).await;
    consumer.stop().await;
    assert_eq!(
        (d.message.kind(), d.message.sender(), d.message.case_id()),
        (Kind::RightsRequest, OBSERVATORY, REQUEST_ID)
    );
    assert_eq!(d.user_id, users.obs.name);

    // Both answer; the answers come back on the observatory's rights queue.
    office.publish(vec![answer(OFFICE)]).await.expect("an office answers");
    body.publish(vec![answer(BODY)]).await.expect("a body answers");
    let (h, mut delivered, _) = listener();
    let consumer = obs.consume(Queue::ObservatoryRights(OBSERVATORY.into()), h).await.unwrap();
    let mut senders = vec![next(&mut delivered).await, next(&mut delivered).await]
        .into_iter()
        .map(|d| (d.message.kind(), d.message.sender().to_owned(), d.user_id))
        .collect::<Vec<_>>();
    consumer.stop().await;
    senders.sort();
    assert_eq!(
        senders,
        [
            (Kind::RightsAnswer, OFFICE.to_owned(), users.office.name.clone()),
            (Kind::RightsAnswer, BODY.to_owned(), users.body.name.clone()),
        ]
    );
    let raw_obs = raw(&users.obs.url(&v)).await;
    assert_eq!(waiting(&raw_obs, "passerelle.requester.cnaf.caf-84.rights").await, 0, "never asked, nothing there");
    assert_eq!(waiting(&raw_obs, "passerelle.dead-letters").await, 0);
    for b in [obs, office, body] {
        b.close().await;
    }
}

#[tokio::test]
async fn a_rights_request_from_a_requesters_user_is_dead_lettered_at_the_receiver_and_never_handled() {
    let v = Vhost::reserved();
    let (settings, users) = imported(&v);
    let office = connect(&settings, &users.office, &v, Role::Office(OFFICE.into())).await;
    let other = connect(&settings, &users.other_office, &v, Role::Office(OTHER_OFFICE.into())).await;
    let obs = connect(&settings, &users.obs, &v, Role::Observatory(OBSERVATORY.into())).await;
    // The office asks another office for a person's data, in its own name; then the genuine one.
    let forged = request(OFFICE, OTHER_OFFICE);
    let forged_id = forged.message_id.to_string();
    office.publish(vec![forged]).await.expect("the broker validates the user, not the claim");
    obs.publish(vec![request(OBSERVATORY, OTHER_OFFICE)]).await.unwrap();
    let (h, mut delivered, mut refused) = listener();
    let consumer = other.consume(Queue::OfficeRights(OTHER_OFFICE.into()), h).await.unwrap();
    let d = next(&mut delivered).await;
    assert_eq!(d.message.sender(), OBSERVATORY, "the observatory's request is handled");
    let r = next(&mut refused).await;
    assert_eq!(r.message_id.as_deref(), Some(forged_id.as_str()));
    assert!(r.reason.contains("\"cnaf.caf-13\" is not an observatory"), "{}", r.reason);
    assert_eq!((r.kind, r.answer_to.as_deref()), (Some(Kind::RightsRequest), None), "nobody is told");
    let raw_obs = raw(&users.obs.url(&v)).await;
    let dead = dead_letters(&raw_obs, 1).await;
    consumer.stop().await;
    assert_eq!(dead.len(), 1);
    let p = &dead[0].delivery.properties;
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), forged_id);
    assert_eq!(header(p, "x-first-death-reason").as_deref(), Some("rejected"), "the office rejects");
    assert_eq!(header(p, "x-first-death-queue").as_deref(), Some("passerelle.requester.cnaf.caf-84.rights"));
    assert!(
        !matches!(tokio::time::timeout(Duration::from_millis(300), delivered.recv()).await, Ok(Some(_))),
        "the handler never saw the forgery"
    );
    for queue in [
        "passerelle.requester.cnaf.caf-13.notices",
        "passerelle.requester.cnaf.caf-84.notices",
        "passerelle.observatory.carsat-sud-est.notices",
        "passerelle.observatory.carsat-sud-est.rights",
    ] {
        assert_eq!(waiting(&raw_obs, queue).await, 0, "nothing arrives on {queue}");
    }
    for b in [obs, office, other] {
        b.close().await;
    }
}

#[tokio::test]
async fn a_requesters_user_reads_only_its_own_rights_queue() {
    let v = Vhost::reserved();
    let (settings, users) = imported(&v);
    let office = connect(&settings, &users.office, &v, Role::Office(OFFICE.into())).await;
    let (h, _, _) = listener();
    office.consume(Queue::OfficeRights(OFFICE.into()), h).await.expect("its own rights queue").stop().await;
    for queue in [
        Queue::OfficeRights(OTHER_OFFICE.into()),
        Queue::BodyRights(BODY.into()),
        Queue::ObservatoryRights(OBSERVATORY.into()),
    ] {
        let (h, _, _) = listener();
        let err = office.consume(queue.clone(), h).await.unwrap_err();
        assert!(err.to_string().contains("ACCESS_REFUSED"), "{}: {err}", queue.name("passerelle"));
    }
    let raw_body = raw(&users.body.url(&v)).await;
    for queue in ["passerelle.requester.cnaf.caf-13.rights", "passerelle.observatory.carsat-sud-est.rights"] {
        let ch = raw_body.create_channel().await.unwrap();
        let err = ch.basic_get(queue.into(), BasicGetOptions::default()).await.unwrap_err();
        assert!(err.to_string().contains("ACCESS_REFUSED"), "{queue}: {err}");
    }
    // cnaf (a body with offices) is never asked: no rights queue to read, no answer to write.
    let raw_cnaf = raw(&users.cnaf.url(&v)).await;
    let ch = raw_cnaf.create_channel().await.unwrap();
    let err =
        ch.basic_get("passerelle.requester.cnaf.caf-13.rights".into(), BasicGetOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("ACCESS_REFUSED"), "{err}");
    office.close().await;
}

#[test]
fn topology_export_grants_the_rights_exchange_and_queue_to_exactly_the_parties_asked() {
    let mut settings = BusSettings { observatories: vec![OBSERVATORY.into()], ..Default::default() };
    settings.offices.insert("cnaf".into(), vec!["caf-13".into(), "caf-84".into()]);
    settings.social_services.insert("cramif".into(), vec!["ss-75".into()]);
    settings.identity.insecure_any_user = false;
    let names = |re: &str| -> Vec<String> {
        re.trim_start_matches("^(").trim_end_matches(")$").split('|').map(|n| n.replace('\\', "")).collect()
    };
    let grants = |party: &str| {
        let p = passerelle_bus::definitions::permissions(&settings, &[party.to_owned()]).unwrap();
        let read: Vec<String> =
            names(&p.read).into_iter().filter(|n| n.ends_with(".rights") && n != "passerelle.rights").collect();
        (names(&p.write).contains(&"passerelle.rights".to_owned()), read)
    };
    assert_eq!(grants(OBSERVATORY), (true, vec!["passerelle.observatory.carsat-sud-est.rights".to_owned()]));
    assert_eq!(grants(OFFICE), (true, vec!["passerelle.requester.cnaf.caf-13.rights".to_owned()]));
    assert_eq!(grants(BODY), (true, vec!["passerelle.body.cnam.rights".to_owned()]));
    assert_eq!(grants("cnaf"), (false, vec![]), "a body with offices: its offices are asked");
    assert_eq!(grants("cramif.ss-75"), (false, vec![]), "a social service is never asked");
    let definitions = passerelle_bus::definitions::definitions(&settings).unwrap();
    let queue = definitions["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "passerelle.requester.cnaf.caf-13.rights")
        .expect("the office's rights queue is exported");
    assert_eq!(queue["arguments"]["x-queue-type"], "quorum");
    assert_eq!(queue["arguments"]["x-delivery-limit"], 20);
    assert_eq!(queue["arguments"]["x-message-ttl"], 30_i64 * 24 * 3600 * 1000);
    assert_eq!(queue["arguments"]["x-dead-letter-exchange"], "passerelle.dead-letter");
    let bound = definitions["bindings"].as_array().unwrap().iter().any(|b| {
        b["source"] == "passerelle.rights"
            && b["destination"] == "passerelle.body.cnam.rights"
            && b["routing_key"] == "cnam"
    });
    assert!(bound, "the body's rights queue is bound with its code");
}
