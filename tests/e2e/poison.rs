//! Poison messages over the real broker, against the real daemons as separate processes (issue
//! 9, scenario 4): on every queue a daemon consumes — the observatory's requests queue (requests
//! and receipts) and responses queue, a responder's solicitations queue, the requester's results
//! queue — raw AMQP messages are published with lapin: random bytes, truncated protobuf, an
//! unknown `type`, a type of another queue, an unsupported schema version, a broker user who may
//! not speak for the claimed sender, a header that disagrees with the protobuf, an oversized body,
//! a chunk index beyond the count, and a NIR written as the case id.
//!
//! Each must be dead-lettered with a reason that names its fault, the observatory's audit trail
//! must record those on its queues (the bodies' adapters keep no trail and may not write the
//! dead-letter exchange: they reject the message, the broker dead-letters it with its `x-death`
//! headers, and their record is the warning in their log with the reason and the
//! `passerelle_bus_dead_letters_total` counter, all checked), no valid message may reach the dead-letter queue, no NIR may appear in
//! a reason or a log, and two normal cases — one in flight while the poison arrives, one
//! submitted after — complete with every person exactly once.
//!
//! The stack runs in its own vhost with the strict identity map (`insecure_any_user = false`):
//! the daemons' broker user speaks for every party (a shared user, which only the stack's
//! development profile allows), a second broker user made for the test speaks for none. It kills nothing, so it runs in the parallel suite.

use crate::support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use passerelle_bus::{Kind, Message, MAX_MESSAGE_BYTES};
use passerelle_protocol::v1;
use support::stack::{eventually, rabbitmqctl, DeadLetter, Stack, StackOptions, CASE_TIMEOUT, OBSERVATORY};

/// Persons per case: enough for several chunks, small enough to keep the test short.
const PERSONS: u64 = 300;
/// Persons per chunk: three chunks per case, so the poison lands among a case's messages.
const CHUNK_SIZE: usize = 100;
/// The header that tags each poison message, kept on its dead-letter copy.
const POISON_ID_HEADER: &str = "x-test-poison-id";
/// How long the dead-lettering of every poison message may take (oversized bodies included).
const DEAD_LETTER_TIMEOUT: Duration = Duration::from_secs(120);

/// A broker user created for the test and deleted when dropped.
struct BrokerUser {
    name: String,
    password: String,
}

impl BrokerUser {
    fn create(vhost: &str) -> BrokerUser {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let user = BrokerUser { name: format!("poison-{}", &id[..12]), password: id };
        rabbitmqctl(&["add_user", &user.name, &user.password]);
        // It may publish (write) to the vhost's exchanges, nothing else.
        rabbitmqctl(&["set_permissions", "-p", vhost, &user.name, "^$", ".*", "^$"]);
        user
    }
}

impl Drop for BrokerUser {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl").args(["delete_user", &self.name]).output();
    }
}

/// `user:password` of an AMQP URL, and the URL with other credentials.
fn login_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let userinfo = rest.rsplit_once('@').map_or("guest:guest", |(u, _)| u);
    userinfo.split_once(':').map_or(userinfo, |(u, _)| u).to_owned()
}

fn with_login(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("amqp", url));
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}:{password}@{host}")
}

/// A queue a daemon consumes, and a valid message of one kind it accepts (from its legitimate
/// sender), which the poison builders spoil.
struct Target {
    /// The broker queue (the dead-letter's `x-passerelle-original-queue`).
    queue: String,
    exchange: String,
    routing_key: String,
    message: Message,
    /// The daemon consuming it (its log is checked).
    daemon: &'static str,
    /// A kind this queue does not accept.
    foreign: Kind,
}

impl Target {
    fn kind(&self) -> Kind {
        self.message.kind()
    }

    fn audited(&self) -> bool {
        self.daemon == "observatory"
    }
}

/// One poison message.
struct Poison {
    /// `x-test-poison-id`.
    id: String,
    fault: &'static str,
    target: usize,
    body: Vec<u8>,
    properties: BasicProperties,
    /// Published by the user who may speak for nobody.
    as_stranger: bool,
    /// A text the dead-letter reason must hold (it names the fault).
    expect: &'static str,
}

