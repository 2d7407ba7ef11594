//! The social service (norm 43) after a real decree flow: a CPAM's case over RabbitMQ (the
//! observatory, `cnav`, `cnaf` and `msa` answering, the CPAM's requester daemon), then the
//! social-service daemon reading that office's contact list **at the requester** as its service
//! account, for a social worker. One person declines (nothing of them enters the social
//! service's store: its files are scanned), one does not reply, one accepts: their case file
//! holds exactly the decree values the mapping carries, and the rest stays behind. Both access
//! logs record the social worker (relayed through the service account at the requester), and
//! the person's printable access page is printed in a headless browser as they would receive it.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use passerelle_local_api::Client;
use passerelle_party::{PartyKind, PartySettings};
use passerelle_protocol::catalogue;
use passerelle_protocol::nir::Nir;
use passerelle_protocol::v1::{CategoryValues, Sex};
use passerelle_protocol::value::parse_category;
use passerelle_social_file::{file_json, open_from_decree, DecreeIdentity};
use passerelle_social_service::requester_client::{AcceptedPerson, Outcome, OutcomeAnswer, OutcomeRequest};
use serde_json::Value;
use support::stack::{
    agent_registry_in, passerelle_command, this_account, Stack, StackOptions, StackRequester, CASE_TIMEOUT,
    REQUESTER_DAEMON,
};

