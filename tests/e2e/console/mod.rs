//! The web console (DESIGN §7.4, issue 27) end to end: a whole deployment as separate processes
//! (the stack of `support::stack`, a CPAM requesting, with a case purged and one in flight),
//! the observatory, the requester, a responder and a social-service daemon each serving its
//! console, every agent a real OS account of its own that opens its session with `passerelle
//! console open` (as the agent would), and a real headless Chromium.
//!
//! Driven by the menus, not by a list of pages: for each role of each daemon, the test opens a
//! session by its one-time URL, walks every link of the `<nav>` the layout gives that role, and
//! checks each page (HTTP 200, its `<h1>`, not an error page, its screenshot), submits the forms
//! a page offers (every GET filter form, one POST form, the logout), visits the pages of the
//! other roles' menus (403, access refused), and logs out (the home page then asks for a
//! session). So it covers whatever pages the console has. Without a browser it checks it all
//! over plain HTTP (and fails under `CI=true`, as the harness does).
//!
//! Over plain HTTP too: every route each page module declares (`ROUTES`) refuses a request
//! without a session (401), every POST route a form without its CSRF token (403), and a
//! one-time URL works once. The operator's pages, and the pages they link to, never show a NIR,
//! a name or a category value of the stack's synthetic persons (`scan`), in the HTML served nor
//! in the text the browser renders.
//!
//! `DOC_SHOTS=DIR` also writes each page's screenshot there, named
//! `console-<daemon>-<page>.png` (the stack's processes never see the variable, which they would
//! take for a setting). Synthetic data only.

mod http;
mod scan;
mod walk;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use passerelle_party::PartySettings;
use passerelle_social_service::SocialServiceSettings;
use passerelle_test_support::browser::Browser;

use crate::support::accounts::{self, Account, SharedFolder};
use crate::support::stack::{
    eventually, this_account, Stack, StackOptions, StackRequester, CASE_TIMEOUT, DOC_SHOTS, OBSERVATORY_DAEMON,
    REQUESTER_DAEMON,
};
use walk::{Console, Walker};

/// Agents of one daemon: (OS account, roles).
type Agents = &'static [(&'static str, &'static [&'static str])];

/// The account holding every role of a daemon (the CSRF checks: a refusal for its role cannot
/// hide a missing token check).
const ALL: &str = "ptest-c-all";

const OBSERVATORY_AGENTS: Agents = &[
    ("ptest-c-obs-agent", &["observatory-agent"]),
    ("ptest-c-operator", &["operator"]),
    ("ptest-c-auditor", &["auditor"]),
    ("ptest-c-stats", &["statistics-agent"]),
    ("ptest-c-rights", &["rights-officer"]),
];
const REQUESTER_AGENTS: Agents = &[("ptest-c-prevention", &["prevention-agent"]), ("ptest-c-operator", &["operator"])];
const RESPONDER_AGENTS: Agents = &[("ptest-c-operator", &["operator"]), ("ptest-c-res-admin", &["responder-admin"])];
const SOCIAL_AGENTS: Agents = &[
    ("ptest-c-worker", &["social-worker"]),
    ("ptest-c-archive", &["archive-reader"]),
    ("ptest-c-director", &["director-delegate"]),
    ("ptest-c-stats", &["statistics-agent"]),
    ("ptest-c-operator", &["operator"]),
];

/// The responder whose console is served (the stack's others serve none).
const RESPONDER: &str = "cnav";
/// The responder stopped, so that the second case stays in flight.
const SILENT: &str = "msa";
const SOCIAL_DAEMON: &str = "social-service";
const SOCIAL_OFFICE: &str = "ss-13";

/// Whether the test can run here: as root (it creates the agents' accounts and runs `console
/// open` as each), with a broker.
fn runnable() -> bool {
    if !accounts::is_root() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: the console test needs root");
        eprintln!("skipped: the console test needs root (an OS account per agent)");
        return false;
    }
    crate::support::broker_reachable_or_skip(&crate::support::amqp_url())
}

