//! The partner integration guide (`docs/PARTNERS.md`) against the code: every `x-…` header,
//! AMQP property, exchange and queue the guide names is one the bus uses, and every one the bus
//! uses is named there; every wire message of `proto/` is named; the categories' default holders
//! are those of the catalogue (in the guide and in README's table).
//!
//! The code side is read from the code: the `x-…` names from the bus's own sources (every string
//! literal of a non-test file, so a header added anywhere in the bus is caught), the properties
//! from what the publisher sets on a message of each kind, the exchanges from [`Exchange::ALL`],
//! the queues from [`Queue::kinds`], the messages from [`Kind::ALL`] and the `.proto` files.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

use lapin::BasicProperties;
use passerelle_protocol::catalogue::CATEGORIES;
use passerelle_protocol::v1;

use crate::amqp::consumer::{is_broker_death_header, ORIGINAL_USER_HEADER};
use crate::amqp::properties::{outgoing, EXPIRES_AT_HEADER};
use crate::topology::{self as t, Exchange};
use crate::{Kind, Message, Outgoing, Queue, SCHEMA_VERSION};

const GUIDE: &str = include_str!("../../../docs/PARTNERS.md");
const README: &str = include_str!("../../../README.md");
const PROTOS: [(&str, &str); 6] = [
    ("exchange.proto", include_str!("../../../proto/passerelle/v1/exchange.proto")),
    ("categories.proto", include_str!("../../../proto/passerelle/v1/categories.proto")),
    ("witness.proto", include_str!("../../../proto/passerelle/v1/witness.proto")),
    ("transfer.proto", include_str!("../../../proto/passerelle/v1/transfer.proto")),
    ("rights.proto", include_str!("../../../proto/passerelle/v1/rights.proto")),
    ("social_file.proto", include_str!("../../../proto/passerelle/v1/social_file.proto")),
];

/// The tokens of `text` that start with `start` (not inside a longer word) and go on with
/// characters of `more`; a trailing `.` or `-` is left out.
fn tokens(text: &str, start: &str, more: impl Fn(char) -> bool) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices(start) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
            continue;
        }
        let rest = &text[at + start.len()..];
        let len = rest.find(|c: char| !more(c)).unwrap_or(rest.len());
        found.insert(format!("{start}{}", &rest[..len]).trim_end_matches(['.', '-']).to_owned());
    }
    found
}