/// A deterministic pseudo-random byte string (xorshift), varied by `seed`.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn with_schema(message: &Message, version: i32) -> Message {
    let mut m = message.clone();
    match &mut m {
        Message::Request(r) => r.schema_version = version,
        Message::Solicitation(r) => r.schema_version = version,
        Message::Response(r) => r.schema_version = version,
        Message::Result(r) => r.schema_version = version,
        Message::Receipt(r) => r.schema_version = version,
        Message::Refusal(r) => r.schema_version = version,
        Message::Notice(r) => r.schema_version = version,
        Message::Checkpoint(r) => r.schema_version = version,
        Message::CheckpointReceipt(r) => r.schema_version = version,
        Message::CheckpointQuery(r) => r.schema_version = version,
        Message::WitnessedCheckpoints(r) => r.schema_version = version,
        Message::Transfer(r) => r.schema_version = version,
        Message::TransferReceipt(r) => r.schema_version = version,
        Message::TransferAmendment(r) => r.schema_version = version,
        Message::RightsRequest(r) => r.schema_version = version,
        Message::RightsAnswer(r) => r.schema_version = version,
    }
    m
}

fn with_chunk(message: &Message, index: u32, count: u32) -> Option<Message> {
    let mut m = message.clone();
    match &mut m {
        Message::Request(r) => (r.chunk_index, r.chunk_count) = (index, count),
        Message::Solicitation(r) => (r.chunk_index, r.chunk_count) = (index, count),
        Message::Response(r) => (r.chunk_index, r.chunk_count) = (index, count),
        Message::Result(r) => (r.chunk_index, r.chunk_count) = (index, count),
        Message::Transfer(r) => (r.chunk_index, r.chunk_count) = (index, count),
        Message::TransferReceipt(_)
        | Message::TransferAmendment(_)
        | Message::RightsRequest(_)
        | Message::RightsAnswer(_) => return None,
        Message::Receipt(_)
        | Message::Refusal(_)
        | Message::Notice(_)
        | Message::Checkpoint(_)
        | Message::CheckpointReceipt(_)
        | Message::CheckpointQuery(_)
        | Message::WitnessedCheckpoints(_) => return None,
    }
    Some(m)
}

fn with_case_id(message: &Message, case_id: &str) -> Message {
    let mut m = message.clone();
    match &mut m {
        Message::Request(r) => r.case_id = case_id.into(),
        Message::Solicitation(r) => r.case_id = case_id.into(),
        Message::Response(r) => r.case_id = case_id.into(),
        Message::Result(r) => r.case_id = case_id.into(),
        Message::Receipt(r) => r.case_id = case_id.into(),
        Message::Refusal(r) => r.case_id = case_id.into(),
        Message::Notice(r) => r.case_id = case_id.into(),
        Message::Transfer(r) => r.transfer_id = case_id.into(),
        Message::TransferReceipt(r) => r.transfer_id = case_id.into(),
        Message::TransferAmendment(r) => r.transfer_id = case_id.into(),
        Message::RightsRequest(r) => r.request_id = case_id.into(),
        Message::RightsAnswer(r) => r.request_id = case_id.into(),
        // The witness messages belong to no case.
        Message::Checkpoint(_)
        | Message::CheckpointReceipt(_)
        | Message::CheckpointQuery(_)
        | Message::WitnessedCheckpoints(_) => {}
    }
    m
}

/// The properties the bus's publisher writes for `message` (as `user`), tagged with `id`.
fn properties(message: &Message, user: &str, id: &str) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert("x-passerelle-schema-version".into(), AMQPValue::LongLongInt(i64::from(message.schema_version())));
    if let Some((index, count)) = message.chunk() {
        headers.insert("x-passerelle-chunk-index".into(), AMQPValue::LongLongInt(i64::from(index)));
        headers.insert("x-passerelle-chunk-count".into(), AMQPValue::LongLongInt(i64::from(count)));
    }
    headers.insert(POISON_ID_HEADER.into(), AMQPValue::LongString(id.into()));
    BasicProperties::default()
        .with_message_id(uuid::Uuid::now_v7().to_string().into())
        .with_type(message.kind().type_name().into())
        .with_content_type("application/x-protobuf".into())
        .with_delivery_mode(2)
        .with_user_id(user.into())
        .with_correlation_id(message.case_id().into())
        .with_headers(headers)
}

