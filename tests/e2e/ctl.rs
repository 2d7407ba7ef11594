//! `passerelle ctl status` as an operator runs it, against an observatory's case store (served by
//! its local API in this process, the test's account an `operator` of its registry): cases in
//! flight and their age, late bodies, the next purge due, dead-letters grouped by reason, and
//! the queues — read from a RabbitMQ management API (a stand-in serving a canned answer here),
//! or reported unavailable with the way to enable it.

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, SystemTime};

use passerelle_observatory_store::audit::{Action, AuditEntry};
use passerelle_observatory_store::{CaseState, CaseStore, NewCase, StoreError, StoredSolicitation};
use support::passerelle;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

fn new_case(id: &str, now: SystemTime, state: CaseState) -> NewCase {
    let arrived_at = now - 2 * HOUR;
    NewCase {
        case_id: id.to_owned(),
        state,
        requester: "cnaf".into(),
        requester_office: "caf-13".into(),
        requester_user: "body-cnaf".into(),
        purpose: "Atelier prévention des chutes".into(),
        service: 1,
        legal_basis: "Décret n° 2017-334, art. 3".into(),
        wanted: vec![],
        arrived_at,
        respond_by: arrived_at + 3 * HOUR,
        remind_at: arrived_at + HOUR + HOUR / 2,
        expires_at: arrived_at + 30 * DAY,
        chunk_size: 1000,
        request_chunk_count: 1,
    }
}

fn solicitation(case: &str, body: &str, chunks: u32, at: SystemTime) -> StoredSolicitation {
    StoredSolicitation {
        solicitation_id: format!("{case}-{body}"),
        case_id: case.to_owned(),
        body: passerelle_protocol::ids::BodyCode::parse(body).unwrap(),
        categories: vec![],
        chunk_count: chunks,
        declines: vec![],
        created_at: at,
    }
}