fn x_names(text: &str) -> BTreeSet<String> {
    let names = tokens(text, "x-", |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    names.into_iter().filter(|n| n.len() > 2).collect()
}

/// Every `"x-…"` string literal of the bus's non-test sources (a file's test module excluded):
/// the headers, queue arguments and binding arguments the bus writes or reads. A literal ending
/// in `-` is a prefix (`x-first-death-`), returned apart.
fn code_x_literals() -> (BTreeSet<String>, Vec<String>) {
    fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let (mut names, mut prefixes) = (BTreeSet::new(), Vec::new());
    for file in files.iter().filter(|f| !f.to_string_lossy().ends_with("_tests.rs")) {
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (at, _) in code.match_indices("\"x-") {
            let literal = &code[at + 1..];
            let literal = &literal[..literal.find('"').unwrap()];
            if literal.ends_with('-') {
                prefixes.push(literal.to_owned());
            } else {
                names.insert(literal.to_owned());
            }
        }
    }
    (names, prefixes)
}

/// The names that are no message header: the queues' arguments, as the topology declares them,
/// and the headers exchange's own binding argument `x-match`.
fn argument_names() -> BTreeSet<String> {
    let mut settings = crate::BusSettings::default();
    settings.social_services.insert("carsat-sud-est".into(), vec!["ss-13".into()]);
    let topology = t::Topology::of(&settings);
    let queues = topology.queues.iter().flat_map(|q| q.arguments.iter().map(|a| a.0.to_owned()));
    let x_match = topology.bindings.iter().flat_map(|b| b.headers.iter().map(|h| h.0)).filter(|h| *h == "x-match");
    queues.chain(x_match.map(str::to_owned)).collect()
}

#[test]
fn every_header_the_bus_uses_is_in_the_guide_and_the_guide_names_no_other() {
    let (literals, prefixes) = code_x_literals();
    // The scan finds the header constants (it reads the sources the constants are in).
    for constant in [
        t::REASON_HEADER,
        t::DEAD_LETTER_MARK_HEADER,
        t::FIRST_DEATH_REASON_HEADER,
        t::SCHEMA_VERSION_HEADER,
        t::SCHEMA_MINOR_HEADER,
        t::CHUNK_INDEX_HEADER,
        t::CHUNK_COUNT_HEADER,
        t::ORIGINAL_EXCHANGE_HEADER,
        t::ORIGINAL_ROUTING_KEY_HEADER,
        t::ORIGINAL_QUEUE_HEADER,
        EXPIRES_AT_HEADER,
        ORIGINAL_USER_HEADER,
    ] {
        assert!(literals.contains(constant), "the scan of crates/bus/src missed {constant}");
    }
    let arguments = argument_names();
    let headers: BTreeSet<&String> = literals.iter().filter(|l| !arguments.contains(*l)).collect();
    let named = x_names(GUIDE);
    for header in &headers {
        assert!(named.contains(*header), "docs/PARTNERS.md does not name the header `{header}` the bus uses");
    }
    for name in &named {
        let known = literals.contains(name)
            || is_broker_death_header(name) && prefixes.iter().any(|p| name.starts_with(p.as_str()))
            || name == "x-death";
        assert!(known, "docs/PARTNERS.md names `{name}`, which the bus neither writes nor reads");
    }
    for value in
        [t::DEAD_LETTER_MARK, t::DELIVERY_LIMIT_REASON, t::REJECTED_REASON, crate::amqp::properties::CONTENT_TYPE]
    {
        assert!(GUIDE.contains(&format!("`{value}`")), "docs/PARTNERS.md does not give the value `{value}`");
    }
}

/// A message of `kind` as a sender would publish it (ids set, a chunk 0 of 2 where chunked).
fn sample(kind: Kind) -> Message {
    let v = SCHEMA_VERSION;
    let (s, case_id) = ("cnaf".to_owned(), "0190a0b0-0000-7000-8000-0000000000c1".to_owned());
    let (r, id) = ("carsat-sud-est".to_owned(), case_id.clone());
    match kind {
        Kind::Request => Message::Request(v1::Request {
            schema_version: v,
            sender: s,
            case_id,
            chunk_count: 2,
            ..Default::default()
        }),
        Kind::Solicitation => Message::Solicitation(v1::Solicitation {
            schema_version: v,
            sender: s,
            case_id,
            chunk_count: 2,
            ..Default::default()
        }),
        Kind::Response => Message::Response(v1::Response {
            schema_version: v,
            sender: s,
            case_id,
            chunk_count: 2,
            ..Default::default()
        }),
        Kind::Result => {
            Message::Result(v1::Result { schema_version: v, sender: s, case_id, chunk_count: 2, ..Default::default() })
        }
        Kind::Receipt => Message::Receipt(v1::Receipt { schema_version: v, sender: s, case_id, ..Default::default() }),
        Kind::Refusal => Message::Refusal(v1::Refusal { schema_version: v, sender: s, case_id, ..Default::default() }),
        Kind::Notice => {
            Message::Notice(v1::Notice { schema_version: v, sender: s, recipient: r, case_id, ..Default::default() })
        }
        Kind::Checkpoint => {
            Message::Checkpoint(v1::Checkpoint { schema_version: v, sender: s, recipient: r, ..Default::default() })
        }
        Kind::CheckpointReceipt => Message::CheckpointReceipt(v1::CheckpointReceipt {
            schema_version: v,
            sender: s,
            recipient: r,
            ..Default::default()
        }),
        Kind::CheckpointQuery => Message::CheckpointQuery(v1::CheckpointQuery {
            schema_version: v,
            sender: s,
            recipient: r,
            ..Default::default()
        }),
        Kind::WitnessedCheckpoints => Message::WitnessedCheckpoints(v1::WitnessedCheckpoints {
            schema_version: v,
            sender: s,
            recipient: r,
            ..Default::default()
        }),
        Kind::Transfer => Message::Transfer(v1::Transfer {
            schema_version: v,
            sender: s,
            transfer_id: id,
            chunk_count: 2,
            ..Default::default()
        }),
        Kind::TransferReceipt => Message::TransferReceipt(v1::TransferReceipt {
            schema_version: v,
            sender: s,
            transfer_id: id,
            ..Default::default()
        }),
        Kind::TransferAmendment => Message::TransferAmendment(v1::TransferAmendment {
            schema_version: v,
            sender: s,
            transfer_id: id,
            ..Default::default()
        }),
        Kind::RightsRequest => Message::RightsRequest(v1::RightsRequest {
            schema_version: v,
            sender: s,
            request_id: id,
            recipient: r,
            ..Default::default()
        }),
        Kind::RightsAnswer => Message::RightsAnswer(v1::RightsAnswer {
            schema_version: v,
            sender: s,
            request_id: id,
            recipient: r,
            ..Default::default()
        }),
    }
}

/// The AMQP basic properties (AMQP 0-9-1 spec, `headers` apart), and whether `p` sets each.
fn amqp_properties(p: &BasicProperties) -> [(&'static str, bool); 13] {
    [
        ("content_type", p.content_type().is_some()),
        ("content_encoding", p.content_encoding().is_some()),
        ("delivery_mode", p.delivery_mode().is_some()),
        ("priority", p.priority().is_some()),
        ("correlation_id", p.correlation_id().is_some()),
        ("reply_to", p.reply_to().is_some()),
        ("expiration", p.expiration().is_some()),
        ("message_id", p.message_id().is_some()),
        ("timestamp", p.timestamp().is_some()),
        ("type", p.kind().is_some()),
        ("user_id", p.user_id().is_some()),
        ("app_id", p.app_id().is_some()),
        ("cluster_id", p.cluster_id().is_some()),
    ]
}

/// The rows of the guide's table whose header line starts with `header`: each row's cells.
fn table(header: &str) -> Vec<Vec<String>> {
    let start = GUIDE.find(header).unwrap_or_else(|| panic!("docs/PARTNERS.md has no table `{header}`"));
    GUIDE[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split(" | ").map(|c| c.trim().to_owned()).collect())
        .collect()
}

#[test]
fn the_guide_names_exactly_the_properties_a_sender_sets_and_the_chunked_kinds() {
    let now = SystemTime::now();
    let (mut set, mut chunked) = (BTreeSet::new(), BTreeSet::new());
    let named = x_names(GUIDE);
    for kind in Kind::ALL {
        let m = sample(kind);
        let o = Outgoing::new(m, "carsat-sud-est", now + Duration::from_secs(60));
        let props = outgoing(&o, "u-cnaf", Duration::from_secs(60), now);
        set.extend(amqp_properties(&props).into_iter().filter(|p| p.1).map(|p| p.0));
        for key in props.headers().as_ref().unwrap().inner().keys() {
            assert!(named.contains(key.as_str()), "a {kind} is published with `{key}`, not in docs/PARTNERS.md");
            if key.as_str() == t::CHUNK_INDEX_HEADER {
                chunked.insert(kind.type_name().trim_start_matches("passerelle.v1.").to_owned());
            }
        }
    }
    let rows = table("| property |");
    let listed: BTreeSet<&str> = rows.iter().map(|row| row[0].trim_matches('`')).collect();
    assert_eq!(listed, set, "the guide's property table against what the publisher sets");
    let p = BasicProperties::default();
    for (property, _) in amqp_properties(&p) {
        if GUIDE.contains(&format!("`{property}`")) {
            assert!(set.contains(property), "docs/PARTNERS.md names `{property}`, which no sender sets");
        }
    }
    let chunk_row = table("| header | on |").into_iter().find(|r| r[0] == format!("`{}`", t::CHUNK_INDEX_HEADER));
    let listed: BTreeSet<String> =
        chunk_row.expect("a chunk-index row")[1].split(", ").map(|k| k.trim_matches('`').to_owned()).collect();
    assert_eq!(listed, chunked, "the kinds the guide says carry chunk headers");
}

/// Whether `e` is in [`Exchange::ALL`]. No wildcard arm: a new exchange stops this test from
/// compiling until it is considered here (and listed in `ALL`, which the guide is checked against).
fn in_all(e: Exchange) -> bool {
    match e {
        Exchange::Requests
        | Exchange::Solicitations
        | Exchange::Responses
        | Exchange::Results
        | Exchange::NoticesToObservatories
        | Exchange::NoticesToBodies
        | Exchange::DeadLetter
        | Exchange::Transfers
        | Exchange::Rights => Exchange::ALL.contains(&e),
    }
}

#[test]
fn every_exchange_and_queue_is_in_the_guide_with_its_binding_and_the_guide_names_no_other() {
    let p = "{prefix}";
    let mut required: Vec<String> = Exchange::ALL.into_iter().filter(|e| in_all(*e)).map(|e| e.name(p)).collect();
    required.extend(Queue::kinds().iter().map(|q| q.name(p)));
    required.extend([
        t::dead_letter_queue(p),
        t::alarm_queue(p),
        t::transfers_dead_letter_exchange(p),
        t::transfers_dead_letter_queue(p),
    ]);
    let mut known: BTreeSet<String> = required.iter().cloned().collect();
    known.extend([t::holders_exchange(p), t::holder_queue(p, "{code}"), t::territory_lock_queue(p, "{code}")]);
    let named = tokens(GUIDE, "{prefix}.", |c| c.is_ascii_lowercase() || c.is_ascii_digit() || "{}._-".contains(c));
    for name in &required {
        assert!(named.contains(name), "docs/PARTNERS.md does not name `{name}`");
    }
    for name in &named {
        assert!(known.contains(name), "docs/PARTNERS.md names `{name}`, which is no exchange or queue of the topology");
    }
    let queues = table("| queue (quorum, durable) |");
    for queue in Queue::kinds() {
        let (exchange, key) = queue.binding();
        let row = queues.iter().find(|r| r[0] == format!("`{}`", queue.name(p)));
        let row = row.unwrap_or_else(|| panic!("no row for `{}` in the guide's queue table", queue.name(p)));
        assert_eq!(row[1], format!("`{}`, `{key}`", exchange.name(p)), "the binding of {}", queue.name(p));
        for kind in Kind::ALL.into_iter().filter(|k| queue.accepts(*k) && !k.is_witness()) {
            let bare = kind.type_name().trim_start_matches("passerelle.v1.");
            let said = row[3].contains(&format!("`{bare}`")) || kind.is_transfer() && row[3].contains("transfer");
            assert!(said, "the guide's row for {} does not say it accepts {bare}", queue.name(p));
        }
    }
}

/// The top-level `message` and `enum` names of a `.proto` file, each with its block.
fn declarations(proto: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (at, _) in proto.match_indices('\n').map(|(i, s)| (i + 1, s)) {
        let line = &proto[at..];
        let Some(rest) = line.strip_prefix("message ").or_else(|| line.strip_prefix("enum ")) else { continue };
        let name = rest.split(' ').next().unwrap().to_owned();
        let block = &line[..line.find("\n}").unwrap_or(line.len())];
        found.push((name, block.to_owned()));
    }
    found
}

#[test]
fn every_wire_message_of_the_proto_files_is_in_the_guide() {
    let mut wire = BTreeSet::new();
    for (file, proto) in PROTOS {
        assert!(proto.contains("docs/PARTNERS.md"), "{file}'s header does not point at docs/PARTNERS.md");
        for (name, block) in declarations(proto) {
            if block.contains("schema_minor = 15;") {
                assert!(GUIDE.contains(&format!("`passerelle.v1.{name}`")), "docs/PARTNERS.md does not name {name}");
                wire.insert(format!("passerelle.v1.{name}"));
            }
        }
    }
    let kinds: BTreeSet<String> = Kind::ALL.iter().map(|k| k.type_name().to_owned()).collect();
    assert_eq!(wire, kinds, "the messages with a schema_minor are the bus's kinds");
    // The types a responder or a requester builds and reads are named too.
    for (file, proto) in &PROTOS[..3] {
        for (name, _) in declarations(proto) {
            let named = GUIDE.contains(&format!("`{name}`")) || GUIDE.contains(&format!("`passerelle.v1.{name}`"));
            assert!(named, "docs/PARTNERS.md does not name {name} of {file}");
        }
    }
}

#[test]
fn the_default_holders_of_each_category_are_the_catalogue_s_in_the_guide_and_the_readme() {
    assert!(README.contains("(docs/PARTNERS.md)"), "README links the guide");
    for (doc, text) in [("docs/PARTNERS.md", GUIDE), ("README.md", README)] {
        for info in &CATEGORIES {
            let row = text
                .lines()
                .filter(|l| l.starts_with('|'))
                .find(|l| l.contains(&format!("`{}`", info.code)) && l.contains('°'))
                .unwrap_or_else(|| panic!("{doc} has no categories row for {}", info.code));
            let holders = info.default_holders.join(", ");
            assert!(
                row.trim_end().ends_with(&format!("| {holders} |")),
                "{doc}: {} is held by default by {holders}",
                info.code
            );
        }
    }
}