fn set_header(props: BasicProperties, key: &str, value: AMQPValue) -> BasicProperties {
    let mut headers = props.headers().clone().unwrap_or_default();
    headers.insert(key.into(), value);
    props.with_headers(headers)
}

/// Every poison message for every target.
fn poisons(targets: &[Target], user: &str, stranger: &str, a_nir: &str) -> Vec<Poison> {
    let mut out = Vec::new();
    for (t, target) in targets.iter().enumerate() {
        let kind = target.kind();
        let valid = &target.message;
        type Spoil<'a> = &'a dyn Fn(BasicProperties) -> BasicProperties;
        let mut add = |fault: &'static str,
                       message: &Message,
                       body: Vec<u8>,
                       as_stranger: bool,
                       expect: &'static str,
                       spoil: Spoil<'_>| {
            let id = format!("{fault} @ {} ({})", target.queue, kind.type_name());
            let props = spoil(properties(message, if as_stranger { stranger } else { user }, &id));
            out.push(Poison { id, fault, target: t, body, properties: props, as_stranger, expect });
        };
        let same = |p: BasicProperties| p;

        let mut seed = t as u64 + 1;
        let random = loop {
            let bytes = random_bytes(seed, 512);
            if Message::decode(kind, &bytes).is_err() {
                break bytes;
            }
            seed += 100;
        };
        add("random bytes", valid, random, false, "undecodable", &same);

        let encoded = valid.encode();
        let cut = (1..encoded.len())
            .rev()
            .find(|&n| Message::decode(kind, &encoded[..n]).is_err())
            .expect("some truncation of a valid message does not decode");
        add("truncated protobuf", valid, encoded[..cut].to_vec(), false, "undecodable", &same);

        add("unknown type", valid, valid.encode(), false, "unknown message type", &|p: BasicProperties| {
            p.with_type("passerelle.v1.Gossip".into())
        });
        let foreign = target.foreign;
        add(
            "type of another queue",
            valid,
            valid.encode(),
            false,
            "does not belong on this queue",
            &|p: BasicProperties| p.with_type(foreign.type_name().into()),
        );

        let v2 = with_schema(valid, 2);
        add("unsupported schema version", &v2, v2.encode(), false, "unsupported schema version 2", &same);

        add("sender the user may not speak for", valid, valid.encode(), true, "may not speak for", &same);

        add(
            "header disagreeing with the protobuf",
            valid,
            valid.encode(),
            false,
            "schema version header",
            &|p: BasicProperties| set_header(p, "x-passerelle-schema-version", AMQPValue::LongLongInt(2)),
        );

        add("oversized body", valid, vec![0; MAX_MESSAGE_BYTES + 1], false, "oversized message", &same);

        if let Some(beyond) = with_chunk(valid, 5, 3) {
            add(
                "chunk index beyond the count",
                &beyond,
                beyond.encode(),
                false,
                "chunk index 5 not below chunk count 3",
                &same,
            );
        }

        if matches!(kind, Kind::Request | Kind::Receipt) {
            let nir_case = with_case_id(valid, a_nir);
            let expect = if kind == Kind::Request { "looks like a NIR" } else { "no case (withheld" };
            add("a NIR as the case id", &nir_case, nir_case.encode(), false, expect, &same);
        }
    }
    out
}