/// An observatory's store with a case collecting (cnam late with one of two chunks unanswered
/// and reminded, cnav done), a case returned whose receipt came a minute ago, a purged case,
/// and four dead-letters of two kinds.
pub(crate) fn observatory_store(data_dir: &Path) {
    std::fs::create_dir_all(data_dir).unwrap();
    let store = CaseStore::open(&data_dir.join("observatory.db")).unwrap();
    let now = SystemTime::now();
    store
        .write(|tx| {
            tx.insert_case(&new_case("case-collecting", now, CaseState::Collecting), now)?;
            tx.insert_solicitation(&solicitation("case-collecting", "cnam", 2, now - 2 * HOUR))?;
            tx.insert_solicitation(&solicitation("case-collecting", "cnav", 1, now - 2 * HOUR))?;
            tx.mark_chunk_answered("case-collecting-cnam", 0, now - HOUR)?;
            tx.mark_chunk_reminded("case-collecting-cnam", 1, now - HOUR / 2)?;
            tx.mark_chunk_answered("case-collecting-cnav", 0, now - HOUR)?;
            tx.insert_case(&new_case("case-returned", now, CaseState::Returned), now)?;
            tx.mark_receipt("case-returned", now - Duration::from_secs(60))?;
            tx.insert_case(&new_case("case-purged", now, CaseState::Purged), now)?;
            for reason in [
                "result for case 01932c4e-7d2a-7b3c-9c1d-0123456789ab, unknown to this store",
                "result for case 01932c4e-7d2a-7b3c-9c1d-0123456789ac, unknown to this store",
                "result for case 01932c4e-7d2a-7b3c-9c1d-0123456789ad, unknown to this store",
                "a passerelle.v1.Response does not belong on the requests queue",
            ] {
                tx.audit_append(&AuditEntry::new(
                    now,
                    Action::DeadLetter,
                    None,
                    "body:cnam user:body-cnam",
                    serde_json::json!({ "reason": reason }),
                ))?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
}

pub(crate) fn settings_file(dir: &Path, data_dir: &Path) -> std::path::PathBuf {
    let path = dir.join("observatory.toml");
    std::fs::write(
        &path,
        format!(
            "code = \"carsat-sud-est\"\ndata_dir = \"{}\"\n[broker]\nurls = [\"amqp://ops:s%40cret@127.0.0.1:5672/prod\"]\nprefix = \"pp\"\n\
             [agents]\nregistry = \"{}\"\n",
            data_dir.display(),
            support::write_registry(dir, &["operator"]).display()
        ),
    )
    .unwrap();
    path
}

/// An address where nothing listens.
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

pub(crate) fn ctl_status(config: &Path, extra: &[&str]) -> std::process::Output {
    passerelle().args(["ctl", "status", "--config"]).arg(config).args(extra).output().unwrap()
}

#[test]
fn ctl_status_reports_cases_in_flight_late_bodies_the_next_purge_and_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("observatory");
    observatory_store(&data_dir);
    let config = settings_file(dir.path(), &data_dir);
    let _api = support::serve_observatory(&config);
    let management = closed_port();

    let output = ctl_status(&config, &["--json", "--management-url", &management]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let s: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(s["observatory"], "carsat-sud-est");
    assert_eq!(s["cases_by_state"]["collecting"], 1);
    assert_eq!(s["cases_by_state"]["purged"], 1);

    let in_flight = s["in_flight"].as_array().unwrap();
    assert_eq!(in_flight.len(), 2, "the purged case holds nothing: {in_flight:?}");
    let collecting = in_flight.iter().find(|c| c["case_id"] == "case-collecting").unwrap();
    let age = collecting["age_seconds"].as_i64().unwrap();
    assert!((7190..7300).contains(&age), "two hours old: {age}");
    assert!(collecting["deadline_in_seconds"].as_i64().unwrap() > 0);
    assert!(collecting["cap_in_seconds"].as_i64().unwrap() > 29 * 86_400);
    assert_eq!(collecting["bodies_solicited"], 2, "cnam and cnav asked");
    assert_eq!(collecting["bodies_answered"], 1, "cnav answered every chunk, cnam one of two");

    let late = s["late_bodies"].as_array().unwrap();
    assert_eq!(late.len(), 1, "only cnam is late: {late:?}");
    assert_eq!(late[0]["body"], "cnam");
    assert_eq!(late[0]["case_id"], "case-collecting");
    assert_eq!((late[0]["pending_chunks"].as_u64(), late[0]["chunks"].as_u64()), (Some(1), Some(2)));
    assert_eq!(late[0]["reminded"], true);
    assert_eq!(late[0]["overdue"], false);

    assert_eq!(s["next_purge"]["case_id"], "case-returned");
    assert_eq!(s["next_purge"]["reason"], "receipt");
    assert!(s["next_purge"]["in_seconds"].as_i64().unwrap() < 0, "due since the receipt");

    assert_eq!(s["dead_letters_total"], 4);
    let reasons = s["dead_letters"].as_array().unwrap();
    assert_eq!(reasons[0]["reason"], "result for case <id>, unknown to this store");
    assert_eq!(reasons[0]["count"], 3);
    assert_eq!(reasons[0]["senders"], serde_json::json!([{ "sender": "body:cnam user:body-cnam", "count": 3 }]));
    assert_eq!(reasons[1]["count"], 1);

    assert_eq!(s["queues"]["available"], false);
    assert_eq!(s["queues"]["vhost"], "prod");
    let message = s["queues"]["message"].as_str().unwrap();
    assert!(
        message.contains("not reachable") && message.contains("rabbitmq-plugins enable rabbitmq_management"),
        "{message}"
    );

    // The same in sentences.
    let output = ctl_status(&config, &["--management-url", &management]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("In flight: 2"), "{text}");
    assert!(text.contains("cnam on case case-collecting: 1 of 2 chunks unanswered"), "{text}");
    assert!(text.contains("Next purge due: case case-returned"), "{text}");
    assert!(text.contains("3 from body:cnam user:body-cnam"), "{text}");
    assert!(text.contains("Queues: not available: the RabbitMQ management API is not reachable"), "{text}");
    assert!(text.contains("rabbitmq-plugins enable rabbitmq_management"), "{text}");
}

/// A stand-in management API: answers the queue list with `body` and the consumer list with
/// none, and hands back the queue list request's head.
fn fake_management(body: &'static str) -> (String, std::thread::JoinHandle<String>) {
    fake_management_api(body, "[]")
}

/// A stand-in management API answering `GET /api/queues/…` with `queues` and
/// `GET /api/consumers/…` with `consumers` (one request each, in that order, as `ctl status`
/// asks), and handing back the queue list request's head.
pub(crate) fn fake_management_api(
    queues: &'static str,
    consumers: &'static str,
) -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let mut first = None;
        for _ in 0..2 {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let body = if head.starts_with("GET /api/consumers/") { consumers } else { queues };
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            first.get_or_insert(head);
        }
        first.unwrap_or_default()
    });
    (url, server)
}