/// A registry: the test's own account with `own` roles (what the stack's commands need), then
/// `agents`, then [`ALL`] with every role of `agents` and `extra`; everyone of `office`.
fn registry(
    folder: &SharedFolder,
    name: &str,
    own: &[&str],
    agents: Agents,
    extra: &[&str],
    office: Option<&str>,
) -> PathBuf {
    let office = office.map(|o| format!("office = \"{o}\"\n")).unwrap_or_default();
    let quoted = |roles: &[&str]| roles.iter().map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(", ");
    let mut text = String::new();
    if !own.is_empty() {
        text.push_str(&format!(
            "[[agent]]\naccount = \"{}\"\nid = \"agent-0042\"\nname = \"Agent Bleu\"\nroles = [{}]\n{office}\n",
            this_account(),
            quoted(own)
        ));
    }
    let mut every: Vec<&str> = extra.to_vec();
    for (i, (account, roles)) in agents.iter().enumerate() {
        every.extend(roles.iter());
        text.push_str(&format!(
            "[[agent]]\naccount = \"{account}\"\nid = \"agent-c{i:02}\"\nname = \"Agent Console {i}\"\nroles = [{}]\n{office}\n",
            quoted(roles)
        ));
    }
    every.sort_unstable();
    every.dedup();
    text.push_str(&format!(
        "[[agent]]\naccount = \"{ALL}\"\nid = \"agent-c99\"\nname = \"Agent Console Tous\"\nroles = [{}]\n{office}\n",
        quoted(&every)
    ));
    folder.write(name, &text)
}

/// The social-service daemon's settings (office `ss-13`, reading the requester's worklist),
/// made here rather than read from a file: no `PASSERELLE_…` variable of the test's applies.
fn social_settings(stack: &Stack, folder: &SharedFolder, requester_socket: &Path, registry: &Path) -> PartySettings {
    let root = stack.dir().join(SOCIAL_DAEMON);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut settings =
        SocialServiceSettings::for_dir("carsat-sud-est", SOCIAL_OFFICE, &root, requester_socket, "cpam-13");
    settings.metrics_addr = Some(format!("127.0.0.1:{port}"));
    settings.api.socket = Some(socket(folder, SOCIAL_DAEMON));
    settings.api.console_addr = Some("127.0.0.1:0".to_owned());
    settings.agents.registry = Some(registry.to_owned());
    PartySettings::SocialService(settings)
}

fn socket(folder: &SharedFolder, daemon: &str) -> PathBuf {
    folder.path().join("run").join(format!("{daemon}.sock"))
}

