//! The observatory's console pages over plain HTTP against its real local API (the store of
//! `ctl`'s test: a case collecting with a late body, one returned, one purged, dead-letters, a
//! purge in the trail): one session holding every role the pages need, opened with `passerelle
//! console open` as the agent would; each page answers 200 with what the store holds, and the
//! case's timeline is reached from the purges' form; the queues page reads RabbitMQ's
//! management API (a stand-in) at the settings' `management_url`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::SystemTime;

use passerelle_observatory_store::audit::{Action, AuditEntry};
use passerelle_observatory_store::CaseStore;

use crate::ctl::observatory_store;
use crate::support;

/// An answer: status, headers (lower-case names) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on its own connection.
fn request(addr: &str, method: &str, path: &str, cookie: Option<&str>, form: Option<&str>) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(cookie) = cookie {
        head.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    let body = form.unwrap_or("");
    if form.is_some() {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    stream.write_all(format!("{head}\r\n{body}").as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer { status, headers, body: body.to_owned() }
}

fn settings(dir: &Path, data_dir: &Path, management_url: &str) -> std::path::PathBuf {
    let registry = support::write_registry(dir, &["operator", "observatory-agent", "auditor", "statistics-agent"]);
    let path = dir.join("observatory.toml");
    std::fs::write(
        &path,
        format!(
            "code = \"carsat-sud-est\"\ndata_dir = \"{}\"\nmanagement_url = \"{management_url}\"\n\
             [broker]\nurls = [\"amqp://ops:s%40cret@127.0.0.1:5672/prod\"]\nprefix = \"pp\"\n[agents]\nregistry = \"{}\"\n\
             [api]\nconsole_addr = \"127.0.0.1:0\"\n",
            data_dir.display(),
            registry.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn the_observatory_pages_show_the_store_through_its_api() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("observatory");
    observatory_store(&data_dir);
    let store = CaseStore::open(&data_dir.join("observatory.db")).unwrap();
    store
        .write(|tx| {
            tx.audit_append(&AuditEntry::new(
                SystemTime::now(),
                Action::Purge,
                Some("case-purged"),
                "observatory:carsat-sud-est",
                serde_json::json!({ "reason": "receipt", "state_before": "returned", "persons": 7, "answers": 9,
                    "unsent_messages": 0, "statistics_rows": 7 }),
            ))
            .map(drop)
        })
        .unwrap();
    drop(store);
    // RabbitMQ's management API, a stand-in: a queue of the prefix, and a consumer on the
    // dead-letters, which nobody of the deployment consumes.
    let (management, server) = crate::ctl::fake_management_api(
        r#"[{"name":"pp.body.cnam.solicitations","messages_ready":12,"messages_unacknowledged":3,"consumers":2},
            {"name":"pp.dead-letters","messages_ready":4,"messages_unacknowledged":0,"consumers":1}]"#,
        r#"[{"queue":{"name":"pp.dead-letters"},"channel_details":{"connection_name":"10.0.0.9:50000 -> 10.0.0.1:5672"}}]"#,
    );
    let config = settings(dir.path(), &data_dir, &management);
    let _api = support::serve_observatory(&config);

    let out = support::passerelle().args(["console", "open", "--config"]).arg(&config).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, ticket) = rest.split_once('/').unwrap();
    let opened = request(addr, "GET", &format!("/{ticket}"), None, None);
    assert_eq!(opened.status, 303, "{}", opened.body);
    let cookie = opened.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let page = |path: &str| {
        let a = request(addr, "GET", path, Some(&cookie), None);
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        a.body
    };

    let cases = page("/cases");
    assert!(cases.contains("<h1>Dossiers en cours</h1>"), "{cases}");
    assert!(cases.contains(r#"<a href="/cases/case-collecting">"#), "an observatory-agent gets the timeline: {cases}");
    assert!(cases.contains("<td>1 / 2</td>"), "cnav answered, cnam not yet: {cases}");
    assert!(cases.contains("1 (cnam)"), "{cases}");
    assert!(cases.contains("accusé de réception du demandeur"), "the next purge: {cases}");

    let dead = page("/dead-letters");
    assert!(dead.contains("result for case &lt;id&gt;, unknown to this store"), "{dead}");
    assert!(dead.contains("body:cnam user:body-cnam (3)"), "{dead}");

    let purges = page("/purges");
    assert!(purges.contains(r#"<a href="/cases/case-purged">"#), "{purges}");
    assert!(purges.contains(r#"<td class="num">7</td>"#), "{purges}");

    let queues = page("/queues");
    assert!(
        queues.contains(r#"pp.body.cnam.solicitations</td><td class="num">12</td><td class="num">3</td>"#),
        "{queues}"
    );
    assert!(queues.contains("10.0.0.9:50000 -&gt; 10.0.0.1:5672"), "the unexpected consumer's connection: {queues}");
    let head = server.join().unwrap();
    assert!(head.starts_with("GET /api/queues/prod?"), "the settings' vhost, read with their login: {head}");

    let audit = page("/audit");
    assert!(audit.contains("aucun témoin nommé"), "no witness in these settings: {audit}");
    assert!(audit.contains("Chaque année civile du journal d"), "the trail's years: {audit}");

    let statistics = page("/statistics");
    assert!(statistics.contains("Personnes enregistrées"), "{statistics}");

    // The timeline's form: its token checked, then a redirect to the case's page.
    let csrf = purges.split(r#"name="csrf" value=""#).nth(1).unwrap().split('"').next().unwrap().to_owned();
    let refused = request(addr, "POST", "/timeline", Some(&cookie), Some("case=case-purged"));
    assert_eq!(refused.status, 403, "no token, no answer");
    let sent = request(addr, "POST", "/timeline", Some(&cookie), Some(&format!("csrf={csrf}&case=case-purged")));
    assert_eq!((sent.status, sent.header("location")), (303, Some("/cases/case-purged")));
    let timeline = page("/cases/case-purged");
    assert!(timeline.contains("Purge") && timeline.contains("persons : 7"), "{timeline}");
    assert_eq!(request(addr, "GET", "/cases/Not%20an%20id", Some(&cookie), None).status, 404);
}
