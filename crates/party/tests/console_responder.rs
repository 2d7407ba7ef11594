//! The responder's status page, served in-process over the real status route and a loaded
//! extract: refused without a session and to a role that may not read it; an operator sees the
//! extract's counts and no NIR; a responder-admin is told how to load the next one.

use axum::http::StatusCode;
use passerelle_access_log::{Accesses, LegalCalendar};
use passerelle_agents::Role;
use passerelle_console::Console;
use passerelle_party::console::responder;
use passerelle_party::{PartyKind, PartySettings};
use passerelle_protocol::nir;
use passerelle_selection::{Encoding, ReportFormat, ReportWriter};

mod console_support;

use console_support::get;

/// The console served, the extract's NIRs, the folder it lives in kept.
struct Served {
    console: console_support::Served,
    nirs: Vec<String>,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Served {
    type Target = console_support::Served;
    fn deref(&self) -> &console_support::Served {
        &self.console
    }
}

async fn served(role: Role) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("responder-cnaf");
    let config = dir.path().join("responder.toml");
    std::fs::write(
        &config,
        format!(
            "profile = \"development\"\nbody = \"cnaf\"\ndata_dir = {data_dir:?}\n\n[source]\nkind = \"extract\"\n"
        ),
    )
    .unwrap();
    let nirs: Vec<String> =
        (1..=3).map(|i| nir::with_key(&format!("1500175001{i:03}")).unwrap().as_str().to_owned()).collect();
    let extract = dir.path().join("extract.csv");
    std::fs::write(&extract, format!("nir,rsa\n{},oui\n{},non\n{},oui\n", nirs[0], nirs[1], nirs[2])).unwrap();
    let PartySettings::Responder(settings) = PartySettings::load_local(PartyKind::Responder, &config).unwrap() else {
        panic!("a responder's settings")
    };
    passerelle_responder::load_extract(
        &settings,
        &extract,
        Encoding::Utf8,
        &mut ReportWriter::new(ReportFormat::Human, std::io::sink()),
    )
    .unwrap();
    let accesses = Accesses::open_in(&data_dir, LegalCalendar::default()).unwrap();
    let routes = passerelle_responder::api::routes(settings, None, accesses);
    let console = Console { daemon: "Organisme cnaf".to_owned(), nav: responder::nav(), pages: responder::pages() };
    let console = console_support::serve(dir.path(), ("agent-1", "Agent", role), routes, console);
    Served { console, nirs, _dir: dir }
}

#[tokio::test]
async fn an_operator_sees_the_counts_and_no_nir() {
    let s = served(Role::Operator).await;
    for (_, path) in responder::ROUTES {
        assert_eq!(get(&s.app, path, None).await.0, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, page) = get(&s.app, "/status", Some(&s.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<dt>Personnes</dt><dd>3</dd>") && page.contains("cnaf"), "{page}");
    assert!(page.contains("Revenu de solidarité active"), "{page}");
    assert!(!page.contains("responder load"), "an operator does not load");
    for n in &s.nirs {
        assert!(!page.contains(n.as_str()), "no NIR on the page");
    }
    assert!(!passerelle_protocol::untrusted::has_nir_run(page.split("<main").nth(1).unwrap()), "{page}");
}

#[tokio::test]
async fn a_responder_admin_is_told_how_to_load_and_others_are_refused() {
    let s = served(Role::ResponderAdmin).await;
    let (status, page) = get(&s.app, "/status", Some(&s.cookie)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("responder load"), "{page}");
    let s = served(Role::Auditor).await;
    assert_eq!(get(&s.app, "/status", Some(&s.cookie)).await.0, StatusCode::FORBIDDEN);
}