#[test]
fn every_role_walks_its_menu_in_a_browser_and_the_operator_sees_no_person() {
    if !runnable() {
        return;
    }
    let started = std::time::Instant::now();
    let folder = SharedFolder::new();
    let mut accounts: BTreeMap<String, Account> = BTreeMap::new();
    for (name, _) in OBSERVATORY_AGENTS.iter().chain(REQUESTER_AGENTS).chain(RESPONDER_AGENTS).chain(SOCIAL_AGENTS) {
        accounts.insert((*name).to_owned(), accounts::ensure(name).expect("root creates the account"));
    }
    accounts.insert(ALL.to_owned(), accounts::ensure(ALL).expect("root creates the account"));

    let requester = StackRequester::Cpam;
    let mut stack = Stack::prepare(StackOptions { persons: 24, chunk_size: 12, requester, ..StackOptions::default() });
    let stack_roles = ["observatory-agent", "auditor", "operator"];
    let observatory = registry(&folder, "observatory-agents.toml", &stack_roles, OBSERVATORY_AGENTS, &[], None);
    stack.serve_console(OBSERVATORY_DAEMON, &socket(&folder, OBSERVATORY_DAEMON), &observatory);
    let own = ["prevention-agent", "auditor", "social-service"];
    let office = Some(requester.office());
    let requester_registry =
        registry(&folder, "requester-agents.toml", &own, REQUESTER_AGENTS, &["auditor", "requester-admin"], office);
    stack.serve_console(REQUESTER_DAEMON, &socket(&folder, REQUESTER_DAEMON), &requester_registry);
    let responder = registry(&folder, "responder-agents.toml", &stack_roles, RESPONDER_AGENTS, &["auditor"], None);
    stack.serve_console(RESPONDER, &socket(&folder, RESPONDER), &responder);
    let social = registry(&folder, "social-agents.toml", &[], SOCIAL_AGENTS, &["auditor"], Some(SOCIAL_OFFICE));
    let settings = social_settings(&stack, &folder, &socket(&folder, REQUESTER_DAEMON), &social);
    stack.add_daemon(SOCIAL_DAEMON, settings);
    // The observatory first (it declares the topology), then the others at once.
    stack.start_daemon(OBSERVATORY_DAEMON);
    let others: Vec<String> = stack.daemon_names().into_iter().filter(|d| d != OBSERVATORY_DAEMON).collect();
    for daemon in &others {
        stack.spawn_daemon(daemon);
    }
    for daemon in &others {
        stack.wait_healthy(daemon);
    }
    eprintln!("console: stack up in {:.1} s", started.elapsed().as_secs_f64());

    // A case answered and purged, then one in flight (a body silent, a week to answer).
    let purged = stack.submit_selection("7d");
    stack.wait_settled(&purged, CASE_TIMEOUT);
    stack.wait_purged(&purged, Duration::from_secs(60));
    stack.stop(SILENT);
    let in_flight = stack.submit_selection("7d");
    eventually("the second case sent", Duration::from_secs(60), || stack.case_state(&in_flight) == "sent");
    eprintln!("console: cases ready at {:.1} s", started.elapsed().as_secs_f64());

    let browser = Browser::start_or_skip();
    let shots = stack.dir().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let walker = Walker {
        folder: &folder,
        accounts: &accounts,
        needles: scan::Needles::of_population(&stack.population_dir()),
        browser: browser.as_ref(),
        shots,
        doc_shots: std::env::var_os(DOC_SHOTS).map(PathBuf::from),
        problems: Default::default(),
    };
    use passerelle_party::console as pages;
    let consoles = [
        Console {
            name: "observatory",
            socket: socket(&folder, OBSERVATORY_DAEMON),
            routes: [
                pages::observatory::ROUTES,
                pages::statistics::ROUTES,
                pages::rights::ROUTES,
                pages::trails::ROUTES,
            ]
            .concat(),
            agents: OBSERVATORY_AGENTS,
        },
        Console {
            name: "requester",
            socket: socket(&folder, REQUESTER_DAEMON),
            routes: [pages::requester::ROUTES, pages::trails::ROUTES].concat(),
            agents: REQUESTER_AGENTS,
        },
        Console {
            name: "responder",
            socket: socket(&folder, RESPONDER),
            routes: [pages::responder::ROUTES, pages::trails::ROUTES].concat(),
            agents: RESPONDER_AGENTS,
        },
        Console {
            name: "social-service",
            socket: socket(&folder, SOCIAL_DAEMON),
            routes: [pages::social_service::ROUTES, pages::trails::ROUTES].concat(),
            agents: SOCIAL_AGENTS,
        },
    ];
    let mut report = walk::Report::default();
    for console in &consoles {
        let at = std::time::Instant::now();
        walker.walk(console, &mut report);
        eprintln!("console: {} checked in {:.1} s", console.name, at.elapsed().as_secs_f64());
    }
    eprintln!(
        "console: {} in {:.1} s ({})",
        report,
        started.elapsed().as_secs_f64(),
        if browser.is_some() { "browser" } else { "no browser: plain HTTP only" }
    );
    walker.finish();
    for daemon in stack.daemon_names() {
        let log = stack.log(&daemon);
        assert!(!log.contains("panicked"), "{daemon} panicked:\n{}", stack.log_tails(60));
    }
}
