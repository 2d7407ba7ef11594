//! Role × call, as agents use the product: each command runs under its own OS account (a uid the
//! agent registry maps by name), against real daemons' local APIs on their real Unix sockets.
//! A call is allowed where DESIGN §7.1 says, refused (exit 6) everywhere else, and the
//! observatory records each refusal in its audit trail. No environment variable or settings key
//! can make a command speak for another agent.
//!
//! The daemons are served in this process (root) over their stores, which no agent account can
//! open: every read and write goes through the daemon.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;

use passerelle_party::PartyKind;

use crate::support::accounts::{self, Account, SharedFolder};
use crate::support::{serve_observatory, serve_party};

/// The agents of the test: account → (roles, office).
const AGENTS: [(&str, &[&str], &str); 8] = [
    ("ptest-obs-agent", &["observatory-agent"], ""),
    ("ptest-stats", &["statistics-agent"], ""),
    ("ptest-operator", &["operator"], ""),
    ("ptest-auditor", &["auditor"], ""),
    ("ptest-prev-13", &["prevention-agent"], "caf-13"),
    ("ptest-prev-84", &["prevention-agent"], "caf-84"),
    ("ptest-req-admin", &["requester-admin"], ""),
    ("ptest-res-admin", &["responder-admin"], ""),
];

/// A case no store has: an allowed `requester person` gets past the role check to "no case".
const UNKNOWN_CASE: &str = "0190b6a2-7c1e-7f00-8000-000000000001";

/// An account the registry does not know.
const STRANGER: &str = "ptest-stranger";

/// Whether the role × call tests can run here: as root (accounts are created and switched to).
fn runnable() -> bool {
    if accounts::is_root() {
        return true;
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: the role × call tests need root");
    eprintln!("skipped: the role × call tests need root (accounts are created and switched to)");
    false
}

fn registry(folder: &SharedFolder) -> PathBuf {
    let mut text = String::new();
    for (i, (account, roles, office)) in AGENTS.iter().enumerate() {
        let roles = roles.iter().map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(", ");
        text.push_str(&format!(
            "[[agent]]\naccount = \"{account}\"\nid = \"agent-{i:04}\"\nname = \"Agent {i}\"\nroles = [{roles}]\n"
        ));
        if !office.is_empty() {
            text.push_str(&format!("office = \"{office}\"\n"));
        }
        text.push('\n');
    }
    folder.write("agents.toml", &text)
}

/// A party's settings in the shared folder: its `data_dir` there (0700, the daemon's), its
/// socket in `run/`, the shared registry; `head` (top-level keys) and `tail` (tables) its own.
fn settings(folder: &SharedFolder, name: &str, head: &str, tail: &str) -> PathBuf {
    let dir = folder.path();
    let data = dir.join(format!("{name}-data"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    folder.write(
        &format!("{name}.toml"),
        &format!(
            "{head}data_dir = \"{data}\"\n[broker]\nurls = [\"amqp://127.0.0.1:1/%2f\"]\nobservatories = [\"carsat-sud-est\"]\n\
             [api]\nsocket = \"{socket}\"\n[agents]\nregistry = \"{registry}\"\n{tail}",
            data = data.display(),
            socket = dir.join("run").join(format!("{name}.sock")).display(),
            registry = dir.join("agents.toml").display(),
        ),
    )
}

fn synthetic_nir(i: u32) -> String {
    passerelle_protocol::nir::with_key(&format!("2500175123{i:03}")).unwrap().as_str().to_owned()
}

fn text(o: &Output) -> String {
    format!("exit {:?}\n{}{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn every_call_is_allowed_for_its_roles_only_and_every_refusal_is_recorded() {
    if !runnable() {
        return;
    }
    let folder = SharedFolder::new();
    registry(&folder);
    let observatory = settings(&folder, "observatory", "code = \"carsat-sud-est\"\n", "");
    let out = folder.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o700)).unwrap();
    let requester = settings(
        &folder,
        "requester",
        &format!("body = \"cnaf\"\noffice = \"caf-13\"\nout_dir = \"{}\"\n", out.display()),
        "",
    );
    let responder = settings(&folder, "responder", "body = \"cnaf\"\n", "[source]\nkind = \"extract\"\n");
    let extract =
        folder.write("extract.csv", &format!("nir,rsa\n{},oui\n{},non\n", synthetic_nir(1), synthetic_nir(2)));
    let first = crate::support::passerelle()
        .args(["responder", "load", "--without-daemon", "--config"])
        .arg(&responder)
        .arg(&extract)
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));

    let _observatory = serve_observatory(&observatory);
    let _requester = serve_party(PartyKind::Requester, &requester);
    let _responder = serve_party(PartyKind::Responder, &responder);
    let run = folder.path().join("run");
    let socket = |name: &str| run.join(format!("{name}.sock")).display().to_string();
    let (obs, req, res) = (socket("observatory"), socket("requester"), socket("responder"));
    let observatory_config = observatory.display().to_string();
    let extract = extract.display().to_string();

    let person_nir = synthetic_nir(1);
    // The table as DESIGN §7.1 gives it: each call and the accounts allowed to make it.
    let calls: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        ("audit show", vec!["audit", "show", "--socket", &obs], vec!["ptest-obs-agent", "ptest-auditor"]),
        ("audit verify", vec!["audit", "verify", "--socket", &obs], vec!["ptest-obs-agent", "ptest-auditor"]),
        (
            "ctl status",
            vec!["ctl", "status", "--no-management", "--socket", &obs, "--config", &observatory_config],
            vec!["ptest-operator", "ptest-obs-agent"],
        ),
        ("stats", vec!["stats", "--socket", &obs], vec!["ptest-stats"]),
        ("requester status", vec!["requester", "status", "--socket", &req], vec!["ptest-prev-13"]),
        (
            "requester person",
            vec!["requester", "person", "--socket", &req, "--case", UNKNOWN_CASE, "--nir", &person_nir],
            vec!["ptest-prev-13"],
        ),
        ("requester purge", vec!["requester", "purge", "--socket", &req], vec!["ptest-req-admin"]),
        ("responder load", vec!["responder", "load", "--socket", &res, &extract], vec!["ptest-res-admin"]),
    ];
    let mut accounts: Vec<Account> =
        AGENTS.iter().map(|(name, ..)| accounts::ensure(name).expect("root creates the account")).collect();
    accounts.push(accounts::ensure(STRANGER).expect("root creates the account"));

    let mut table: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut wrong = Vec::new();
    let mut refused_at_observatory = 0;
    for (call, args, allowed) in &calls {
        for account in &accounts {
            let o = folder.run_as(account, args);
            let expected_allowed = allowed.contains(&account.name.as_str());
            let got = o.status.code();
            let ok = if expected_allowed {
                // A person lookup in a case this store does not have: let through, then not found.
                got == Some(0) || (*call == "requester person" && got == Some(2))
            } else {
                let err = String::from_utf8_lossy(&o.stderr);
                got == Some(6)
                    && if account.name == STRANGER {
                        err.contains("not an authorised agent")
                    } else {
                        err.contains(" needs ") || err.contains("office")
                    }
            };
            if !ok {
                wrong.push(format!(
                    "{call} as {}: expected {}; {}",
                    account.name,
                    if expected_allowed { "allowed" } else { "refused (6)" },
                    text(&o)
                ));
            }
            if !expected_allowed && args[0] != "requester" && args[0] != "responder" {
                refused_at_observatory += 1;
            }
            table.entry(call).or_default().push(format!(
                "{}={}",
                account.name,
                match got {
                    Some(0) => "ok".to_owned(),
                    Some(6) => "refused".to_owned(),
                    other => format!("exit-{}", other.unwrap_or(-1)),
                }
            ));
        }
    }
    assert!(wrong.is_empty(), "{} calls went the wrong way:\n{}", wrong.len(), wrong.join("\n"));
    for (call, row) in &table {
        eprintln!("roles: {call}: {}", row.join(" "));
    }

    // The observatory recorded every refusal of its calls in its access log, naming the agent or
    // the account.
    drop(_observatory);
    let refusals: Vec<_> = crate::support::access_entries(&folder.path().join("observatory-data"))
        .into_iter()
        .filter(|e| e.kind.as_str() == "refused")
        .collect();
    assert_eq!(refusals.len(), refused_at_observatory, "one `refused` entry per refused call");
    assert!(refusals.iter().any(|e| e.agent == format!("os-user:{STRANGER}")), "the stranger is named by account");
    assert!(refusals.iter().any(|e| e.agent.starts_with("agent:agent-")), "an agent is named by id");
    // No agent account can open a store: the daemon's folder is its own.
    let stranger = &accounts[accounts.len() - 1];
    let o = folder.run_as(stranger, &["audit", "show", "--socket", &obs]);
    assert_eq!(o.status.code(), Some(4), "the observatory stopped: {}", text(&o));
    let data = folder.path().join("observatory-data");
    assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
}

