//! No value from outside reaches a log line as is (issue 20, point 5). Against the real daemons
//! as separate processes (the observatory, the `cnav` responder, the requester) in a vhost of
//! their own, forged messages are published with lapin, each carrying a synthetic NIR (plain,
//! spaced and Corsican) and a name in the places a sender chooses — the `type`, `message_id` and
//! `correlation_id` properties, the case id, the sender, the addressed body — with newlines and a
//! terminal escape meant to forge a log line, and one forged delivery-limit "alarm" written
//! straight to the dead-letter exchange whose `x-first-death-queue` header is 100 KB long.
//!
//! Every daemon must log the refusals (and the observatory the alarm), and no line of any
//! daemon's log, of `ctl status` or of the audit trail may hold the NIR's digits, the name, a line
//! the sender started, the sender's escape sequence, or more than [`MAX_LINE_CHARS`] characters.

use crate::support;

use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use passerelle_bus::Message;
use passerelle_protocol::v1;
use support::stack::{
    eventually, Stack, StackOptions, OBSERVATORY, OBSERVATORY_DAEMON, REQUESTER_BODY, REQUESTER_DAEMON,
};

/// The name the forged messages carry (synthetic).
const NAME: &str = "Marie-Thérèse DUPONT";
/// Text that would start a log line of its own if a newline from a message reached the log.
const FORGED_LINE: &str = "FORGED-LOG-LINE";
/// A terminal escape (clear the screen) a sender would like an operator's terminal to interpret.
const FORGED_ESCAPE: &str = "\u{1b}[2J";
/// The longest log line accepted: a few bounded values (120 characters, 400 for a reason) and
/// the line's own fields.
const MAX_LINE_CHARS: usize = 2_000;
/// The responder that receives a forged solicitation.
const RESPONDER: &str = "cnav";
/// How long the daemons may take to refuse every forged message.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(90);

/// The synthetic NIRs the forged messages carry, in every written form the logs must mask.
struct Nirs {
    plain: String,
    corsican: String,
}

impl Nirs {
    fn new() -> Nirs {
        let corsican = passerelle_protocol::nir::with_key("284052A123456").expect("a valid Corsican NIR");
        Nirs { plain: passerelle_test_support::nir_with_key("2840575123456"), corsican: corsican.as_str().to_owned() }
    }

    fn spaced(&self) -> String {
        let n = &self.plain;
        format!("{} {} {} {} {} {} {}", &n[0..1], &n[1..3], &n[3..5], &n[5..7], &n[7..10], &n[10..13], &n[13..])
    }

    /// A value a sender writes where an id belongs: the name, the NIR in three forms, a forged
    /// line and a terminal escape.
    fn tainted(&self, what: &str) -> String {
        format!(
            "{what} {NAME} {} {}\n{FORGED_LINE} ERROR {FORGED_ESCAPE}{} {}",
            self.plain,
            self.spaced(),
            self.corsican,
            self.corsican.to_lowercase()
        )
    }

    /// What no output line may contain.
    fn needles(&self) -> Vec<String> {
        vec![
            self.plain.clone(),
            self.plain[..13].to_owned(),
            self.spaced(),
            self.corsican.clone(),
            self.corsican.to_lowercase(),
            FORGED_ESCAPE.to_owned(),
        ]
    }
}

/// Why a line is unsafe, if it is.
fn unsafe_line(line: &str, nirs: &Nirs) -> Option<String> {
    let lower = line.to_lowercase();
    if lower.contains("dupont") || lower.contains("thérèse") {
        return Some("holds the name".into());
    }
    if let Some(n) = nirs.needles().iter().find(|n| line.contains(n.as_str())) {
        return Some(format!("holds {n:?}"));
    }
    let digits: String = line.chars().filter(char::is_ascii_digit).collect();
    if digits.contains(&nirs.plain) || digits.contains(&nirs.plain[..13]) {
        return Some("holds the NIR's digits with separators between them".into());
    }
    if line.trim_start().starts_with(FORGED_LINE) {
        return Some("is a line the sender started".into());
    }
    let chars = line.chars().count();
    if chars > MAX_LINE_CHARS {
        return Some(format!("is {chars} characters long"));
    }
    None
}

/// Every unsafe line of `text`, with its reason (the line itself is not repeated: it may hold the
/// NIR, and this report is printed).
fn unsafe_lines(source: &str, text: &str, nirs: &Nirs) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| unsafe_line(line, nirs).map(|why| format!("{source} line {}: {why}", i + 1)))
        .collect()
}

/// The properties the bus's publisher writes for `message`, with the sender-chosen ones given.
fn properties(
    message: &Message,
    user: &str,
    type_name: &str,
    message_id: &str,
    correlation_id: &str,
) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert("x-passerelle-schema-version".into(), AMQPValue::LongLongInt(i64::from(message.schema_version())));
    if let Some((index, count)) = message.chunk() {
        headers.insert("x-passerelle-chunk-index".into(), AMQPValue::LongLongInt(i64::from(index)));
        headers.insert("x-passerelle-chunk-count".into(), AMQPValue::LongLongInt(i64::from(count)));
    }
    BasicProperties::default()
        .with_message_id(message_id.into())
        .with_type(type_name.into())
        .with_content_type("application/x-protobuf".into())
        .with_delivery_mode(2)
        .with_correlation_id(correlation_id.into())
        .with_user_id(user.into())
        .with_headers(headers)
}

