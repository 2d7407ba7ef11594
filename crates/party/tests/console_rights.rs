//! The rights officer's console pages, served in-process over the real rights API and desk (no
//! broker: the parties are never asked): every route refuses without a session (401) and every
//! POST without its token (403); a request opened by the form, followed, printed under a policy
//! that allows exactly the letter's stylesheet, and marked delivered; an opposition answered at
//! once with art. 6's refusal; any other role refused every page.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::Response;
use passerelle_access_log::Accesses;
use passerelle_agents::Role;
use passerelle_console::Console;
use passerelle_party::console::rights;
use passerelle_protocol::calendar::LegalCalendar;
use passerelle_protocol::rules::SystemClock;
use passerelle_rights::{RightsDesk, RightsSettings};

const NIR: &str = "150051305500140";

mod console_support;

use console_support::call;

/// The console served, the folder it lives in kept.
struct Served {
    console: console_support::Served,
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
    let desk =
        RightsDesk::open(&dir.path().join("rights"), "carsat-auvergne", &[], &RightsSettings::default()).unwrap();
    let accesses = Accesses::open_in(dir.path(), LegalCalendar::default()).unwrap();
    let routes = passerelle_party::api::rights::routes(desk, accesses, Arc::new(SystemClock));
    let console = Console { daemon: "Observatoire test".to_owned(), nav: rights::nav(), pages: rights::pages() };
    let console = console_support::serve(dir.path(), ("officer-1", "Agente <Test>", role), routes, console);
    Served { console, _dir: dir }
}

async fn text(response: Response) -> String {
    String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap()
}

#[tokio::test]
async fn every_route_refuses_without_a_session_and_every_post_without_its_token() {
    let s = served(Role::RightsOfficer).await;
    for (method, path) in rights::ROUTES {
        let response = call(&s.app, method, path, None, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        if *method == "POST" {
            let response = call(&s.app, method, path, Some(&s.cookie), Some("kind=access")).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
        }
    }
}

#[tokio::test]
async fn a_request_is_opened_followed_printed_and_delivered() {
    let s = served(Role::RightsOfficer).await;
    let (app, cookie, csrf) = (&s.app, Some(s.cookie.as_str()), &s.csrf);
    let list = call(app, "GET", "/rights", cookie, None).await;
    assert_eq!(list.status(), StatusCode::OK);
    assert!(text(list).await.contains("Aucune demande."));
    assert_eq!(call(app, "GET", "/rights/new", cookie, None).await.status(), StatusCode::OK);

    // A mistake comes back as the form, filled, with the reason.
    let form = format!("csrf={csrf}&kind=rectification&nir={NIR}&changes=css%2Cmaybe&identity_checked_by=agent-7");
    let again = call(app, "POST", "/rights/new", cookie, Some(&form)).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let again = text(again).await;
    assert!(again.contains("ligne 1 (css)") && again.contains(&format!(r#"value="{NIR}""#)), "{again}");

    let form = format!("csrf={csrf}&kind=access&nir={NIR}&former_nirs=&changes=&identity_checked_by=agent-7");
    let opened = call(app, "POST", "/rights/new", cookie, Some(&form)).await;
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    let at = opened.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let id = at.strip_prefix("/rights/").unwrap().to_owned();

    let list = text(call(app, "GET", "/rights", cookie, None).await).await;
    assert!(list.contains(&format!(r#"href="/rights/{id}""#)) && !list.contains(NIR), "{list}");

    let shown = call(app, "GET", &at, cookie, None).await;
    assert_eq!(shown.status(), StatusCode::OK);
    let shown = text(shown).await;
    assert!(shown.contains(NIR) && shown.contains(&format!(r#"href="/rights/{id}/print""#)), "{shown}");

    let letter = call(app, "GET", &format!("/rights/{id}/print"), cookie, None).await;
    assert_eq!(letter.status(), StatusCode::OK);
    let policy = letter.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert_eq!(letter.headers()[header::CACHE_CONTROL], "no-store");
    let letter = text(letter).await;
    let style = letter.split("<style>").nth(1).and_then(|rest| rest.split("</style>").next()).unwrap();
    let own = passerelle_console::inline_style_csp(style);
    assert_eq!(policy, own.to_str().unwrap(), "the policy allows exactly the letter's stylesheet");
    assert!(policy.starts_with("default-src 'none';") && !policy.contains("unsafe"), "{policy}");
    assert!(letter.contains(NIR));

    let delivered =
        call(app, "POST", &format!("/rights/{id}/delivered"), cookie, Some(&format!("csrf={csrf}&anyway=true"))).await;
    assert_eq!(delivered.status(), StatusCode::SEE_OTHER);
    let back = delivered.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(back, format!("/rights?remise={id}"));
    assert!(text(call(app, "GET", &back, cookie, None).await).await.contains("enregistrée remise"));
    assert_eq!(call(app, "GET", &at, cookie, None).await.status(), StatusCode::NOT_FOUND, "purged");
}

#[tokio::test]
async fn an_opposition_is_answered_at_once_with_the_refusal() {
    let s = served(Role::RightsOfficer).await;
    let form = format!("csrf={}&kind=opposition&nir=&identity_checked_by=", s.csrf);
    let answered = call(&s.app, "POST", "/rights/new", Some(&s.cookie), Some(&form)).await;
    assert_eq!(answered.status(), StatusCode::OK);
    let page = text(answered).await;
    assert!(page.contains("rights-opposition-"), "{page}");
    assert!(page.contains(&passerelle_rights::printable::escape(passerelle_rights::OPPOSITION_REFUSED)), "{page}");
}

#[tokio::test]
async fn another_role_is_refused_every_page() {
    let s = served(Role::Operator).await;
    for path in ["/rights", "/rights/new", "/rights/0190b6a2-5c3e-7d41-9a8f-3b2c1d0e4f51"] {
        let refused = call(&s.app, "GET", path, Some(&s.cookie), None).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let form = format!("csrf={}&kind=access&nir={NIR}&identity_checked_by=agent-7", s.csrf);
    let refused = call(&s.app, "POST", "/rights/new", Some(&s.cookie), Some(&form)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(!text(refused).await.contains(NIR));
}