/// The valid messages the poison is made from.
fn targets(prefix: &str, nirs: &[String]) -> Vec<Target> {
    let case_id = uuid::Uuid::now_v7().to_string();
    let person = |nir: &String| v1::RequestedPerson {
        nir: nir.clone(),
        sex: v1::Sex::Female as i32,
        birth_year: 1950,
        commune_code: "13055".into(),
        ..Default::default()
    };
    let request = v1::Request {
        schema_version: 1,
        sender: "cnaf".into(),
        requester_office: "caf-13".into(),
        case_id: case_id.clone(),
        observatory: OBSERVATORY.into(),
        purpose: "poison test".into(),
        wanted: vec![3, 4],
        chunk_index: 0,
        chunk_count: 1,
        persons: nirs.iter().take(3).map(person).collect(),
        ..Default::default()
    };
    let receipt = v1::Receipt {
        schema_version: 1,
        sender: "cnaf".into(),
        case_id: case_id.clone(),
        chunks_received: 1,
        schema_minor: 0,
    };
    let response = v1::Response {
        schema_version: 1,
        sender: "cnav".into(),
        case_id: case_id.clone(),
        solicitation_id: uuid::Uuid::now_v7().to_string(),
        chunk_index: 0,
        chunk_count: 1,
        answers: nirs
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, _)| v1::PersonAnswer { person_ref: i as u64, ..Default::default() })
            .collect(),
        ..Default::default()
    };
    let solicitation = v1::Solicitation {
        schema_version: 1,
        sender: OBSERVATORY.into(),
        case_id: case_id.clone(),
        solicitation_id: uuid::Uuid::now_v7().to_string(),
        body: "cnav".into(),
        wanted: vec![4],
        chunk_index: 0,
        chunk_count: 1,
        persons: nirs
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, nir)| v1::SolicitedPerson {
                person_ref: i as u64,
                nir: nir.clone(),
                sex: v1::Sex::Female as i32,
                birth_year: 1950,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let result = v1::Result {
        schema_version: 1,
        sender: OBSERVATORY.into(),
        case_id,
        chunk_index: 0,
        chunk_count: 1,
        persons: nirs.iter().take(3).map(|nir| v1::ResultPerson { nir: nir.clone(), answers: vec![] }).collect(),
        ..Default::default()
    };
    let at = |queue: String, exchange: &str, key: &str, message, daemon, foreign| Target {
        queue,
        exchange: format!("{prefix}.{exchange}"),
        routing_key: key.to_owned(),
        message,
        daemon,
        foreign,
    };
    let requests = format!("{prefix}.observatory.{OBSERVATORY}.requests");
    vec![
        at(requests.clone(), "requests", OBSERVATORY, Message::Request(request), "observatory", Kind::Solicitation),
        at(requests, "requests", OBSERVATORY, Message::Receipt(receipt), "observatory", Kind::Result),
        at(
            format!("{prefix}.observatory.{OBSERVATORY}.responses"),
            "responses",
            OBSERVATORY,
            Message::Response(response),
            "observatory",
            Kind::Request,
        ),
        at(
            format!("{prefix}.body.cnav.solicitations"),
            "solicitations",
            "cnav",
            Message::Solicitation(solicitation),
            "cnav",
            Kind::Response,
        ),
        at(
            format!("{prefix}.body.cnaf.results"),
            "results",
            "cnaf",
            Message::Result(result),
            "requester",
            Kind::Receipt,
        ),
    ]
}

/// Publishes every poison message (mandatory, confirmed: each reached its queue).
fn publish(poisons: &[Poison], targets: &[Target], url: &str, stranger_url: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        for (as_stranger, url) in [(false, url), (true, stranger_url)] {
            let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
                .await
                .expect("cannot connect to the test vhost");
            let channel = conn.create_channel().await.unwrap();
            channel.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
            for p in poisons.iter().filter(|p| p.as_stranger == as_stranger) {
                let t = &targets[p.target];
                let options = BasicPublishOptions { mandatory: true, ..Default::default() };
                let confirm = channel
                    .basic_publish(
                        t.exchange.as_str().into(),
                        t.routing_key.as_str().into(),
                        options,
                        &p.body,
                        p.properties.clone(),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("publishing {}: {e}", p.id))
                    .await
                    .unwrap_or_else(|e| panic!("confirm of {}: {e}", p.id));
                assert!(
                    matches!(confirm, lapin::Confirmation::Ack(None)),
                    "{} was not routed to its queue: {confirm:?}",
                    p.id
                );
            }
            let _ = conn.close(200, "poison published".into()).await;
        }
    });
}

/// The strict identity map: the stack's one login speaks for every party, the stranger for none.
fn strict_identity(identity: &mut passerelle_bus::IdentitySettings, user: &str, stranger: &str) {
    identity.insecure_any_user = false;
    let parties = [OBSERVATORY, "cnam", "cnav", "cnaf", "msa"].map(str::to_owned).to_vec();
    identity.users = [(user.to_owned(), parties), (stranger.to_owned(), Vec::new())].into_iter().collect();
}

