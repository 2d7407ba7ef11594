//! Requester offices at the observatory (DESIGN §7.1 "Parties"), on the in-process bus with
//! strict identity: cnaf has the offices caf-13 and caf-84, each with its own broker user. A
//! case's refusal goes to the office that asked, on its own queue; a request that names another
//! office than its user's, or an office the deployment does not list, or that the body's own
//! user sends, is dead-lettered.

use crate::common;

use std::sync::Arc;
use std::time::SystemTime;

use common::{person, CaseSpec, Requester, OBSERVATORY};
use passerelle_bus::{Bus, BusSettings, InProcessBus, Message, Outgoing, Queue};
use passerelle_observatory::{Observatory, ObservatorySettings};
use passerelle_protocol::rules::{days, ManualClock};
use passerelle_test_support::eventually;
use tokio::sync::watch;

fn deployment() -> BusSettings {
    let mut s = BusSettings { observatories: vec![OBSERVATORY.into()], ..Default::default() };
    s.offices.insert("cnaf".into(), vec!["caf-13".into(), "caf-84".into()]);
    s.identity.insecure_any_user = false;
    s.identity.users.insert("obs".into(), vec![OBSERVATORY.into()]);
    s.identity.users.insert("body-cnaf".into(), vec!["cnaf".into()]);
    s.identity.users.insert("caf-13".into(), vec!["cnaf.caf-13".into()]);
    s.identity.users.insert("caf-84".into(), vec!["cnaf.caf-84".into()]);
    s
}

/// A one-chunk request of cnaf from `office`, asking for nothing (so refused as a whole).
fn request(office: &str) -> (String, Outgoing) {
    let case_id = uuid::Uuid::now_v7().to_string();
    let mut spec = CaseSpec::new(vec![person(1)]);
    spec.wanted.clear();
    let mut chunk = Requester::chunks(&case_id, &spec).remove(0);
    chunk.requester_office = office.into();
    (case_id, Outgoing::new(Message::Request(chunk), OBSERVATORY, SystemTime::now() + days(30)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_is_answered_to_its_own_office_and_taken_only_from_that_offices_user() {
    let dir = tempfile::tempdir().unwrap();
    let settings = deployment();
    let bus = InProcessBus::new(&settings);
    let mut observatory_settings = ObservatorySettings::new(OBSERVATORY, dir.path());
    observatory_settings.broker = settings.clone();
    observatory_settings.tick_ms = 50;
    let clock = Arc::new(ManualClock::starting_at(SystemTime::now()));
    let observatory = Observatory::build(observatory_settings, Arc::new(bus.connect_as("obs")), clock).unwrap();
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        observatory
            .run_until_stopped(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });
    let (caf13, caf84, body) = (bus.connect_as("caf-13"), bus.connect_as("caf-84"), bus.connect_as("body-cnaf"));
    let (own, refused) = (Queue::OfficeResults("cnaf.caf-13".into()), Queue::OfficeResults("cnaf.caf-84".into()));

    // caf-13's own case: its refusal goes to caf-13's queue, nothing to caf-84's.
    let (_, message) = request("caf-13");
    caf13.publish(vec![message]).await.unwrap();
    eventually("caf-13's refusal on its own queue", || bus.ready(&own) == 1).await;
    assert_eq!(bus.ready(&refused), 0, "nothing for the other office");

    // caf-84's user naming caf-13, an office the deployment does not list, and the body's own
    // user: dead-lettered, and none of them reaches a results queue.
    let cases = [("caf-84", request("caf-13")), ("caf-13", request("caf-06")), ("body-cnaf", request("caf-13"))];
    for (user, (_, message)) in cases {
        let connection = match user {
            "caf-84" => &caf84,
            "caf-13" => &caf13,
            _ => &body,
        };
        connection.publish(vec![message]).await.unwrap();
    }
    eventually("three requests dead-lettered", || bus.dead_letters().len() == 3).await;
    let reasons: Vec<String> = bus.dead_letters().into_iter().map(|d| d.reason).collect();
    let count = |text: &str| reasons.iter().filter(|r| r.contains(text)).count();
    assert_eq!(count("may not speak for requester office cnaf.caf-13"), 2, "{reasons:?}");
    assert_eq!(count("office caf-06 is not one of body cnaf's offices"), 1, "{reasons:?}");
    assert_eq!((bus.ready(&own), bus.ready(&refused)), (1, 0));
    // Each authenticated sender is told on its own notices queue, caf-84 of its own request only.
    eventually("the senders told", || {
        bus.ready(&Queue::OfficeNotices("cnaf.caf-84".into())) == 1
            && bus.ready(&Queue::OfficeNotices("cnaf.caf-13".into())) == 1
            && bus.ready(&Queue::BodyNotices("cnaf".into())) == 1
    })
    .await;

    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
}
