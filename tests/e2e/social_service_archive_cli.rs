//! `passerelle social-service archive …` as real processes: the daemon (`social-service run`)
//! with one file in its archive (put there by the test, as the retention pass will), and the
//! test's account as three agents in turn — one holding both signing roles, a médecin-conseil,
//! then an archive reader — the registry reloaded by SIGHUP. Exit codes 0, 2 and 6, the help,
//! the outputs' formats.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, SystemTime};

use passerelle_party::process::SpawnedParty;
use passerelle_social_archive::{Archive, ArchivedFile};
use passerelle_social_file::v1;
use passerelle_test_support::eventually_blocking;
use serde_json::Value;

use crate::social_daemon::{self, said};

const FILE: &str = "0190a3b4-0000-7000-8000-0000000000d1";
const WAIT: Duration = Duration::from_secs(60);

fn write_registry(root: &Path, id: &str, roles: &[&str]) {
    social_daemon::write_registry(root, id, roles, None);
}

fn hang_up(daemon: &SpawnedParty) {
    let pid = rustix::process::Pid::from_raw(daemon.pid().expect("running") as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
}

fn archive(config: &Path, args: &[&str]) -> Output {
    social_daemon::command(config, "archive", args)
}

/// A synthetic file in the archive the daemon uses.
fn admit(archive_dir: &Path) {
    let now = SystemTime::now();
    let identity = v1::SocialIdentity {
        nir: Some(passerelle_test_support::nir_with_key("2840575123481")),
        family_name: Some("Archivista".into()),
        ..Default::default()
    };
    let file = ArchivedFile {
        id: FILE.into(),
        office: "ss-13".into(),
        opened_at: now - Duration::from_secs(900 * 86_400),
        retention_start: v1::Date { year: 2025, month: 6, day: 30 },
        file: v1::SocialFile { identity: Some(identity), ..Default::default() },
        actions: Vec::new(),
        person: [3; 32],
    };
    let archive = Archive::open(archive_dir).unwrap();
    assert!(archive.admit(&file, now, now + Duration::from_secs(1095 * 86_400)).unwrap());
}

#[test]
fn a_grant_co_signed_through_the_cli_lets_the_reader_read_for_a_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_registry(root, "both-1", &["director-delegate", "medical-officer"]);
    let (config, mut daemon) = social_daemon::start(root, &root.join("run").join("requester.sock"));
    admit(&root.join("archive"));

    let (code, help, _) = said(&archive(&config, &["--help"]));
    assert_eq!(code, 0);
    assert!(help.contains("two different") && help.contains("recours contre tiers"), "the help teaches: {help}");

    let (code, _, err) = said(&archive(&config, &["grant", "--reader", "ar-7"]));
    assert_eq!(code, 2, "holding both roles, the agent says which: {err}");
    assert!(err.contains("say which you sign as"), "{err}");
    let (code, out, err) =
        said(&archive(&config, &["grant", "--reader", "ar-7", "--as", "director-delegate", "--json"]));
    assert_eq!(code, 0, "{err}");
    let grant: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(grant["format"], "passerelle.social-service-archive-grant/1");
    assert_eq!(grant["state"], "awaiting-medical-officer");
    let id = grant["grant"].as_str().unwrap().to_owned();
    let (code, _, err) = said(&archive(&config, &["sign", &id, "--as", "medical-officer"]));
    assert_eq!(code, 2, "the same agent does not sign twice: {err}");
    assert!(err.contains("another agent's"), "{err}");
    let (code, out, _) = said(&archive(&config, &["grants"]));
    assert_eq!(code, 0);
    assert!(out.contains(&id) && out.contains("awaiting-medical-officer"), "{out}");
    let (code, _, err) = said(&archive(&config, &["list", "--purpose", "steering"]));
    assert_eq!(code, 6, "not an archive reader: {err}");

    // Another agent, a médecin-conseil, gives the second signature.
    write_registry(root, "med-1", &["medical-officer"]);
    hang_up(&daemon);
    let signed = eventually_blocking("med-1's registry in force", WAIT, || {
        let o = archive(&config, &["sign", &id, "--json"]);
        (o.status.code() == Some(0)).then_some(o)
    });
    let signed: Value = serde_json::from_slice(&signed.stdout).unwrap();
    assert_eq!((signed["state"].as_str(), signed["medical_officer"]["agent"].as_str()), (Some("valid"), Some("med-1")));

    // The reader reads, naming a purpose.
    write_registry(root, "ar-7", &["archive-reader"]);
    hang_up(&daemon);
    let page = eventually_blocking("ar-7's registry in force", WAIT, || {
        let o = archive(&config, &["list", "--purpose", "steering", "--json"]);
        (o.status.code() == Some(0)).then_some(o)
    });
    let page: Value = serde_json::from_slice(&page.stdout).unwrap();
    assert_eq!(page["format"], "passerelle.social-service-archive-files/1");
    assert_eq!(page["files"][0]["file"], FILE);
    let (code, out, err) = said(&archive(&config, &["show", FILE, "--purpose", "litigation", "--json"]));
    assert_eq!(code, 0, "{err}");
    let view: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(view["format"], "passerelle.social-service-archive-file/1");
    assert_eq!(
        (view["purpose"].as_str(), view["fields"]["identity.family_name"].as_str()),
        (Some("litigation"), Some("Archivista"))
    );
    let (code, out, err) = said(&archive(&config, &["show", FILE, "--purpose", "fraud"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("lutte contre la fraude") && out.contains("identity.family_name"), "{out}");
    let (code, _, err) = said(&archive(&config, &["show", FILE, "--purpose", "curiosity"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a purpose of the norm's list") && err.contains("medical-service"), "{err}");
    let (code, _, err) = said(&archive(&config, &["show", FILE]));
    assert_eq!(code, 2, "the purpose is required: {err}");

    daemon.stop(Duration::from_secs(30)).unwrap();
}
