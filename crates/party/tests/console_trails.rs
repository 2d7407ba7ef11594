//! The access-log console pages, served in-process over the real trail routes and access log (no
//! witness named): every route refuses without a session; an auditor reads the year's entries —
//! a person only as held, never its hash — and the verification report; another role is refused.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use passerelle_access_log::{agent_actor, AccessEntry, AccessKind, Accesses};
use passerelle_agents::Role;
use passerelle_bus::{BusSettings, InProcessBus};
use passerelle_console::Console;
use passerelle_party::api::trails::{routes, TrailsApi};
use passerelle_party::console::trails;
use passerelle_protocol::calendar::LegalCalendar;
use passerelle_protocol::nir::Nir;
use passerelle_protocol::rules::SystemClock;
use passerelle_trails::{AccessLogTrail, Checkpointer};

mod console_support;

use console_support::get;

/// The console served, its access log, the folder it lives in kept.
struct Served {
    console: console_support::Served,
    accesses: Accesses,
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
    let calendar = LegalCalendar::default();
    let accesses = Accesses::open_in(dir.path(), calendar).unwrap();
    let nir = Nir::parse("150051305500140").unwrap();
    let about = AccessEntry::new(SystemTime::now(), agent_actor("officer-1"), AccessKind::Read, "rights-access-x")
        .about(accesses.person(&nir));
    accesses.record(&about).unwrap();
    let key = passerelle_witness::load_or_create_signing_key(&dir.path().join("checkpoint.key")).unwrap();
    let bus = InProcessBus::new(&BusSettings::default());
    let trail = Arc::new(AccessLogTrail::new(accesses.clone(), "observatory"));
    let checkpointer = Checkpointer::new(
        "carsat-auvergne",
        None,
        key,
        vec![trail],
        Arc::new(bus.connect_as("carsat-auvergne")),
        Arc::new(SystemClock),
        calendar,
    );
    let api = TrailsApi {
        accesses: accesses.clone(),
        checkpointer: Arc::new(checkpointer),
        timeout: Duration::from_secs(1),
        audit: None,
        clock: Arc::new(SystemClock),
    };
    let console = Console { daemon: "Observatoire test".to_owned(), nav: trails::nav(true), pages: trails::pages() };
    let console = console_support::serve(dir.path(), ("auditor-1", "Auditrice", role), routes(api), console);
    Served { console, accesses, _dir: dir }
}

/// A run of 32 hexadecimal digits or more: what a keyed hash looks like.
fn has_hash_run(text: &str) -> bool {
    let mut run = 0;
    text.chars().any(|c| {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        run >= 32
    })
}

#[tokio::test]
async fn an_auditor_reads_the_entries_without_a_person_hash_and_the_report() {
    let s = served(Role::Auditor).await;
    for (method, path) in trails::ROUTES {
        assert_eq!(*method, "GET");
        assert_eq!(get(&s.app, path, None).await.0, StatusCode::UNAUTHORIZED, "{path}");
    }
    let cookie = Some(s.cookie.as_str());
    let (status, page) = get(&s.app, "/access-log", cookie).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("rights-access-x") && page.contains("empreinte conservée"), "{page}");
    // The page's own content (the header's logout form carries the session's hex token).
    let main = page.split("<main").nth(1).unwrap();
    assert!(!has_hash_run(main), "{main}");
    let log = s.accesses.log();
    let stored = log.entries(log.years().unwrap()[0], 1, 10).unwrap();
    assert!(stored[0].person.is_some(), "the log holds the person's hash, which the page does not show");

    let (status, page) = get(&s.app, "/access-log?year=&from=2&limit=", cookie).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("access-log"), "the first page's own read is the second entry: {page}");
    assert_eq!(get(&s.app, "/access-log?from=x", cookie).await.0, StatusCode::BAD_REQUEST);

    let (status, page) = get(&s.app, "/access-log/verify", cookie).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("intact") && page.contains("(aucun)"), "{page}");
}

#[tokio::test]
async fn another_role_is_refused() {
    let s = served(Role::Operator).await;
    for (_, path) in trails::ROUTES {
        assert_eq!(get(&s.app, path, Some(&s.cookie)).await.0, StatusCode::FORBIDDEN, "{path}");
    }
}
