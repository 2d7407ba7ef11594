//! Consumers where none should be, as `ctl status` and the observatory's console flag them. The rule:
//!
//! - an observatory's requests and responses queues are consumed by that observatory alone, on
//!   the one connection that holds its territory's lock: consumers of them on more than one
//!   connection (the two queues together) mean a second observatory runs the territory;
//! - nobody of the deployment consumes the dead-letter queue (operators read dead-letters in
//!   the audit trail and here), the holder queues (read one message at a time, never consumed)
//!   or a queue of the prefix that the topology does not declare: any consumer there is flagged.
//!
//! The bodies' queues and the alarm queue (watched by every observatory of the deployment) are
//! not judged: who may consume them is the broker's permissions' business.

use std::collections::{BTreeMap, BTreeSet};

use passerelle_bus::topology::{dead_letter_queue, holder_queue, Queue, Topology};
use passerelle_bus::BusSettings;
use serde::{Deserialize, Serialize};

use crate::client::QueueInfo;

/// A queue with a consumer where none should be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnexpectedConsumer {
    pub queue: String,
    pub consumers: u64,
    /// The connections its consumers are on, as the broker names them (empty when the
    /// management API did not list them).
    pub connections: Vec<String>,
    pub reason: String,
}

/// The queues of `queues` with consumers where the rule above says there should be none (or on
/// one connection only); `connections` gives, per queue, the connections of its consumers.
pub fn unexpected(
    settings: &BusSettings,
    queues: &[QueueInfo],
    connections: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<UnexpectedConsumer> {
    let p = settings.prefix.as_str();
    let on = |queue: &str| connections.get(queue).cloned().unwrap_or_default();
    let mut flagged = Vec::new();
    for code in &settings.observatories {
        let own = [Queue::ObservatoryRequests(code.clone()).name(p), Queue::ObservatoryResponses(code.clone()).name(p)];
        let all: BTreeSet<String> = own.iter().flat_map(|q| on(q)).collect();
        if all.len() < 2 {
            continue;
        }
        for q in queues.iter().filter(|q| own.contains(&q.name) && q.consumers > 0) {
            flagged.push(UnexpectedConsumer {
                queue: q.name.clone(),
                consumers: q.consumers,
                connections: on(&q.name).into_iter().collect(),
                reason: format!(
                    "observatory {code}'s queues are consumed on {} connections: one observatory per territory \
                     (only the one holding its lock may consume)",
                    all.len()
                ),
            });
        }
    }
    let declared: BTreeSet<String> = Topology::of(settings).queues.into_iter().map(|q| q.name).collect();
    let unconsumed: BTreeSet<String> =
        settings.observatories.iter().map(|o| holder_queue(p, o)).chain([dead_letter_queue(p)]).collect();
    for q in queues.iter().filter(|q| q.consumers > 0) {
        let reason = if unconsumed.contains(&q.name) {
            "nobody of the deployment consumes this queue"
        } else if !declared.contains(&q.name) {
            "not a queue of the deployment's topology: nobody of the deployment consumes it"
        } else {
            continue;
        };
        flagged.push(UnexpectedConsumer {
            queue: q.name.clone(),
            consumers: q.consumers,
            connections: on(&q.name).into_iter().collect(),
            reason: reason.to_owned(),
        });
    }
    flagged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(name: &str, consumers: u64) -> QueueInfo {
        QueueInfo { name: name.to_owned(), ready: 0, unacknowledged: 0, consumers }
    }

    fn on(pairs: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        pairs.iter().map(|(q, c)| ((*q).to_owned(), c.iter().map(|c| (*c).to_owned()).collect())).collect()
    }

    #[test]
    fn one_observatory_connection_and_the_bodies_are_not_flagged() {
        let settings = BusSettings::default();
        let requests = "passerelle.observatory.carsat-sud-est.requests";
        let responses = "passerelle.observatory.carsat-sud-est.responses";
        let queues = [queue(requests, 1), queue(responses, 4), queue("passerelle.body.cnam.solicitations", 2)];
        let connections =
            on(&[(requests, &["a"]), (responses, &["a"]), ("passerelle.body.cnam.solicitations", &["b", "c"])]);
        assert_eq!(unexpected(&settings, &queues, &connections), []);
    }

    #[test]
    fn a_second_observatory_connection_is_flagged_on_both_queues() {
        let settings = BusSettings::default();
        let requests = "passerelle.observatory.carsat-sud-est.requests";
        let responses = "passerelle.observatory.carsat-sud-est.responses";
        let queues = [queue(requests, 1), queue(responses, 4)];
        let connections = on(&[(requests, &["a"]), (responses, &["b"])]);
        let flagged = unexpected(&settings, &queues, &connections);
        assert_eq!(flagged.len(), 2, "{flagged:?}");
        assert_eq!(flagged[1].connections, ["b"]);
        assert!(flagged[0].reason.contains("on 2 connections: one observatory per territory"), "{flagged:?}");
    }

    #[test]
    fn consumers_where_nobody_consumes_are_flagged() {
        let settings = BusSettings::default();
        let queues = [
            queue("passerelle.dead-letters", 1),
            queue("passerelle.observatory.carsat-sud-est.holder", 0),
            queue("passerelle.scratch", 1),
            queue("passerelle.delivery-limit-alarms", 2),
        ];
        let flagged = unexpected(&settings, &queues, &BTreeMap::new());
        let names: Vec<&str> = flagged.iter().map(|f| f.queue.as_str()).collect();
        assert_eq!(names, ["passerelle.dead-letters", "passerelle.scratch"]);
        assert_eq!(flagged[0].reason, "nobody of the deployment consumes this queue");
    }
}
