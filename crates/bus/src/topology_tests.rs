//! Unit tests of the topology: names, queue arguments, policies, bindings, routing by kind.

use super::*;

#[test]
fn names_follow_the_prefix_and_the_api() {
    assert_eq!(Queue::ObservatoryRequests("o".into()).name("p"), "p.observatory.o.requests");
    assert_eq!(Queue::BodyResults("cnaf".into()).name("p"), "p.body.cnaf.results");
    let s = BusSettings::default();
    assert_eq!(Exchange::for_message(Kind::Receipt, "o", &s).name("p"), "p.requests");
    assert_eq!(Exchange::for_message(Kind::Refusal, "cnaf", &s).name("p"), "p.results");
    assert!(Queue::BodyResults("cnaf".into()).accepts(Kind::Refusal));
    assert!(!Queue::BodyResults("cnaf".into()).accepts(Kind::Solicitation));
}

#[test]
fn every_flow_queue_is_a_bounded_quorum_queue_with_the_cap() {
    let t = Topology::of(&BusSettings::default());
    assert_eq!(t.exchanges.len(), 10, "flow 4, notices 2, dead-letter, transfers, rights, holders");
    assert!(t.exchanges.contains(&("passerelle.rights".to_owned(), "direct")));
    // Per observatory 3 + rights, per body 3 + rights, dead-letters and alarms, the holder.
    assert_eq!(t.queues.len(), 4 + 4 * 4 + 2 + 1);
    let flow =
        |q: &&QueueSpec| !q.name.contains("dead-letter") && !q.name.contains("alarm") && !q.name.ends_with(".holder");
    for q in t.queues.iter().filter(flow) {
        assert!(q.arguments.contains(&("x-delivery-limit", ArgValue::Int(20))), "{}", q.name);
        assert!(q.arguments.contains(&("x-queue-type", ArgValue::Str("quorum".into()))));
        if q.name.ends_with(".notices") {
            assert!(q.arguments.contains(&("x-max-length", ArgValue::Int(NOTICE_MAX_LENGTH))), "{}", q.name);
            assert!(!q.arguments.iter().any(|a| a.0 == "x-dead-letter-exchange"), "{}", q.name);
        } else {
            assert!(q.arguments.contains(&("x-message-ttl", ArgValue::Int(30 * 24 * 3600 * 1000))));
        }
    }
    let dlq = t.queues.iter().find(|q| q.name == "passerelle.dead-letters").unwrap();
    assert!(dlq.arguments.contains(&("x-message-ttl", ArgValue::Int(7 * 24 * 3600 * 1000))));
    assert_eq!(t.bindings.iter().filter(|b| b.exchange == "passerelle.dead-letter").count(), 4);
}

#[test]
fn the_dead_letter_alarm_and_notice_queues_are_bounded_by_policy_and_keep_their_first_arguments() {
    let t = Topology::of(&BusSettings::default());
    let bounded = |name: &str| t.policies.iter().filter(|p| regex_lite_match(&p.pattern, name)).count();
    for name in [
        "passerelle.dead-letters",
        "passerelle.delivery-limit-alarms",
        "passerelle.body.cnaf.notices",
        "passerelle.observatory.carsat-sud-est.notices",
    ] {
        assert_eq!(bounded(name), 1, "{name}: one policy bounds it");
    }
    for name in ["passerelle.body.cnaf.results", "passerelle.observatory.carsat-sud-est.requests"] {
        assert_eq!(bounded(name), 0, "{name}");
    }
    assert!(t.policies.iter().all(|p| p.definition.iter().any(|d| d.0 == "max-length")));
    let dlq = t.queues.iter().find(|q| q.name == "passerelle.dead-letters").unwrap();
    assert_eq!(dlq.arguments, dead_letter_queue_arguments(), "the first release's arguments, unchanged");
    assert!(!dlq.arguments.iter().any(|a| a.0.starts_with("x-max-length")));
}

/// Whether a pattern made by [`exactly`] matches `name`.
fn regex_lite_match(pattern: &str, name: &str) -> bool {
    pattern.trim_start_matches("^(").trim_end_matches(")$").split('|').any(|n| n.replace('\\', "") == name)
}

#[test]
fn notices_go_to_the_recipients_side_and_each_queue_accepts_its_kinds() {
    let s = BusSettings::default();
    assert_eq!(Exchange::for_message(Kind::Notice, "carsat-sud-est", &s), Exchange::NoticesToObservatories);
    assert_eq!(Exchange::for_message(Kind::Notice, "cnaf", &s), Exchange::NoticesToBodies);
    assert!(Queue::BodyNotices("cnaf".into()).accepts(Kind::Notice));
    assert!(!Queue::BodyNotices("cnaf".into()).accepts(Kind::Result));
    assert!(!Queue::ObservatoryResponses("o".into()).accepts(Kind::Notice));
    assert_eq!(Queue::BodyNotices("cnaf".into()).name("p"), "p.body.cnaf.notices");
}

/// The default deployment with two social services, one of them with two offices.
fn with_social_services() -> BusSettings {
    let mut s = BusSettings::default();
    s.social_services.insert("carsat-sud-est".into(), vec!["ss-13".into()]);
    s.social_services.insert("cramif".into(), vec!["ss-75".into(), "ss-93".into()]);
    s
}