#[test]
fn ctl_status_reads_queue_depths_and_consumers_from_the_management_api() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("observatory");
    observatory_store(&data_dir);
    let config = settings_file(dir.path(), &data_dir);
    let _api = support::serve_observatory(&config);
    let (url, server) = fake_management(
        r#"[{"name":"pp.body.cnam.solicitations","messages_ready":12,"messages_unacknowledged":3,"consumers":2},
            {"name":"other.body.cnam.solicitations","messages_ready":99,"messages_unacknowledged":0,"consumers":0},
            {"name":"pp.dead-letters","messages_ready":4,"messages_unacknowledged":0,"consumers":0}]"#,
    );
    let output = ctl_status(&config, &["--json", "--management-url", &url]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let head = server.join().unwrap();
    assert!(head.starts_with("GET /api/queues/prod?"), "{head}");
    // ops:s@cret, from the broker URL of the settings.
    let authorization = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("authorization").then(|| value.trim().to_owned())
    });
    assert_eq!(authorization.as_deref(), Some("Basic b3BzOnNAY3JldA=="), "{head}");

    let s: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(s["queues"]["available"], true);
    let queues = s["queues"]["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 2, "only the deployment's prefix: {queues:?}");
    assert_eq!(queues[0]["name"], "pp.body.cnam.solicitations");
    assert_eq!((queues[0]["ready"].as_u64(), queues[0]["unacknowledged"].as_u64()), (Some(12), Some(3)));
    assert_eq!(queues[0]["consumers"], 2);
    assert_eq!(queues[1]["name"], "pp.dead-letters");
}

#[test]
fn ctl_status_on_this_machine_says_whether_the_management_api_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("observatory");
    observatory_store(&data_dir);
    let config = dir.path().join("observatory.toml");
    std::fs::write(
        &config,
        format!(
            "code = \"carsat-sud-est\"\ndata_dir = \"{}\"\n[broker]\nurls = [\"amqp://guest:guest@127.0.0.1:5672/%2f\"]\n\
             [agents]\nregistry = \"{}\"\n",
            data_dir.display(),
            support::write_registry(dir.path(), &["operator"]).display()
        ),
    )
    .unwrap();
    let _api = support::serve_observatory(&config);
    let output = ctl_status(&config, &["--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let s: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let enabled = std::net::TcpStream::connect("127.0.0.1:15672").is_ok();
    if enabled {
        // The plugin answers: either the queues, or why the development account may not read them.
        let message = s["queues"]["message"].as_str().unwrap_or("");
        assert!(s["queues"]["available"] == true || message.contains("management API"), "{s}");
    } else {
        assert_eq!(s["queues"]["available"], false);
        let message = s["queues"]["message"].as_str().unwrap();
        assert!(message.contains("not reachable at http://127.0.0.1:15672"), "{message}");
        assert!(message.contains("rabbitmq-plugins enable rabbitmq_management"), "{message}");
    }
}

#[test]
fn ctl_status_without_a_store_or_with_bad_settings_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("observatory.toml");
    std::fs::write(
        &config,
        format!(
            "code = \"carsat-sud-est\"\ndata_dir = \"{}\"\n[broker]\nurls = [\"amqp://127.0.0.1:1/%2f\"]\n",
            dir.path().join("none").display()
        ),
    )
    .unwrap();
    let output = ctl_status(&config, &["--no-management"]);
    assert_eq!(output.status.code(), Some(4));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("no daemon answers at") && said.contains("is `passerelle observatory run` running?"),
        "{said}"
    );

    std::fs::write(&config, "code = \"carsat-nowhere\"\ndata_dir = \"/tmp\"\n").unwrap();
    let output = ctl_status(&config, &["--no-management"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("code"));
}