/// One forged message: where it goes, what it is.
struct Forged {
    exchange: &'static str,
    routing_key: &'static str,
    body: Vec<u8>,
    properties: BasicProperties,
}

/// The forged messages, published as `user` (the stack's login, which the broker validates).
fn forged_messages(nirs: &Nirs, user: &str) -> Vec<Forged> {
    let case_id = uuid::Uuid::now_v7().to_string();
    let tainted = |what: &str| nirs.tainted(what);
    let request = Message::Request(v1::Request {
        schema_version: 1,
        sender: REQUESTER_BODY.into(),
        requester_office: "caf-13".into(),
        case_id: case_id.clone(),
        observatory: OBSERVATORY.into(),
        purpose: "log safety test".into(),
        wanted: vec![3],
        chunk_index: 0,
        chunk_count: 1,
        ..Default::default()
    });
    let Message::Request(mut from_a_name) = request.clone() else { unreachable!() };
    from_a_name.sender = tainted("sender");
    let from_a_name = Message::Request(from_a_name);
    let receipt_case = tainted("receipt case");
    let receipt = Message::Receipt(v1::Receipt {
        schema_minor: passerelle_protocol::SCHEMA_MINOR,
        schema_version: 1,
        sender: REQUESTER_BODY.into(),
        case_id: receipt_case.clone(),
        chunks_received: 1,
    });
    let solicitation_case = tainted("solicitation case");
    let solicitation = Message::Solicitation(v1::Solicitation {
        schema_version: 1,
        sender: OBSERVATORY.into(),
        case_id: solicitation_case.clone(),
        solicitation_id: tainted("solicitation id"),
        body: tainted("body"),
        wanted: vec![4],
        chunk_index: 0,
        chunk_count: 1,
        ..Default::default()
    });
    let result_case = tainted("result case");
    let result = Message::Result(v1::Result {
        schema_version: 1,
        sender: OBSERVATORY.into(),
        case_id: result_case.clone(),
        chunk_index: 0,
        chunk_count: 1,
        ..Default::default()
    });
    let refusal_case = tainted("refusal case");
    let refusal = Message::Refusal(v1::Refusal {
        schema_version: 1,
        sender: OBSERVATORY.into(),
        case_id: refusal_case.clone(),
        whole_case: true,
        ..Default::default()
    });
    let forged = |exchange, routing_key, message: &Message, props: BasicProperties| Forged {
        exchange,
        routing_key,
        body: message.encode(),
        properties: props,
    };
    let type_of = |m: &Message| m.kind().type_name();

    // The forged delivery-limit copy: what the broker writes when it drops a message, plus a
    // 100 KB queue name.
    let mut alarm_headers = FieldTable::default();
    alarm_headers.insert("x-first-death-reason".into(), AMQPValue::LongString("delivery_limit".into()));
    // 100 KB: a header must fit in one AMQP frame (128 KiB by default).
    let huge_queue = tainted("queue").repeat(800);
    alarm_headers.insert("x-first-death-queue".into(), AMQPValue::LongString(huge_queue.into()));
    alarm_headers.insert("x-passerelle-reason".into(), AMQPValue::LongString(tainted("reason").into()));
    let alarm = Forged {
        exchange: "dead-letter",
        routing_key: "",
        body: b"forged".to_vec(),
        properties: BasicProperties::default()
            .with_message_id(tainted("alarm message id").into())
            .with_type(tainted("alarm type").into())
            .with_headers(alarm_headers),
    };

    vec![
        // Refused by the bus: a type that is not one of ours.
        forged(
            "requests",
            OBSERVATORY,
            &request,
            properties(&request, user, &tainted("type"), &tainted("id"), &case_id),
        ),
        // Refused by the bus: a correlation id that disagrees with the case id.
        forged(
            "requests",
            OBSERVATORY,
            &request,
            properties(&request, user, type_of(&request), &tainted("message id"), &tainted("correlation id")),
        ),
        // Refused by the observatory: a sender that is no body of the deployment.
        forged(
            "requests",
            OBSERVATORY,
            &from_a_name,
            properties(&from_a_name, user, type_of(&from_a_name), &tainted("message id"), &case_id),
        ),
        // Refused by the observatory: a receipt for a case it does not have.
        forged(
            "requests",
            OBSERVATORY,
            &receipt,
            properties(&receipt, user, type_of(&receipt), &tainted("message id"), &receipt_case),
        ),
        // Refused by the responder: addressed to another body.
        forged(
            "solicitations",
            RESPONDER,
            &solicitation,
            properties(&solicitation, user, type_of(&solicitation), &tainted("message id"), &solicitation_case),
        ),
        // Refused by the requester: a result and a refusal for cases it never sent.
        forged(
            "results",
            REQUESTER_BODY,
            &result,
            properties(&result, user, type_of(&result), &tainted("message id"), &result_case),
        ),
        forged(
            "results",
            REQUESTER_BODY,
            &refusal,
            properties(&refusal, user, type_of(&refusal), &tainted("message id"), &refusal_case),
        ),
        alarm,
    ]
}