#[test]
fn each_social_service_has_a_transfers_flow_queue_and_a_notices_queue_bound_with_its_party() {
    let s = with_social_services();
    let t = Topology::of(&s);
    // Every observatory and body also has its rights queue; a social service has none.
    assert_eq!(t.queues.len(), 4 + 4 * 4 + 3 * 2 + 2 + 1 + 1, "two queues per social service, their dead-letters");
    assert_eq!(t.bindings.len(), 4 + 4 * 4 + 3 * 2 + 4 + 1 + 2);
    assert!(t.exchanges.contains(&("passerelle.transfers".to_owned(), "direct")));
    let transfers = t.queues.iter().find(|q| q.name == "passerelle.social-service.cramif.ss-93.transfers").unwrap();
    assert_eq!(transfers.arguments, transfers_queue_arguments("passerelle"), "quorum, delivery limit, 30 days, DLX");
    assert_eq!(transfers.arguments[..3], flow_queue_arguments("passerelle")[..3]);
    let notices = t.queues.iter().find(|q| q.name == "passerelle.social-service.cramif.ss-93.notices").unwrap();
    assert_eq!(notices.arguments, notice_queue_arguments());
    let bound = |queue: &str| {
        t.bindings.iter().find(|b| b.queue == queue).map(|b| (b.exchange.as_str(), b.routing_key.as_str()))
    };
    assert_eq!(
        bound("passerelle.social-service.cramif.ss-93.transfers"),
        Some(("passerelle.transfers", "cramif.ss-93"))
    );
    assert_eq!(
        bound("passerelle.social-service.carsat-sud-est.ss-13.notices"),
        Some(("passerelle.notices-to-bodies", "carsat-sud-est.ss-13"))
    );
    let notices_policy = t.policies.iter().find(|p| p.name == "passerelle.notices-limit").unwrap();
    assert!(regex_lite_match(&notices_policy.pattern, "passerelle.social-service.cramif.ss-75.notices"));
    assert!(!regex_lite_match(&notices_policy.pattern, "passerelle.social-service.cramif.ss-75.transfers"));
    for kind in Kind::TRANSFER {
        assert_eq!(Exchange::for_message(kind, "cramif.ss-75", &s), Exchange::Transfers);
        assert!(Queue::SocialServiceTransfers("cramif.ss-75".into()).accepts(kind), "{kind}");
        assert!(!Queue::SocialServiceNotices("cramif.ss-75".into()).accepts(kind), "{kind}");
        assert!(!Queue::BodyResults("cnaf".into()).accepts(kind), "{kind}");
    }
    assert!(!Queue::SocialServiceTransfers("cramif.ss-75".into()).accepts(Kind::Notice));
    assert!(!Queue::SocialServiceTransfers("cramif.ss-75".into()).is_observatory_queue());
    assert!(!Queue::SocialServiceTransfers("cramif.ss-75".into()).is_notice_queue());
    assert_eq!(Exchange::for_message(Kind::Notice, "cramif.ss-75", &s), Exchange::NoticesToBodies);
}

#[test]
fn a_refused_or_dropped_transfer_is_dead_lettered_apart_from_the_observatorys_dead_letters() {
    let s = with_social_services();
    let t = Topology::of(&s);
    let transfers = t.queues.iter().find(|q| q.name == "passerelle.social-service.cramif.ss-93.transfers").unwrap();
    assert!(
        transfers
            .arguments
            .contains(&("x-dead-letter-exchange", ArgValue::Str("passerelle.transfers-dead-letter".into()))),
        "a case file never reaches the dead-letter queue the observatory reads: {:?}",
        transfers.arguments
    );
    assert!(t.exchanges.contains(&("passerelle.transfers-dead-letter".to_owned(), "headers")));
    let dlq = t.queues.iter().find(|q| q.name == "passerelle.transfers-dead-letters").unwrap();
    assert_eq!(dlq.arguments, dead_letter_queue_arguments());
    let rules: Vec<&Vec<(&str, ArgValue)>> = t
        .bindings
        .iter()
        .filter(|b| b.exchange == "passerelle.transfers-dead-letter")
        .map(|b| {
            assert_eq!(b.queue, "passerelle.transfers-dead-letters");
            &b.headers
        })
        .collect();
    assert_eq!(rules.len(), 2, "a reject and a delivery-limit drop; an expired transfer is dropped");
    for reason in [REJECTED_REASON, DELIVERY_LIMIT_REASON] {
        let reason_rule = (FIRST_DEATH_REASON_HEADER, ArgValue::Str(reason.into()));
        let x_match = ("x-match", ArgValue::Str("all-with-x".into()));
        assert!(rules.iter().any(|h| h.contains(&reason_rule) && h.contains(&x_match)), "{reason}");
    }
    assert!(
        !t.bindings.iter().any(|b| b.exchange == "passerelle.dead-letter" && b.queue.contains("transfers")),
        "nothing of a transfer goes through the observatory's dead-letter exchange"
    );
    let bounded =
        t.policies.iter().filter(|p| regex_lite_match(&p.pattern, "passerelle.transfers-dead-letters")).count();
    assert_eq!(bounded, 1, "bounded by policy");
    let without = Topology::of(&BusSettings::default());
    assert!(
        !without.queues.iter().any(|q| q.name.contains("transfers")) && without.policies.len() == 3,
        "a deployment without social services declares no transfers dead-letter queue"
    );
}
