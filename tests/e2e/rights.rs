//! The persons' rights under the decree (art. 6, DESIGN §7.3, issue 26) as a rights officer
//! exercises them, with real daemons as separate processes over the real broker (a vhost of the
//! test's own): the `carsat-sud-est` observatory (the competent one, its rights desk), a second
//! observatory `carsat-rhone-alpes` of another territory, the CAF offices `caf-13` (the stack's
//! requester), `caf-69` (the other territory) and `caf-84` (which never receives the person), and
//! the `cnam`, `cnav`, `msa` responders. Every command is the officer's own `passerelle rights …`
//! against the observatory's local API; the clock is moved by the development profile's
//! `clock_offset_s` (the daemon restarted on it), never by a sleep.
//!
//! One stack is shared by the checks, in an order where each leaves the next an honest state
//! (the deadline, which moves the observatory's clock two days ahead, and the delivery with its
//! forensic scan come last). Synthetic data only.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use passerelle_hooks::{DevelopmentSettings, Profile};
use passerelle_party::PartySettings;
use serde_json::Value;
use support::stack::{
    agent_registry_in, eventually, passerelle_command, Stack, StackOptions, CASE_TIMEOUT, OBSERVATORY,
    OBSERVATORY_DAEMON, REQUESTER_DAEMON,
};

/// The other territory's observatory and its CAF office; the office that never gets the person.
const OTHER_OBSERVATORY: &str = "carsat-rhone-alpes";
const OTHER_OBSERVATORY_DAEMON: &str = "observatory-rhone-alpes";
const CAF_69: &str = "requester-caf-69";
const CAF_84: &str = "requester-caf-84";
/// A commune of the Rhône: the person's row at caf-69 lives there, so caf-69's case goes to
/// the other territory's observatory.
const LYON: &str = "69123";

/// How long a rights request may take to be answered by every party (four parties, a loaded
/// 2-core machine, a debug build).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// The roles of the test's account at the observatories: a rights officer, and what the stack's
/// own commands need.
const OFFICER_ROLES: [&str; 4] = ["observatory-agent", "auditor", "operator", "rights-officer"];
/// Every other role an agent may hold: none lets it exercise a person's rights.
const OTHER_ROLES: [&str; 4] = ["statistics-agent", "prevention-agent", "observatory-agent", "operator"];

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `passerelle rights ARGS --config <the competent observatory's settings>`.
fn rights(stack: &Stack, args: &[&str]) -> Output {
    passerelle_command()
        .arg("rights")
        .args(args)
        .arg("--config")
        .arg(stack.config(OBSERVATORY_DAEMON))
        .output()
        .unwrap()
}

/// `rights open … --json`: the request's id (panics with the output otherwise).
fn open(stack: &Stack, kind: &str, nir: &str, extra: &[&str]) -> String {
    let mut args = vec!["open", "--kind", kind, "--nir", nir, "--identity-checked-by", "agent-0007", "--json"];
    args.extend_from_slice(extra);
    let out = rights(stack, &args);
    assert!(out.status.success(), "rights open {kind} failed: {}", text(&out));
    let opened: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(opened["format"], "passerelle.rights-opened/1", "{opened}");
    opened["request_id"].as_str().unwrap().to_owned()
}

/// `rights show ID --json`.
fn show(stack: &Stack, id: &str) -> Value {
    let out = rights(stack, &["show", id, "--json"]);
    assert!(out.status.success(), "rights show failed: {}", text(&out));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["format"], "passerelle.rights-answer/1");
    answer
}

/// `rights list --json`: one line per request.
fn list(stack: &Stack) -> Vec<Value> {
    let out = rights(stack, &["list", "--json"]);
    assert!(out.status.success(), "rights list failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn summary(stack: &Stack, id: &str) -> Value {
    list(stack).into_iter().find(|r| r["request_id"] == id).unwrap_or_else(|| panic!("request {id} not listed"))
}

/// Waits until the request is answered (every party asked answered, or its deadline passed).
fn answered(stack: &Stack, id: &str) -> Value {
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    loop {
        let s = summary(stack, id);
        if s["state"] == "answered" {
            return show(stack, id);
        }
        assert!(
            Instant::now() < deadline,
            "request {id} not answered after {ANSWER_TIMEOUT:?}: {s}\n{}",
            stack.log_tails(30)
        );
        std::thread::sleep(support::stack::POLL);
    }
}

/// The party `code`'s part of an answer.
fn party<'a>(answer: &'a Value, code: &str) -> Option<&'a Value> {
    answer["parties"].as_array().unwrap().iter().find(|p| p["party"] == code)
}

