//! Retention in the broker, against the real RabbitMQ: no dead-lettered copy of a case outlives
//! its cap. The broker removes a message's own expiration when it dead-letters it, so a
//! delivery-limit drop late in a case would otherwise stay the dead-letter queue's 7 days; the
//! observatory's sweep drops it by its cap and keeps the copies whose cap is further away.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::*;
use passerelle_bus::{AmqpBus, Bus, Delivery, Handler, Outgoing, Queue, Role, StartPatience, Verdict};

/// A handler that crashes on every delivery, so each message reaches the delivery limit.
struct Crashing;

#[async_trait::async_trait]
impl Handler for Crashing {
    async fn handle(&self, _d: Delivery) -> Verdict {
        panic!("crash (expected by the test)")
    }
}

#[tokio::test]
async fn a_delivery_limit_drop_late_in_its_case_does_not_outlive_the_cap_in_the_dead_letter_queue() {
    let v = Vhost::new();
    let obs = AmqpBus::new(&v.settings(), Role::Observatory(OBSERVATORY.into()))
        .expect("settings")
        .with_dead_letter_sweep(Duration::from_millis(200));
    obs.open(StartPatience::Once, &|_| {}).await.expect("observatory connects");
    // Late in its case: its cap is seconds away. Another copy's cap is an hour away.
    let cap = SystemTime::now() + Duration::from_secs(6);
    let late = Outgoing::new(response("cnaf", 0, 1), OBSERVATORY, cap);
    let early = Outgoing::new(response("cnam", 0, 1), OBSERVATORY, in_an_hour());
    let kept_id = early.message_id.to_string();
    obs.publish(vec![late, early]).await.unwrap();
    let c = obs.consume(Queue::ObservatoryResponses(OBSERVATORY.into()), Arc::new(Crashing)).await.unwrap();
    eventually("both delivery-limit alarms", || {
        let n = obs.delivery_limit_alarms();
        async move { n == 2 }
    })
    .await;
    c.stop().await;
    assert!(SystemTime::now() < cap, "the late copy reached the dead-letter queue before its cap (test too slow)");
    eventually("the late copy's cap", || async move { SystemTime::now() > cap }).await;
    // Closing stops the sweep; a copy it held goes back to the queue.
    obs.close().await;
    let raw = raw(&v.url()).await;
    let dead = drain(&raw, "passerelle.dead-letters").await;
    let ids: Vec<String> =
        dead.iter().map(|m| m.delivery.properties.message_id().as_ref().unwrap().to_string()).collect();
    assert_eq!(ids, vec![kept_id], "only the copy whose cap is an hour away is left");
    assert_eq!(header(&dead[0].delivery.properties, "x-first-death-reason").as_deref(), Some("delivery_limit"));
}