fn detail(entry: &serde_json::Value) -> serde_json::Value {
    match &entry["detail"] {
        serde_json::Value::String(s) => serde_json::from_str(s).unwrap_or_default(),
        other => other.clone(),
    }
}

fn dead_letter_total(stack: &Stack, daemon: &str) -> f64 {
    let metrics = stack.metrics(daemon).unwrap_or_else(|| panic!("{daemon} serves no metrics"));
    metrics.samples.iter().filter(|(k, _)| k.starts_with("passerelle_bus_dead_letters_total")).map(|(_, v)| v).sum()
}

#[test]
fn poison_on_every_queue_is_dead_lettered_with_its_reason_audited_and_the_daemons_go_on() {
    if !support::broker_reachable_or_skip(&support::amqp_url()) {
        return;
    }
    let started = Instant::now();
    let mut stack =
        Stack::prepare(StackOptions { persons: PERSONS, chunk_size: CHUNK_SIZE, ..StackOptions::default() });
    let stranger = BrokerUser::create(stack.vhost());
    let user = login_of(stack.url());
    for daemon in stack.daemon_names() {
        stack.edit_settings(&daemon, |settings| {
            strict_identity(&mut settings.broker_mut().identity, &user, &stranger.name)
        });
    }
    for daemon in stack.daemon_names() {
        stack.start_daemon(&daemon);
    }
    let nirs: Vec<String> = support::nirs_of_selection(&stack.selection()).into_iter().map(|(n, _)| n).collect();
    let targets = targets("passerelle", &nirs);
    let poisons = poisons(&targets, &user, &stranger.name, &nirs[0]);

    // A case in flight while the poison arrives.
    let before = stack.submit_selection("1h");
    publish(&poisons, &targets, stack.url(), &with_login(stack.url(), &stranger.name, &stranger.password));
    let published = Instant::now();

    let mut dead: Vec<DeadLetter> = Vec::new();
    eventually("every poison message dead-lettered", DEAD_LETTER_TIMEOUT, || {
        dead.extend(stack.take_dead_letters());
        dead.len() >= poisons.len()
    });
    println!("{} poison messages dead-lettered {:.1?} after publication", poisons.len(), published.elapsed());

    // A case submitted after the poison.
    let after = stack.submit_selection("1h");
    let expected = stack.expected();
    for case in [&before, &after] {
        let status = stack.wait_settled(case, CASE_TIMEOUT);
        assert_eq!(status["case"]["state"], "answered", "{status}");
        let check = expected.check(&stack.fetch(case), &[]);
        assert!(check.adds_up(), "case {case}: {check:#?}");
        assert_eq!((check.rows, check.missing, check.duplicates), (PERSONS, 0, 0), "{check:#?}");
    }
    for daemon in stack.daemon_names() {
        assert!(stack.is_running(&daemon), "{daemon} stopped:\n{}", stack.log(&daemon));
    }

    // Exactly the poison was dead-lettered, each once, from its queue, with a reason naming it.
    dead.extend(stack.take_dead_letters());
    let by_id: BTreeMap<&str, &DeadLetter> =
        dead.iter().filter_map(|d| Some((d.headers.get(POISON_ID_HEADER)?.as_str(), d))).collect();
    let strays: Vec<String> =
        dead.iter().filter(|d| !d.headers.contains_key(POISON_ID_HEADER)).map(|d| format!("{d:?}")).collect();
    assert!(strays.is_empty(), "valid messages reached the dead-letter queue: {strays:#?}");
    assert_eq!(dead.len(), poisons.len(), "each poison message dead-lettered exactly once");
    let audit = stack.audit(None);
    let audited: Vec<serde_json::Value> =
        audit.iter().filter(|e| e["action"] == "dead_letter").map(detail).collect::<Vec<_>>();
    let mut table = Vec::new();
    for p in &poisons {
        let target = &targets[p.target];
        let d = by_id.get(p.id.as_str()).unwrap_or_else(|| panic!("{} not dead-lettered", p.id));
        assert_eq!(d.queue, target.queue, "{}", p.id);
        let message_id = p.properties.message_id().as_ref().unwrap().to_string();
        let reason = if target.audited() {
            d.reason.clone()
        } else {
            assert_eq!(
                d.headers.get("x-first-death-reason").map(String::as_str),
                Some("rejected"),
                "{}: a body's refusal is the broker's dead-letter",
                p.id
            );
            assert!(!d.headers.contains_key("x-passerelle-reason"), "{}: a body wrote the dead-letter exchange", p.id);
            let log = stack.log(target.daemon);
            let line = log.lines().find(|l| l.contains("message dead-lettered") && l.contains(&message_id));
            line.unwrap_or_else(|| panic!("{}: no log line of the refusal", p.id)).to_owned()
        };
        assert!(reason.contains(p.expect), "{}: the reason {:?} does not say {:?}", p.id, reason, p.expect);
        assert!(!reason.contains(&nirs[0]), "{}: a NIR in the reason", p.id);
        if target.audited() {
            // The two whose case id is a NIR too: their entries leave the case id out (it is not
            // shaped like one) and keep the rest.
            let entry = audited
                .iter()
                .find(|e| e["message_id"] == message_id.as_str())
                .unwrap_or_else(|| panic!("{}: no dead_letter entry in the audit trail: {audited:#?}", p.id));
            assert_eq!(entry["reason"], d.reason.as_str(), "{}", p.id);
        }
        table.push((p.fault, target.queue.clone(), target.kind(), reason));
    }
    let on_observatory = poisons.iter().filter(|p| targets[p.target].audited()).count();
    assert_eq!(audited.len(), on_observatory, "one audit entry per refused message: {audited:#?}");
    assert!(stack.audit_verifies(), "the audit trail still verifies");
    assert!(!audit.iter().any(|e| e.to_string().contains(&nirs[0])), "a NIR in the audit trail");

    // The bodies' adapters: a warning per refusal in their log, and the counter.
    for (daemon, queue) in [("cnav", &targets[3].queue), ("requester", &targets[4].queue)] {
        let n = poisons.iter().filter(|p| &targets[p.target].queue == queue).count();
        let log = stack.log(daemon);
        let warned = log.lines().filter(|l| l.contains("message dead-lettered")).count();
        assert_eq!(warned, n, "{daemon} logged {warned} dead-letters, {n} expected");
        assert_eq!(dead_letter_total(&stack, daemon), n as f64, "{daemon}'s passerelle_bus_dead_letters_total");
        assert!(!log.contains(&nirs[0]), "a NIR in the {daemon} log");
    }
    assert!(!stack.log("observatory").contains(&nirs[0]), "a NIR in the observatory log");

    // The requester is told, by notices it logs, of its two messages the observatory refused
    // after the bus's checks (the NIR-shaped case ids); nobody is told of the bus's refusals
    // (the daemons' one login speaks for every party, the stranger for none).
    let told = |stack: &Stack| stack.log("requester").lines().filter(|l| l.contains("refused (notice)")).count();
    eventually("the requester's two notices logged", DEAD_LETTER_TIMEOUT, || told(&stack) >= 2);
    assert_eq!(told(&stack), 2, "{}", stack.log("requester"));
    assert!(!stack.log("requester").contains(&nirs[0]), "a NIR in a notice");
    for daemon in ["cnav", "cnam", "msa"] {
        assert!(!stack.log(daemon).contains("refused (notice)"), "{daemon} was told of a refusal it did not cause");
    }

    println!("poison kind | queue | type | dead-letter reason");
    for (fault, queue, kind, reason) in &table {
        let reason: String = reason.chars().take(110).collect();
        println!("{fault} | {queue} | {} | {reason}", kind.type_name());
    }
    println!(
        "poison: {} messages on {} queues, {} dead-lettered, {} audited, 0 strays; cases {} and {}: {} persons each, 0 \
         missing, 0 duplicates; whole test {:.1?}",
        poisons.len(),
        targets.iter().map(|t| &t.queue).collect::<std::collections::BTreeSet<_>>().len(),
        dead.len(),
        audited.len(),
        before,
        after,
        PERSONS,
        started.elapsed()
    );
    for daemon in stack.daemon_names().into_iter().rev() {
        stack.stop(&daemon);
    }
}