fn holdings(answer: &Value, code: &str) -> Vec<Value> {
    party(answer, code).map(|p| p["holdings"].as_array().unwrap().clone()).unwrap_or_default()
}

/// A selection holding one row of `selection` (the person of `nir`), its commune changed to
/// `commune` when given.
fn one_row(selection: &Path, nir: &str, commune: Option<&str>, out: &Path) {
    let mut reader = csv::Reader::from_path(selection).unwrap();
    let header = reader.headers().unwrap().clone();
    let commune_at = header.iter().position(|h| h == "commune_code").unwrap();
    let mut writer = csv::Writer::from_path(out).unwrap();
    writer.write_record(&header).unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        if &record[0] == nir {
            let row: Vec<String> = record
                .iter()
                .enumerate()
                .map(|(i, v)| match commune {
                    Some(c) if i == commune_at => c.to_owned(),
                    _ => v.to_owned(),
                })
                .collect();
            writer.write_record(&row).unwrap();
        }
    }
    writer.flush().unwrap();
}

/// `requester submit --detach` at the requester daemon `daemon`; its case id.
fn submit(stack: &Stack, daemon: &str, selection: &Path, respond_by: &str) -> String {
    let out = passerelle_command()
        .args(["requester", "submit", "--detach", "--want", "3,4,7", "--respond-by", respond_by])
        .args(["--service", "prevention-workshop", "--purpose", "Atelier prévention des chutes (droits)", "--config"])
        .arg(stack.config(daemon))
        .arg("--selection")
        .arg(selection)
        .output()
        .unwrap();
    assert!(out.status.success(), "requester submit at {daemon} failed: {}", text(&out));
    let said = text(&out);
    said.lines()
        .filter_map(|l| l.strip_prefix("case "))
        .filter_map(|l| l.split_whitespace().next())
        .next()
        .unwrap_or_else(|| panic!("no case named: {said}"))
        .to_owned()
}

