//! `passerelle social-service …` as real processes: the daemon (`social-service run`, no broker)
//! and its commands, against a fake requester daemon served by the test (its two worklist
//! routes, canned synthetic persons). The test's account is a social worker, rights officer
//! and auditor of office ss-13 in the daemon's registry, and the `social-service` service
//! account of office cpam-13 in the fake requester's. Exit codes 0, 2 and the outputs'
//! formats; the printable page written 0600.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Query;
use axum::routing::{get, post};
use axum::{Json, Router};
use passerelle_agents::{Agent, Registry, Role};
use passerelle_local_api::{ApiError, ApiServer, Caller, KeptAccesses, RegistryHandle};
use passerelle_social_service::requester_client::*;
use serde_json::Value;

use crate::social_daemon::{self, me};

const CASE: &str = "0190a3b4-0000-7000-8000-0000000000c1";

fn nir() -> String {
    passerelle_test_support::nir_with_key("1840575123456")
}

fn fake_requester() -> Router {
    Router::new()
        .route(
            "/v1/worklist",
            get(|caller: Caller, Query(q): Query<WorklistQuery>| async move {
                caller.require_in_office(Role::SocialService, "cpam-13")?;
                let entry = |line: u64, name: &str| WorklistEntry {
                    case: CASE.parse().unwrap(),
                    line,
                    rank: line,
                    persons: 2,
                    score: 3.0,
                    family_name: name.into(),
                    usage_name: None,
                    given_names: "Alix".into(),
                    birth_year: Some(1950),
                    phone: None,
                    email: None,
                    postal_address: None,
                    outcome: None,
                    nir: (line == 1).then(nir),
                    opposed: false,
                };
                // One person a page; the cursor is the requester's `<case>:<rank>`.
                let (entries, next) = match q.after.as_deref() {
                    None => (vec![entry(1, "Clitesta")], Some(format!("{CASE}:1"))),
                    Some(after) if after == format!("{CASE}:1") => (vec![entry(2, "Refusanta")], None),
                    Some(_) => return Err(ApiError::bad_request("not a cursor of this worklist")),
                };
                Ok::<_, ApiError>(Json(Worklist {
                    format: WORKLIST_FORMAT.into(),
                    office: "cpam-13".into(),
                    entries,
                    next,
                }))
            }),
        )
        .route(
            "/v1/worklist/outcome",
            post(|caller: Caller, Json(r): Json<OutcomeRequest>| async move {
                caller.require_in_office(Role::SocialService, "cpam-13")?;
                let agent = caller.relayed_agent()?.unwrap_or("none").to_owned();
                let person = (r.outcome == Outcome::Accepted).then(|| AcceptedPerson {
                    nir: nir(),
                    former_nirs: vec![],
                    family_name: "Clitesta".into(),
                    usage_name: None,
                    given_names: "Alix".into(),
                    sex: Some("female".into()),
                    birth_year: Some(1950),
                    commune_code: Some("13055".into()),
                    postal_address: None,
                    email: None,
                    phone: None,
                    values: BTreeMap::from([("quarters_contributed".to_owned(), "150".to_owned())]),
                });
                let date = r.date.ok_or_else(|| ApiError::bad_request("an outcome is dated"))?;
                Ok::<_, ApiError>(Json(OutcomeAnswer {
                    format: OUTCOME_FORMAT.into(),
                    office: "cpam-13".into(),
                    case: r.case,
                    line: r.line,
                    outcome: r.outcome,
                    date,
                    agent,
                    person,
                }))
            }),
        )
}

async fn passerelle(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_passerelle"))
        .arg("social-service")
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("PASSERELLE_LOG_FORMAT")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_social_worker_opens_follows_and_a_rights_officer_prints_a_case_file_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let requester_socket = root.join("run").join("requester.sock");
    let registry = Registry::from_agents([Agent {
        account: me(),
        id: "svc-social".into(),
        name: "Service social".into(),
        roles: BTreeSet::from([Role::SocialService]),
        office: Some("cpam-13".into()),
    }]);
    let requester = ApiServer::start(
        &requester_socket,
        fake_requester(),
        RegistryHandle::fixed(registry),
        Arc::new(KeptAccesses::default()),
    )
    .unwrap();
    std::fs::write(
        root.join("agents.toml"),
        format!(
            "[[agent]]\naccount = \"{}\"\nid = \"sw-1\"\nname = \"Agent Test\"\n\
             roles = [\"social-worker\", \"rights-officer\", \"auditor\"]\noffice = \"ss-13\"\n",
            me()
        ),
    )
    .unwrap();
    let (config, mut daemon) = social_daemon::start(root, &requester_socket);

    let (code, out, err) = passerelle(&config, &["worklist", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let page: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(page["format"], "passerelle.social-service-worklist/1");
    assert_eq!(page["entries"].as_array().unwrap().len(), 1);
    let next = page["next"].as_str().expect("a next page").to_owned();
    assert_eq!(next, format!("{CASE}:1"));
    let (code, out, err) = passerelle(&config, &["worklist", "--after", &next, "--json"]).await;
    assert_eq!(code, 0, "the second page, after the requester's cursor: {err}");
    let page: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(page["entries"][0]["family_name"], "Refusanta");
    assert!(page["next"].is_null(), "{page}");

    let (code, out, err) =
        passerelle(&config, &["offer-outcome", "--case", CASE, "--line", "2", "--outcome", "declined"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Nothing of the person is kept"), "{out}");

    let (code, out, err) = passerelle(&config, &["open", "--case", CASE, "--line", "1", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let opened: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(opened["format"], "passerelle.social-service-outcome/1");
    assert!(opened["left_behind"].as_array().unwrap().contains(&Value::from("quarters_contributed")));
    let file = opened["file"].as_str().unwrap().to_owned();

    let (code, _, err) = passerelle(&config, &["update", &file, "--set", "identity.religion=\"none\""]).await;
    assert_eq!(code, 2, "an unknown field is a usage error");
    assert!(err.contains("`identity.religion`"), "{err}");
    let (code, out, err) = passerelle(&config, &["update", &file, "--set", "care.gir_level=4"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("care.gir_level"), "{out}");
    let (code, _, err) = passerelle(&config, &["contact", &file, "--channel", "visit", "--date", "2026-12-02"]).await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = passerelle(&config, &["offer", &file, "--kind", "individual", "--theme", "home_help"]).await;
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = passerelle(&config, &["show", &file, "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["fields"]["care.gir_level"], 4);
    assert_eq!(shown["actions"][0]["contacts"][0]["channel"], "visit");
    assert_eq!(shown["offers"][0]["theme"], "home_help");

    let page_path = root.join("access.html");
    let (code, _, err) = passerelle(&config, &["rights", "access", &file, "--page", page_path.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(&page_path).unwrap();
    assert!(html.contains("Droit d'accès") && html.contains("Clitesta") && html.contains("Niveau GIR"));
    assert!(html.contains("aide à domicile") && !html.contains("home_help"), "the offer's theme in French: {html}");
    assert_eq!(std::fs::metadata(&page_path).unwrap().permissions().mode() & 0o777, 0o600);

    let (code, out, err) = passerelle(&config, &["list", "--state", "open", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["files"].as_array().unwrap().len(), 1, "the declined person has no file");

    daemon.stop(Duration::from_secs(30)).unwrap();
    requester.stop().await;
}