#[test]
fn no_environment_or_setting_makes_a_command_speak_for_another_agent() {
    if !runnable() {
        return;
    }
    let folder = SharedFolder::new();
    registry(&folder);
    let observatory = settings(&folder, "observatory", "code = \"carsat-sud-est\"\n", "");
    let _observatory = serve_observatory(&observatory);
    let obs = folder.path().join("run").join("observatory.sock").display().to_string();
    let stranger = accounts::ensure(STRANGER).expect("root creates the account");
    let auditor = accounts::ensure("ptest-auditor").expect("root creates the account");
    // The auditor may read the trail; the stranger, whatever its environment says, may not.
    assert_eq!(folder.run_as(&auditor, &["audit", "show", "--socket", &obs]).status.code(), Some(0));
    let claims = [
        ("USER", "ptest-auditor"),
        ("LOGNAME", "ptest-auditor"),
        ("USERNAME", "ptest-auditor"),
        ("SUDO_USER", "ptest-auditor"),
        ("PASSERELLE_AGENT", "agent-0003"),
        ("PASSERELLE_AGENT_ID", "agent-0003"),
    ];
    let o = folder.run_as_with(&stranger, &["audit", "show", "--socket", &obs], &claims);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an authorised agent"), "{}", text(&o));
    // The settings key that once named the CLI's actor is no setting at all.
    let claimed = folder.write(
        "claimed.toml",
        &format!(
            "{}agent_id = \"agent-0003\"\n",
            std::fs::read_to_string(&observatory).unwrap().split_once("[broker]").map(|(head, _)| head).unwrap()
        ),
    );
    let o = folder.run_as(&stranger, &["audit", "show", "--config", claimed.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("agent_id"), "{}", text(&o));
}