const PERSONS: u64 = 60;
const SOCIAL_SERVICE: &str = "social-service";
/// The social service's office, and its social worker's agent id.
const OFFICE: &str = "ss-13";
const WORKER: &str = "as-13-01";
/// The service account's agent id in the requester's registry (the stack's test agent).
const SERVICE_ACCOUNT: &str = "agent-0042";

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `passerelle social-service ARGS --config CONFIG`, which must succeed; its stdout.
fn social_service(config: &Path, args: &[&str]) -> String {
    let out = passerelle_command().arg("social-service").args(args).arg("--config").arg(config).output().unwrap();
    assert!(out.status.success(), "social-service {args:?} failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `passerelle access-log show --json` of a daemon: its entries.
fn access_log(config: &Path, daemon: &str) -> Vec<Value> {
    let out = passerelle_command()
        .args(["access-log", "show", "--json", "--daemon", daemon, "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(out.status.success(), "access-log show ({daemon}) failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every byte of the files of a folder (the store, its WAL, its keys), for a scan.
fn bytes_under(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(bytes_under(&path));
        } else {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The decree identity and values of the requester's answer, read independently of the social
/// service's own reading of it.
fn decree(person: &AcceptedPerson) -> (DecreeIdentity, CategoryValues) {
    let identity = DecreeIdentity {
        nir: Nir::parse(&person.nir).unwrap(),
        former_nirs: person.former_nirs.iter().map(|n| Nir::parse(n).unwrap()).collect(),
        family_name: person.family_name.clone(),
        usage_name: person.usage_name.clone(),
        given_names: person.given_names.clone(),
        sex: match person.sex.as_deref() {
            Some("female") => Sex::Female,
            Some("male") => Sex::Male,
            _ => Sex::Unspecified,
        },
        birth_year: person.birth_year,
        commune_code: person.commune_code.clone(),
        postal_address: person.postal_address.clone(),
        email: person.email.clone(),
        phone: person.phone.clone(),
    };
    let mut values = CategoryValues::default();
    for (code, text) in &person.values {
        let category = catalogue::by_code(code).unwrap_or_else(|| panic!("{code} is a decree category")).category;
        if let Some(value) = parse_category(category, text).unwrap() {
            values.set(category, value).unwrap();
        }
    }
    (identity, values)
}

#[test]
fn a_cpam_contact_list_is_the_social_workers_worklist_and_only_an_acceptance_opens_a_case_file() {
    let options =
        StackOptions { persons: PERSONS, chunk_size: 50, requester: StackRequester::Cpam, ..StackOptions::default() };
    let mut stack = Stack::prepare(options);
    let root = stack.dir().to_owned();
    // At the requester, the test's account is also the social service's account (one OS
    // account runs every process of the test); at the social service, a social worker, rights
    // officer and auditor of its office.
    std::fs::write(
        root.join("requester-agents.toml"),
        agent_registry_in("cpam-13", &["prevention-agent", "auditor", "social-service"]),
    )
    .unwrap();
    std::fs::write(
        root.join("social-service-agents.toml"),
        format!(
            "[[agent]]\naccount = \"{}\"\nid = \"{WORKER}\"\nname = \"Assistante Test\"\n\
             roles = [\"social-worker\", \"rights-officer\", \"auditor\", \"director-delegate\"]\noffice = \"{OFFICE}\"\n",
            this_account()
        ),
    )
    .unwrap();
    let requester_socket = stack.settings(REQUESTER_DAEMON).api_socket();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = root.join("social-service-settings.toml");
    std::fs::write(
        &config,
        format!(
            "profile = \"development\"\nbody = \"carsat-sud-est\"\noffice = \"{OFFICE}\"\ndata_dir = {:?}\n\
             metrics_addr = \"127.0.0.1:{port}\"\n[requester]\nsocket = {requester_socket:?}\noffice = \"cpam-13\"\n\
             [api]\nsocket = {:?}\n[agents]\nregistry = {:?}\n",
            root.join(SOCIAL_SERVICE),
            root.join("run").join("social-service.sock"),
            root.join("social-service-agents.toml"),
        ),
    )
    .unwrap();
    let settings = PartySettings::load(PartyKind::SocialService, &config).unwrap_or_else(|e| panic!("{e:#}"));
    stack.add_daemon(SOCIAL_SERVICE, settings);
    let config = stack.config(SOCIAL_SERVICE);
    for name in stack.daemon_names() {
        stack.start_daemon(&name);
    }

    let case = stack.submit_selection("10m");
    let settled = stack.wait_settled(&case, CASE_TIMEOUT);
    assert_eq!(settled["case"]["state"], "answered", "{settled}");
    let rows = stack.fetch(&case);
    assert_eq!(rows.len() as u64, PERSONS);

    // The worklist is the case's contact list, read at the requester, in rank order.
    let page: Value =
        serde_json::from_str(&social_service(&config, &["worklist", "--limit", "100", "--json"])).unwrap();
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len() as u64, PERSONS, "{page}");
    let ranks: Vec<u64> = entries.iter().map(|e| e["rank"].as_u64().unwrap()).collect();
    assert_eq!(ranks, (1..=PERSONS).collect::<Vec<_>>(), "rank order");
    assert!(entries.iter().all(|e| e["case"] == case.as_str() && e["outcome"].is_null()));
    let line = |i: usize| entries[i]["line"].as_u64().unwrap();
    let row_of =
        |line: u64| rows.iter().find(|r| r["line"] == line).unwrap_or_else(|| panic!("line {line} in the result"));
    let cell = |line: u64, name: &str| row_of(line)["selection"][name].as_str().unwrap().to_owned();
    // The persons' names in the worklist are the selection's.
    assert_eq!(entries[0]["family_name"], cell(line(0), "family_name"));

    // Rank 1 declines, rank 2 does not reply, rank 3 accepts.
    let (declined, silent, accepted) = (line(0), line(1), line(2));
    for (line, outcome) in [(declined, "declined"), (silent, "no-reply")] {
        let said = social_service(
            &config,
            &["offer-outcome", "--case", &case, "--line", &line.to_string(), "--outcome", outcome],
        );
        assert!(said.contains("Nothing of the person is kept"), "{said}");
    }
    let opened: Value = serde_json::from_str(&social_service(
        &config,
        &["open", "--case", &case, "--line", &accepted.to_string(), "--json"],
    ))
    .unwrap();
    let file = opened["file"].as_str().unwrap().to_owned();

    // The outcomes are the requester's, with the social worker's id.
    let page: Value =
        serde_json::from_str(&social_service(&config, &["worklist", "--limit", "100", "--json"])).unwrap();
    let outcome_of =
        |line: u64| page["entries"].as_array().unwrap().iter().find(|e| e["line"] == line).unwrap()["outcome"].clone();
    assert_eq!(outcome_of(declined)["outcome"], "declined");
    assert_eq!(outcome_of(silent)["outcome"], "no_reply");
    assert_eq!(outcome_of(accepted)["outcome"], "accepted");
    assert_eq!(outcome_of(accepted)["agent"], WORKER);
    let pending: Value =
        serde_json::from_str(&social_service(&config, &["worklist", "--pending", "--limit", "100", "--json"])).unwrap();
    assert_eq!(pending["entries"].as_array().unwrap().len() as u64, PERSONS - 3);

    // The declined and the silent person never entered the social service's store; the
    // accepted one did (the scan finds what is there).
    let store = bytes_under(&root.join(SOCIAL_SERVICE));
    for line in [declined, silent] {
        for field in ["nir", "family_name"] {
            assert!(!contains(&store, &cell(line, field)), "line {line}'s {field} is in the social service's files");
        }
    }
    assert!(contains(&store, &cell(accepted, "family_name")), "the accepted person's file is in the store");

    // The file holds exactly what the mapping carries from the requester's answer, which holds
    // the result's values for the person.
    let accepted_on = outcome_of(accepted)["date"].as_str().unwrap().to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let answer: OutcomeAnswer = runtime
        .block_on(Client::new(&requester_socket).relaying(WORKER).post_json(
            "/v1/worklist/outcome",
            &OutcomeRequest {
                case: case.parse().unwrap(),
                line: accepted,
                outcome: Outcome::Accepted,
                date: Some(accepted_on),
            },
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let person = answer.person.expect("an accepted person's record");
    let row = row_of(accepted);
    let result_values: BTreeMap<String, String> = row["categories"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, c)| !c["value"].is_null())
        .map(|(code, c)| (code.clone(), c["value"].as_str().map_or_else(|| c["value"].to_string(), str::to_owned)))
        .collect();
    assert!(!result_values.is_empty(), "the person has values in the result: {row}");
    assert_eq!(person.values, result_values, "the requester gives the result's values");
    let (expected, left_behind) = {
        let (identity, values) = decree(&person);
        open_from_decree(&identity, &values)
    };
    let shown: Value = serde_json::from_str(&social_service(&config, &["show", &file, "--json"])).unwrap();
    assert_eq!(shown["fields"], Value::Object(file_json(&expected)), "the file is the mapped values, nothing else");
    let said_behind: Vec<&str> =
        opened["left_behind"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(said_behind, left_behind);

    // Both access logs name the social worker; the requester's also the service account.
    let relayed = format!("agent:{WORKER}:via:{SERVICE_ACCOUNT}");
    let at_requester = access_log(&stack.config(REQUESTER_DAEMON), "requester");
    let kinds_by = |entries: &[Value], actor: &str| -> BTreeMap<String, usize> {
        let mut kinds = BTreeMap::new();
        for e in entries.iter().filter(|e| e["agent"] == actor) {
            *kinds.entry(e["kind"].as_str().unwrap().to_owned()).or_insert(0) += 1;
        }
        kinds
    };
    let relayed_kinds = kinds_by(&at_requester, &relayed);
    for kind in ["read", "update", "transfer"] {
        assert!(relayed_kinds.contains_key(kind), "the requester logged a {kind} by {relayed}: {relayed_kinds:?}");
    }
    let at_service = access_log(&config, SOCIAL_SERVICE);
    let worker_kinds = kinds_by(&at_service, &format!("agent:{WORKER}"));
    assert!(worker_kinds.contains_key("create") && worker_kinds.contains_key("read"), "{worker_kinds:?}");
    let logs = serde_json::to_string(&(&at_requester, &at_service)).unwrap();
    for line in [declined, silent, accepted] {
        assert!(!logs.contains(&cell(line, "nir")), "no NIR in an access log");
    }

    // The person's access page, printed as they receive it.
    let page_path = root.join("acces.html");
    social_service(&config, &["rights", "access", &file, "--page", page_path.to_str().unwrap()]);
    if let Some(browser) = passerelle_test_support::browser::Browser::start_or_skip() {
        browser.goto(&format!("file://{}", page_path.display())).unwrap();
        let printed = browser.print_text().unwrap();
        assert!(printed.contains(&cell(accepted, "family_name")), "{printed}");
        assert!(printed.contains("Droit d'accès"), "{printed}");
    }

    // The person objects and the director upholds it: the file is erased; their worklist
    // line is marked (the requester's NIR used and dropped by the daemon, never shown), and an
    // outcome for it is refused before the requester is called — nothing more recorded there.
    social_service(&config, &["rights", "object", &file, "--reason", "Ne souhaite plus être suivie."]);
    social_service(&config, &["rights", "decide", &file, "--uphold"]);
    let recorded_at_requester = || {
        let entries = access_log(&stack.config(REQUESTER_DAEMON), "requester");
        entries.iter().filter(|e| e["agent"] == relayed.as_str() && e["kind"] != "read").count()
    };
    let recorded_before = recorded_at_requester();
    let page: Value =
        serde_json::from_str(&social_service(&config, &["worklist", "--limit", "100", "--json"])).unwrap();
    let opposed: Vec<u64> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["opposed"] == true)
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(opposed, [accepted], "only the opposed person is marked");
    assert!(!page.to_string().contains(&cell(accepted, "nir")), "no NIR in the social worker's page");
    let printed = social_service(&config, &["worklist", "--limit", "100"]);
    let marked: Vec<&str> = printed.lines().filter(|l| l.contains("objection upheld — do not offer")).collect();
    assert_eq!(marked.len(), 1, "{printed}");
    assert!(marked[0].contains(&format!("line {accepted:>5}")), "{printed}");
    let out = passerelle_command()
        .arg("social-service")
        .args(["open", "--case", &case, "--line", &accepted.to_string(), "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success() && text(&out).contains("objection under art. 38 was upheld"), "{}", text(&out));
    assert_eq!(recorded_at_requester(), recorded_before, "no outcome recorded (no update, no transfer)");
    let store = bytes_under(&root.join(SOCIAL_SERVICE));
    assert!(!contains(&store, &cell(accepted, "nir")), "the opposed person's NIR is nowhere in the store");
}