/// Publishes every forged message (mandatory, confirmed: each reached a queue).
fn publish(forged: &[Forged], url: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
            .await
            .expect("cannot connect to the test vhost");
        let channel = conn.create_channel().await.unwrap();
        channel.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
        for (i, f) in forged.iter().enumerate() {
            let exchange = format!("passerelle.{}", f.exchange);
            let options = BasicPublishOptions { mandatory: true, ..Default::default() };
            let confirm = channel
                .basic_publish(exchange.as_str().into(), f.routing_key.into(), options, &f.body, f.properties.clone())
                .await
                .unwrap_or_else(|e| panic!("publishing forged message #{i}: {e}"))
                .await
                .unwrap_or_else(|e| panic!("confirm of forged message #{i}: {e}"));
            assert!(
                matches!(confirm, lapin::Confirmation::Ack(None)),
                "forged message #{i} was not routed: {confirm:?}"
            );
        }
        let _ = conn.close(200, "forged messages published".into()).await;
    });
}

/// Messages a daemon refused: the bus logs one line for each, once it is dead-lettered.
fn refusals(log: &str) -> usize {
    log.lines().filter(|l| l.contains("message dead-lettered")).count()
}

#[test]
fn values_from_forged_messages_reach_the_logs_bounded_escaped_and_masked() {
    if !support::broker_reachable_or_skip(&support::amqp_url()) {
        return;
    }
    let mut stack = Stack::prepare(StackOptions { persons: 20, chunk_size: 20, ..StackOptions::default() });
    let daemons = [OBSERVATORY_DAEMON, RESPONDER, REQUESTER_DAEMON];
    for daemon in daemons {
        stack.start_daemon(daemon);
    }
    let nirs = Nirs::new();
    let (user, _) = passerelle_test_support::broker::credentials(stack.url());
    let forged = forged_messages(&nirs, &user);
    publish(&forged, stack.url());

    // Each daemon refuses what it was sent (observatory: 4, responder: 1, requester: 2) and the
    // observatory raises the forged alarm.
    for (daemon, expected) in [(OBSERVATORY_DAEMON, 4), (RESPONDER, 1), (REQUESTER_DAEMON, 2)] {
        eventually(&format!("{daemon} refuses the forged messages"), REFUSAL_TIMEOUT, || {
            refusals(&stack.log(daemon)) >= expected
        });
    }
    eventually("the observatory logs the forged alarm", REFUSAL_TIMEOUT, || {
        stack.log(OBSERVATORY_DAEMON).contains("ALARM")
    });
    // What an operator and an auditor read through the observatory's API, while it runs.
    let status = support::stack::passerelle_command()
        .args(["ctl", "status", "--config"])
        .arg(stack.config(OBSERVATORY_DAEMON))
        .args(["--management-url", "http://127.0.0.1:9/"])
        .output()
        .unwrap();
    let status_text = format!("{}{}", String::from_utf8_lossy(&status.stdout), String::from_utf8_lossy(&status.stderr));
    assert!(status_text.contains("Dead-letters"), "ctl status printed its report: {status_text}");
    let audit: Vec<String> = stack.audit(None).iter().map(|e| e.to_string()).collect();
    assert!(audit.iter().filter(|e| e.contains("dead_letter")).count() >= 4, "the refusals are in the audit trail");
    for daemon in daemons {
        stack.stop(daemon);
    }

    let mut problems = Vec::new();
    let mut lines = 0;
    for daemon in daemons {
        let log = stack.log(daemon);
        lines += log.lines().count();
        problems.extend(unsafe_lines(daemon, &log, &nirs));
    }

    problems.extend(unsafe_lines("ctl status", &status_text, &nirs));
    problems.extend(unsafe_lines("audit trail", &audit.join("\n"), &nirs));

    assert!(problems.is_empty(), "unsafe output lines:\n{}", problems.join("\n"));
    let alarm = stack.log(OBSERVATORY_DAEMON).lines().find(|l| l.contains("ALARM")).map(str::to_owned).unwrap();
    assert!(alarm.contains("withheld"), "the alarm says the forged queue name was withheld: {alarm}");
    // Safe to print now: what an operator reads.
    println!("{alarm}");
    for daemon in daemons {
        for line in stack.log(daemon).lines().filter(|l| l.contains("message dead-lettered")).take(2) {
            println!("{line}");
        }
    }
    println!(
        "log safety: {} forged messages, {lines} log lines of {} daemons, ctl status and {} audit entries scanned: \
         no NIR, no name, no forged line, none over {MAX_LINE_CHARS} characters",
        forged.len(),
        daemons.len(),
        audit.len()
    );
}