/// The state of `case` at the requester daemon `daemon`.
fn case_state(stack: &Stack, daemon: &str, case: &str) -> String {
    let out = passerelle_command()
        .args(["requester", "status", "--json", "--config"])
        .arg(stack.config(daemon))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|s| s["case"]["case_id"] == case)
        .and_then(|s| s["case"]["state"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Adds a requester office of the CAF (`cnaf.<office>`): the stack's requester's settings in a
/// folder of its own, its /health port from `ports`, a prevention agent of the office in its
/// registry.
fn add_office(stack: &mut Stack, daemon: &str, office: &str, ports: &mut passerelle_party::process::FreePorts) {
    let PartySettings::Requester(mut r) = stack.settings(REQUESTER_DAEMON).clone() else { panic!("the requester") };
    let dir = stack.dir().join(daemon);
    std::fs::create_dir_all(&dir).unwrap();
    r.office = office.to_owned();
    r.data_dir = dir.join("data");
    r.out_dir = dir.join("out");
    r.api.socket = Some(dir.join("requester.sock"));
    r.metrics_addr = Some(ports.pick().unwrap().to_string());
    let registry = dir.join("agents.toml");
    std::fs::write(&registry, agent_registry_in(office, &["prevention-agent", "auditor"])).unwrap();
    r.agents.registry = Some(registry);
    std::fs::create_dir_all(&r.data_dir).unwrap();
    std::fs::create_dir_all(&r.out_dir).unwrap();
    stack.add_daemon(daemon, PartySettings::Requester(r));
}

/// Rewrites the observatories' agent registry (the test's account with `roles`) and has the
/// competent observatory reload it (SIGHUP).
fn registry_roles(stack: &Stack, roles: &[&str]) {
    support::write_registry(stack.dir(), roles);
    let pid = stack.pid(OBSERVATORY_DAEMON).expect("the observatory runs");
    let status = std::process::Command::new("kill").args(["-HUP", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

fn data_dir(stack: &Stack, daemon: &str) -> PathBuf {
    stack.settings(daemon).data_dir().to_owned()
}

#[test]
fn a_rights_officer_answers_a_person_from_every_party_that_holds_them_and_forgets_the_request() {
    if !support::broker_reachable_or_skip(&support::amqp_url()) {
        return;
    }
    let started = Instant::now();
    let mut stack = Stack::prepare(StackOptions { persons: 20, chunk_size: 20, ..StackOptions::default() });
    // Both observatories of the deployment, every party knowing both; the CAF's three offices.
    let offices = ["caf-13", "caf-69", "caf-84"];
    for name in stack.daemon_names() {
        stack.edit_settings(&name, |s| {
            let broker = s.broker_mut();
            broker.observatories = vec![OBSERVATORY.to_owned(), OTHER_OBSERVATORY.to_owned()];
            broker.offices.insert("cnaf".to_owned(), offices.iter().map(|o| (*o).to_owned()).collect());
        });
    }
    stack.edit_settings(OBSERVATORY_DAEMON, |s| {
        if let PartySettings::Observatory(o) = s {
            o.rights.answer_within_days = 1;
        }
    });
    support::write_registry(stack.dir(), &OFFICER_ROLES);
    for name in stack.daemon_names() {
        stack.start_daemon(&name);
    }
    // The added daemons' /health ports, picked once the stack's are bound, held until they start.
    let mut ports = passerelle_party::process::FreePorts::default();
    let PartySettings::Observatory(mut other) = stack.settings(OBSERVATORY_DAEMON).clone() else { panic!() };
    other.code = OTHER_OBSERVATORY.to_owned();
    other.data_dir = stack.dir().join("observatory-rhone-alpes");
    other.statistics_secret_file = None;
    other.api.socket = None;
    other.metrics_addr = Some(ports.pick().unwrap().to_string());
    std::fs::create_dir_all(&other.data_dir).unwrap();
    std::fs::set_permissions(&other.data_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    stack.add_daemon(OTHER_OBSERVATORY_DAEMON, PartySettings::Observatory(other));
    add_office(&mut stack, CAF_69, "caf-69", &mut ports);
    add_office(&mut stack, CAF_84, "caf-84", &mut ports);
    drop(ports);
    // caf-84 never runs: whatever were sent to it would wait in its rights queue.
    stack.start_daemon(OTHER_OBSERVATORY_DAEMON);
    stack.start_daemon(CAF_69);
    eprintln!("stack up in {:?}", started.elapsed());

    // The person P: in caf-13's results (sud-est), in caf-69's (Rhône-Alpes, P's row there in
    // Lyon), and in a case in flight at sud-est (cnav stopped, the case waits for it).
    let selection = stack.selection();
    let people = support::nirs_of_selection(&selection);
    let p = people[0].0.clone();
    let case_13 = stack.submit_selection("1d");
    stack.wait_settled(&case_13, CASE_TIMEOUT);
    let only_p_69 = stack.dir().join("selection-69.csv");
    one_row(&selection, &p, Some(LYON), &only_p_69);
    let case_69 = submit(&stack, CAF_69, &only_p_69, "1d");
    eventually("caf-69's case answered", CASE_TIMEOUT, || case_state(&stack, CAF_69, &case_69) == "answered");
    stack.stop("cnav");
    let only_p = stack.dir().join("selection-p.csv");
    one_row(&selection, &p, None, &only_p);
    let in_flight = submit(&stack, REQUESTER_DAEMON, &only_p, "1d");
    eventually("the case in flight reached the observatory", CASE_TIMEOUT, || {
        case_state(&stack, REQUESTER_DAEMON, &in_flight) == "sent"
    });
    eprintln!("cases done at {:?}", started.elapsed());

    // Access: each holding with its retention date; caf-84 never asked.
    let former = passerelle_test_support::nir_with_key("2450199123457");
    let access = open(&stack, "access", &p, &["--former", &former]);
    let a = answered(&stack, &access);
    for code in [OBSERVATORY, OTHER_OBSERVATORY, "cnaf.caf-13", "cnaf.caf-69"] {
        let held = holdings(&a, code);
        assert!(!held.is_empty(), "{code} holds the person: {a:#}");
        assert!(held.iter().all(|h| h["until"].is_string()), "{code}: each holding has its retention date: {a:#}");
    }
    let kinds =
        |code: &str| holdings(&a, code).iter().map(|h| h["kind"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert!(kinds(OBSERVATORY).contains(&"case-in-flight".to_owned()), "{:?}", kinds(OBSERVATORY));
    assert!(kinds(OBSERVATORY).contains(&"statistics".to_owned()), "{:?}", kinds(OBSERVATORY));
    assert!(kinds(OTHER_OBSERVATORY).contains(&"statistics".to_owned()), "{:?}", kinds(OTHER_OBSERVATORY));
    assert!(party(&a, "cnaf.caf-84").is_none(), "caf-84 never received the person and is never asked: {a:#}");
    for responder in ["cnam", "cnav", "msa"] {
        assert!(party(&a, responder).is_none(), "a responder is never asked: {a:#}");
    }
    let human = rights(&stack, &["show", &access]);
    assert!(human.status.success(), "{}", text(&human));
    let human = text(&human);
    assert!(human.contains("kept until") && human.contains("cnaf.caf-69"), "{human}");

    // A person held nowhere: nothing held.
    let nobody = passerelle_test_support::nir_with_key("1450199123456");
    let none = open(&stack, "access", &nobody, &[]);
    let n = answered(&stack, &none);
    assert!(n["parties"].as_array().unwrap().iter().all(|p| p["holdings"].as_array().unwrap().is_empty()), "{n:#}");
    assert!(party(&n, "cnaf.caf-84").is_none() && party(&n, "cnaf.caf-13").is_none(), "{n:#}");
    let human = text(&rights(&stack, &["show", &none]));
    assert!(human.contains("nothing held"), "{human}");

    // Rectification: a value caf-13 received about P, flipped, reaches every holder; twice
    // changes nothing more.
    let (category, value) = holdings(&a, "cnaf.caf-13")
        .iter()
        .flat_map(|h| h["values"].as_array().unwrap().clone())
        .find_map(|v| match v["value"].as_str() {
            Some("true") => Some((v["category"].as_str().unwrap().to_owned(), "false")),
            Some("false") => Some((v["category"].as_str().unwrap().to_owned(), "true")),
            _ => None,
        })
        .unwrap_or_else(|| panic!("caf-13 holds a yes/no value about P: {a:#}"));
    let changes = stack.dir().join("changes.csv");
    std::fs::write(&changes, format!("category,value\n{category},{value}\n")).unwrap();
    let changes_arg = changes.to_str().unwrap();
    let first = open(&stack, "rectification", &p, &["--changes", changes_arg]);
    let r1 = answered(&stack, &first);
    for code in ["cnaf.caf-13", "cnaf.caf-69"] {
        let rectified = party(&r1, code).unwrap()["rectified"].as_array().unwrap().clone();
        assert!(rectified.iter().any(|r| r["category"] == category.as_str()), "{code} rectified {category}: {r1:#}");
    }
    let second = open(&stack, "rectification", &p, &["--changes", changes_arg]);
    let r2 = answered(&stack, &second);
    for p2 in r2["parties"].as_array().unwrap() {
        assert!(
            p2["rectified"].as_array().unwrap().is_empty(),
            "a second identical rectification changes nothing: {r2:#}"
        );
    }
    eprintln!("access and rectification done at {:?}", started.elapsed());

    // Opposition: refused at once with art. 6's words, nothing stored.
    let before = list(&stack).len();
    let out = rights(&stack, &["open", "--kind", "opposition", "--nir", &p, "--identity-checked-by", "agent-0007"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("article 6") && said.contains("opposition"), "{said}");
    assert_eq!(list(&stack).len(), before, "an opposition stores no request");

    // A statistics agent, a prevention agent (holding every other role too) cannot open one.
    registry_roles(&stack, &OTHER_ROLES);
    eventually("the registry without the rights officer in force", Duration::from_secs(30), || {
        rights(&stack, &["list"]).status.code() == Some(6)
    });
    let refused = rights(&stack, &["open", "--kind", "access", "--nir", &p, "--identity-checked-by", "agent-0007"]);
    assert_eq!(refused.status.code(), Some(6), "{}", text(&refused));
    assert!(text(&refused).contains("rights-officer") && !text(&refused).contains(&p), "{}", text(&refused));
    let log = support::access_entries(&data_dir(&stack, OBSERVATORY_DAEMON));
    assert!(log.iter().any(|e| e.kind.as_str() == "refused" && e.object == "api:v1.rights"), "refusal recorded");
    registry_roles(&stack, &OFFICER_ROLES);
    eventually("the rights officer back", Duration::from_secs(30), || rights(&stack, &["list"]).status.success());

    // The printable answer, printed to PDF: its sections.
    let page = stack.dir().join("answer.html");
    let out = rights(&stack, &["print", &access, "--out", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("PDF"), "says how to print it: {}", text(&out));
    assert_eq!(std::fs::metadata(&page).unwrap().permissions().mode() & 0o777, 0o600);
    if let Some(browser) = passerelle_test_support::browser::Browser::start_or_skip() {
        browser.goto(&format!("file://{}", page.display())).unwrap();
        let printed = browser.print_text().unwrap();
        for section in [
            "Qui détient des informations vous concernant",
            "Les dossiers du service social",
            "Vos droits et vos recours",
            "CNIL",
        ] {
            assert!(printed.contains(section), "the printed answer has `{section}`:\n{printed}");
        }
        // A picture of the letter, from this run, when asked (not PASSERELLE_…: the daemons would
        // take it for a setting).
        if let Some(shots) = std::env::var_os("RIGHTS_DOC_SHOTS") {
            std::fs::create_dir_all(&shots).unwrap();
            std::fs::write(Path::new(&shots).join("rights-answer-e2e.png"), browser.full_page_png().unwrap()).unwrap();
        }
    }

    // A party down past the deadline: caf-69 stopped, the observatory's clock two days ahead.
    stack.stop(CAF_69);
    let late = open(&stack, "access", &p, &[]);
    eventually("the observatories answered and caf-69 is asked", ANSWER_TIMEOUT, || {
        party(&show(&stack, &late), "cnaf.caf-69").is_some()
    });
    stack.stop(OBSERVATORY_DAEMON);
    stack.edit_settings(OBSERVATORY_DAEMON, |s| {
        s.set_development(
            Profile::Development,
            DevelopmentSettings { clock_offset_s: Some(2 * 86_400), ..Default::default() },
        )
    });
    stack.start_daemon(OBSERVATORY_DAEMON);
    let d = answered(&stack, &late);
    let silent = party(&d, "cnaf.caf-69").unwrap();
    assert!(silent["answered_at"].is_null(), "caf-69 marked unanswered: {d:#}");
    assert!(party(&d, "cnaf.caf-13").unwrap()["answered_at"].is_string(), "{d:#}");
    let late_page = stack.dir().join("late.html");
    assert!(rights(&stack, &["print", &late, "--out", late_page.to_str().unwrap()]).status.success());
    let html = std::fs::read_to_string(&late_page).unwrap();
    assert!(html.contains("pas répondu à temps"), "the letter lists the silent party");
    stack.start_daemon(CAF_69);
    eventually("caf-69's late answer recorded", ANSWER_TIMEOUT, || summary(&stack, &late)["late_answers"] == 1);
    let listed = text(&rights(&stack, &["list"]));
    assert!(listed.contains("LATE ANSWER"), "the officer is told: {listed}");
    assert_eq!(party(&show(&stack, &late), "cnaf.caf-69").unwrap()["late"], true);

    // caf-84: its rights queue got nothing; started now, it finds nothing to answer and its
    // access log has no entry about anyone nor any rights request.
    let queue = "passerelle.requester.cnaf.caf-84.rights";
    let queues = stack.queues();
    assert!(queues.contains_key(queue), "caf-84's rights queue exists: {queues:?}");
    assert_eq!(queues[queue], 0, "nothing was sent to caf-84: {queues:?}");
    stack.start_daemon(CAF_84);
    let log_84 = support::access_entries(&data_dir(&stack, CAF_84));
    assert!(log_84.iter().all(|e| !e.concerns_person && !e.object.contains("rights")), "{log_84:?}");

    // Delivered: every request purged; no NIR of them readable in the observatory's files.
    std::fs::remove_file(&page).unwrap();
    std::fs::remove_file(&late_page).unwrap();
    for id in [&access, &none, &first, &second, &late] {
        let out = rights(&stack, &["delivered", id]);
        assert!(out.status.success(), "rights delivered {id}: {}", text(&out));
        assert_eq!(summary(&stack, id)["state"], "purged");
        assert_eq!(rights(&stack, &["show", id]).status.code(), Some(2), "gone once delivered");
    }
    let observatory_dir = data_dir(&stack, OBSERVATORY_DAEMON);
    // P's own NIR too: the case in flight seals it (crypto-shredded payloads), the statistics
    // hold pseudonyms; the request's copy is gone with the request.
    let (scanned, hits) = support::scan_for(&observatory_dir, &[p.clone(), nobody.clone(), former.clone()]);
    assert!(scanned > 0 && hits.is_empty(), "NIRs of the requests left in the observatory's files: {hits:?}");
    let log = support::access_entries(&observatory_dir);
    for kind in ["access", "rectification", "opposition"] {
        assert!(
            log.iter().any(|e| e.kind.as_str() == "create" && e.object.starts_with(&format!("rights-{kind}-"))),
            "the access log keeps who opened a {kind} request and when"
        );
    }
    eprintln!("rights end to end: {:?} in all", started.elapsed());
}
