//! A page as the browser gets it: the layout (the daemon's name, the pages the agent's roles
//! open, who is signed in, the logout form), the page's own HTML, and the error pages (no
//! session, a refusal, a bad form, a failure) said in French.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use passerelle_agents::{Agent, Role};
use passerelle_local_api::ErrorBody;

use crate::html::text;

/// The stylesheet every page links (`/console.css`).
pub const STYLESHEET: &str = include_str!("../assets/console.css");

/// A page of the console's menu: shown to an agent holding one of `roles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NavLink {
    pub href: &'static str,
    /// The menu's label (French).
    pub label: &'static str,
    /// What the page is for, said on the home page (French).
    pub about: &'static str,
    pub roles: &'static [Role],
}

impl NavLink {
    /// Whether `agent` sees this link.
    pub fn open_to(&self, agent: &Agent) -> bool {
        self.roles.iter().any(|r| agent.has(*r))
    }
}

/// A rendered page (status 200 unless [`Page::with_status`]).
#[derive(Debug, Clone)]
pub struct Page {
    status: StatusCode,
    html: String,
}

impl Page {
    /// A whole document already laid out (what `Session::page` and the error pages make).
    pub(crate) fn document(status: StatusCode, html: String) -> Page {
        Page { status, html }
    }

    pub fn with_status(mut self, status: StatusCode) -> Page {
        self.status = status;
        self
    }

    /// The HTML served.
    pub fn html(&self) -> &str {
        &self.html
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.html).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        response
    }
}

/// What the layout needs of the session.
pub(crate) struct Frame<'a> {
    pub daemon: &'a str,
    pub nav: &'a [NavLink],
    pub agent: &'a Agent,
    pub csrf: &'a str,
    pub path: &'a str,
}

/// The whole document of a page seen in a session.
pub(crate) fn laid_out(frame: &Frame<'_>, title: &str, body: &str) -> String {
    let mut links = String::new();
    for link in frame.nav.iter().filter(|l| l.open_to(frame.agent)) {
        let current = if frame.path == link.href || frame.path.starts_with(&format!("{}/", link.href)) {
            r#" aria-current="page""#
        } else {
            ""
        };
        links.push_str(&format!(r#"<li><a href="{}"{current}>{}</a></li>"#, text(link.href), text(link.label)));
    }
    let roles: Vec<&str> = frame.agent.roles.iter().map(|r| r.as_str()).collect();
    let office = frame.agent.office.as_deref().map(|o| format!(" · {}", text(o))).unwrap_or_default();
    let who = format!(
        r#"<div class="who"><span>{} ({}){office} · {}</span><form class="inline" method="post" action="/logout">{}<button type="submit">Se déconnecter</button></form></div>"#,
        text(&frame.agent.name),
        text(&frame.agent.id),
        text(&roles.join(", ")),
        csrf_field(frame.csrf),
    );
    document(
        title,
        frame.daemon,
        &format!(
            r#"<header class="bar"><a class="brand" href="/">Passerelle · {}</a><nav aria-label="Pages de la console"><ul>{links}</ul></nav>{who}</header>"#,
            text(frame.daemon)
        ),
        body,
    )
}

/// The hidden field every form of a session carries.
pub fn csrf_field(csrf: &str) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, text(csrf))
}

fn document(title: &str, daemon: &str, header: &str, body: &str) -> String {
    format!(
        r##"<!doctype html><html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{} — {}</title><link rel="stylesheet" href="/console.css"></head><body><a class="skip" href="#contenu">Aller au contenu</a>{header}<main id="contenu"><h1>{}</h1>{body}</main></body></html>"##,
        text(title),
        text(daemon),
        text(title),
    )
}

/// A page that could not be served: its status and a sentence for the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageError {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
}

impl PageError {
    pub fn new(status: StatusCode, title: &str, message: impl Into<String>) -> PageError {
        PageError { status, title: title.to_owned(), message: message.into() }
    }

    /// 401: no session (or an ended one): how to open one.
    pub fn no_session() -> PageError {
        PageError::new(
            StatusCode::UNAUTHORIZED,
            "Session requise",
            "Aucune session ouverte, ou elle a pris fin. Ouvrez-en une depuis votre compte : \
             `passerelle console open`, puis ouvrez le lien qu'elle affiche (il ne sert qu'une fois).",
        )
    }

    /// 400: the form cannot be used; the sentence says why.
    pub fn bad_request(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::BAD_REQUEST, "Demande incorrecte", message)
    }

    /// 403: a form without the session's token (another site's, or an old page).
    pub fn csrf() -> PageError {
        PageError::new(
            StatusCode::FORBIDDEN,
            "Formulaire refusé",
            "Ce formulaire ne porte pas le jeton de votre session (page trop ancienne, ou envoyée par un autre site). \
             Rechargez la page et recommencez.",
        )
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::NOT_FOUND, "Page introuvable", message)
    }

    /// 500: the cause goes to the daemon's log, never to the page.
    pub fn internal(what: &str, cause: &dyn std::fmt::Display) -> PageError {
        tracing::error!(error = %cause, "console: {what}");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Erreur du service",
            format!("{what} ; le journal du service en dit la cause."),
        )
    }

    /// The daemon's API refused or failed: its status, its sentence.
    pub fn from_api(status: StatusCode, body: &ErrorBody) -> PageError {
        let title = match body.code.as_str() {
            "not_an_agent" | "not_permitted" | "no_grant" => "Accès refusé",
            "not_found" => "Introuvable",
            "conflict" => "Déjà enregistré autrement",
            "internal" => "Erreur du service",
            _ => "Demande refusée",
        };
        PageError::new(status, title, body.error.clone())
    }

    /// The error as a page, with a way back.
    pub fn page(&self) -> Page {
        let body = format!(
            r#"<p class="notice error" role="alert">{}</p><p><a href="/">Retour à l'accueil de la console</a></p>"#,
            text(&self.message)
        );
        let header = r#"<header class="bar"><a class="brand" href="/">Passerelle</a></header>"#;
        Page::document(self.status, document(&self.title, "Passerelle", header, &body))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.page().into_response()
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.title, self.status, self.message)
    }
}

impl std::error::Error for PageError {}
