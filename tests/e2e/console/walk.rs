//! One daemon's console checked: its sessions opened by one-time URLs (`passerelle console
//! open` run as each agent's account), its routes refused without a session or a CSRF token,
//! and each role's menu walked — over plain HTTP, and in the browser when there is one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use passerelle_console::COOKIE;
use passerelle_test_support::browser::Browser;

use super::http::{self, Http};
use super::scan::Needles;
use super::{Agents, ALL};
use crate::support::accounts::{Account, SharedFolder};

/// A daemon's console to check.
pub struct Console {
    /// As the screenshots name it (`console-<name>-<page>.png`).
    pub name: &'static str,
    pub socket: PathBuf,
    /// Every route its page modules declare: (method, a sample path).
    pub routes: Vec<(&'static str, &'static str)>,
    pub agents: Agents,
}

/// What was checked, for the test's last line.
#[derive(Debug, Default)]
pub struct Report {
    pub sessions: usize,
    pub pages: usize,
    pub linked: usize,
    pub routes: usize,
    pub forms: usize,
    pub refused: usize,
    pub shots: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sessions, {} menu pages walked, {} linked pages scanned, {} declared routes refused, {} forms \
             submitted, {} other roles' pages refused, {} screenshots",
            self.sessions, self.pages, self.linked, self.routes, self.forms, self.refused, self.shots
        )
    }
}

/// What every console's check shares.
pub struct Walker<'a> {
    pub folder: &'a SharedFolder,
    pub accounts: &'a BTreeMap<String, Account>,
    pub needles: Needles,
    pub browser: Option<&'a Browser>,
    /// The test's output folder for screenshots.
    pub shots: PathBuf,
    /// `PASSERELLE_DOC_SHOTS`.
    pub doc_shots: Option<PathBuf>,
}

/// How long a POST form's answer may take to replace its page in the browser.
const FORM_ANSWER: std::time::Duration = std::time::Duration::from_secs(15);

/// The error page's titles that must never follow a form submitted from its own page.
const BROKEN: [&str; 3] = ["Formulaire refusé", "Erreur du service", "Page introuvable"];

impl Walker<'_> {
    /// `passerelle console open --socket …` run as `account`: the one-time URL it prints.
    fn open(&self, console: &Console, account: &str) -> String {
        let account = &self.accounts[account];
        let socket = console.socket.display().to_string();
        let out = self.folder.run_as(account, &["console", "open", "--socket", &socket]);
        let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success() && said.starts_with("http://127.0.0.1:"),
            "console open as {} on {}: {said} {}",
            account.name,
            console.name,
            String::from_utf8_lossy(&out.stderr)
        );
        said
    }

    /// Every check of one console.
    pub fn check(&self, console: &Console, report: &mut Report) {
        let first = self.open(console, ALL);
        let base = first.split("/session/").next().unwrap().to_owned();
        let http = Http::new(&base);

        // A one-time URL works once.
        let all = http.redeem(&first);
        let again = http.get(&first, None);
        assert_eq!(again.status, 401, "{}: a one-time URL opened twice: {}", console.name, again.body);
        report.sessions += 1;

        // Without a session every route is refused; without its token every form.
        let mut routes: Vec<(&str, &str)> = vec![("GET", "/"), ("POST", "/logout")];
        routes.extend(console.routes.iter().copied());
        for (method, path) in &routes {
            let refused = match *method {
                "POST" => http.post_form(path, None, "x=1"),
                _ => http.get(path, None),
            };
            assert_eq!(refused.status, 401, "{} {method} {path} without a session: {}", console.name, refused.body);
            report.routes += 1;
            if *method == "POST" {
                for form in ["x=1", "csrf=not-the-token&x=1"] {
                    check_csrf_refused(&http, console.name, path, &all, form);
                }
            } else {
                let seen = http.get(path, Some(&all));
                assert!(seen.status < 500, "{} GET {path} failed ({}): {}", console.name, seen.status, seen.body);
            }
        }

        // Each role's menu, read over HTTP (then its session closed by its logout form).
        let mut menus: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (account, _) in console.agents {
            let cookie = http.redeem(&self.open(console, account));
            let home = http.get("/", Some(&cookie));
            assert_eq!(home.status, 200, "{} home of {account}: {}", console.name, home.body);
            menus.insert(account, http::nav_links(&home.body));
            let csrf = http::csrf_of(&home.body).expect("the layout's logout form carries the token");
            let out = http.post_form("/logout", Some(&cookie), &format!("csrf={csrf}"));
            assert_eq!(out.status, 200, "{} logout of {account}: {}", console.name, out.body);
            assert!(out.set_cookies.iter().any(|c| c.contains("Max-Age=0")), "logout clears the cookie");
            assert_eq!(
                http.get("/", Some(&cookie)).status,
                401,
                "{}: a session lives on after its logout",
                console.name
            );
            report.sessions += 1;
        }
        let every: BTreeSet<&String> = menus.values().flatten().collect();

        for (account, roles) in console.agents {
            let menu = &menus[account];
            let url = self.open(console, account);
            let cookie = match self.browser {
                Some(browser) => {
                    browser.goto(&url).unwrap();
                    let cookie = browser.cookie(COOKIE).unwrap().expect("the session's cookie");
                    assert!(cookie.http_only, "the session cookie is HttpOnly");
                    assert_eq!(cookie.same_site.as_deref(), Some("Strict"), "the session cookie is SameSite=Strict");
                    assert_eq!(http.get(&url, None).status, 401, "{}: a one-time URL opened twice", console.name);
                    cookie.value
                }
                None => http.redeem(&url),
            };
            report.sessions += 1;
            let operator = roles.contains(&"operator");
            let who = format!("{} ({account}, {})", console.name, roles.join(","));
            let mut post_form: Option<(String, usize)> = None;
            let mut seen: BTreeSet<String> = BTreeSet::new();
            for href in std::iter::once("/".to_owned()).chain(menu.iter().cloned()) {
                let page = http.get(&href, Some(&cookie));
                assert_eq!(page.status, 200, "{who}: {href}: {}", page.body);
                assert!(page.h1().is_some_and(|h| !h.trim().is_empty()), "{who}: {href} has no <h1>");
                assert!(!http::is_error_page(&page.body), "{who}: {href} is an error page: {:?}", page.h1());
                assert_eq!(&http::nav_links(&page.body), menu, "{who}: {href}: the menu differs from the home page's");
                report.pages += 1;
                seen.insert(href.clone());
                if operator {
                    self.assert_nothing_personal(&who, &href, &http::decode(&page.body));
                    report.linked += self.scan_linked(&http, &cookie, &who, &page.body, &mut seen);
                }
                if let Some(browser) = self.browser {
                    let visit = Visit { http: &http, cookie: &cookie, who: &who, daemon: console.name, operator };
                    self.in_browser(browser, &visit, &href, report, &mut post_form);
                }
            }
            // The pages of the other roles' menus: refused.
            for href in every.iter().filter(|h| !menu.contains(h)) {
                let refused = http.get(href, Some(&cookie));
                assert_eq!(refused.status, 403, "{who}: {href} of another role's menu: {}", refused.body);
                assert_eq!(refused.h1().as_deref(), Some("Accès refusé"), "{who}: {href}");
                report.refused += 1;
            }
            match self.browser {
                Some(browser) => {
                    if let Some((href, index)) = post_form {
                        browser.goto(&format!("{base}{href}")).unwrap();
                        let forms = browser.find_all("main form").unwrap();
                        // A form answered by a download leaves the page as it was.
                        if let Err(e) = browser.submit_within(&forms[index], FORM_ANSWER) {
                            assert!(e.0.contains("did not change"), "{who}: a POST form of {href}: {e}");
                        }
                        let h1 = browser.texts("main h1").unwrap().join(" ");
                        assert!(!BROKEN.contains(&h1.as_str()), "{who}: a POST form of {href} ended on «{h1}»");
                        report.forms += 1;
                    }
                    browser.goto(&format!("{base}/")).unwrap();
                    let logout = browser.find("form[action='/logout']").unwrap().expect("the layout's logout form");
                    browser.submit(&logout).unwrap();
                    assert_eq!(browser.texts("main h1").unwrap(), ["Session terminée"], "{who}: logout");
                    report.forms += 1;
                    browser.goto(&format!("{base}/")).unwrap();
                    assert_eq!(browser.texts("main h1").unwrap(), ["Session requise"], "{who}: after logout");
                    assert!(browser.cookie(COOKIE).unwrap().is_none(), "{who}: the cookie outlives the logout");
                }
                None => {
                    let csrf = http::csrf_of(&http.get("/", Some(&cookie)).body).unwrap();
                    assert_eq!(http.post_form("/logout", Some(&cookie), &format!("csrf={csrf}")).status, 200);
                }
            }
            let after = http.get("/", Some(&cookie));
            assert_eq!(after.status, 401, "{who}: the session lives on after its logout");
            assert_eq!(after.h1().as_deref(), Some("Session requise"), "{who}");
        }
    }

    /// The page of `href` in the browser: rendered with its `<h1>` and menu, not an error, its
    /// screenshot taken; its GET forms submitted (a download's checked over HTTP); the first
    /// POST form ready to send remembered.
    fn in_browser(
        &self,
        browser: &Browser,
        visit: &Visit<'_>,
        href: &str,
        report: &mut Report,
        post_form: &mut Option<(String, usize)>,
    ) {
        let who = visit.who;
        let url = format!("{}{href}", visit.http.base);
        browser.goto(&url).unwrap();
        rendered(browser, who, href);
        if visit.operator {
            self.assert_nothing_personal(who, href, &browser.page_text().unwrap());
            self.assert_nothing_personal(who, href, &http::decode(&browser.source().unwrap()));
        }
        let slug = match href.trim_matches('/') {
            "" => "accueil".to_owned(),
            s => s.replace(['/', '?', '&', '='], "-"),
        };
        let file = format!("console-{}-{slug}.png", visit.daemon);
        if !self.shots.join(&file).exists() {
            let png = browser.full_page_png().unwrap();
            assert!(png.starts_with(b"\x89PNG"), "a PNG");
            std::fs::write(self.shots.join(&file), &png).unwrap();
            if let Some(dir) = &self.doc_shots {
                std::fs::create_dir_all(dir).unwrap();
                std::fs::write(dir.join(&file), &png).unwrap();
            }
            report.shots += 1;
        }
        let forms: Vec<serde_json::Value> = serde_json::from_str(&browser.script(SURVEY).unwrap()).unwrap();
        for (index, form) in forms.iter().enumerate() {
            // A form whose required fields are empty waits for a person to fill them.
            if form["ready"] != true || form["file"] == true {
                continue;
            }
            if form["method"] == "post" {
                if post_form.is_none() && form["action"] != "/logout" {
                    *post_form = Some((href.to_owned(), index));
                }
                continue;
            }
            // What the form asks for, over HTTP first: a download is checked there.
            let target = form["target"].as_str().unwrap_or_default();
            let asked =
                format!("{}?{}", target.split('?').next().unwrap_or(target), form["query"].as_str().unwrap_or(""));
            let answer = visit.http.get(&asked, Some(visit.cookie));
            assert_eq!(answer.status, 200, "{who}: {href}, its GET form #{index} ({asked}): {}", answer.body);
            report.forms += 1;
            if !answer.is_page() {
                continue;
            }
            browser.goto(&url).unwrap();
            let found = browser.find_all("main form").unwrap();
            browser.submit(&found[index]).unwrap();
            rendered(browser, who, &format!("{href}, its GET form #{index}"));
            if visit.operator {
                self.assert_nothing_personal(who, &asked, &browser.page_text().unwrap());
            }
        }
    }

    /// The pages an operator's page links to, within the console (one step): none fails, none
    /// shows a person. Returns how many were scanned.
    fn scan_linked(&self, http: &Http, cookie: &str, who: &str, html: &str, seen: &mut BTreeSet<String>) -> usize {
        let mut scanned = 0;
        for href in http::hrefs(html) {
            let inside = href.starts_with('/') && !href.starts_with("//");
            if !inside || href.starts_with("/session/") || href == "/console.css" || !seen.insert(href.clone()) {
                continue;
            }
            let page = http.get(&href, Some(cookie));
            assert!(page.status < 500, "{who}: {href} failed ({}): {}", page.status, page.body);
            self.assert_nothing_personal(who, &href, &http::decode(&page.body));
            scanned += 1;
        }
        scanned
    }

    fn assert_nothing_personal(&self, who: &str, href: &str, text: &str) {
        let found = self.needles.found_in(text);
        assert!(
            found.is_empty(),
            "{who}: {href} shows the operator {} personal value(s) of the synthetic persons",
            found.len()
        );
    }
}

/// One session's walk, as the browser's checks need it.
struct Visit<'a> {
    http: &'a Http,
    cookie: &'a str,
    who: &'a str,
    daemon: &'a str,
    operator: bool,
}

/// The page shown is a page of the session: one `<h1>`, its menu, no error.
fn rendered(browser: &Browser, who: &str, what: &str) {
    let h1 = browser.texts("main h1").unwrap();
    assert!(h1.len() == 1 && !h1[0].trim().is_empty(), "{who}: {what}: one <h1> rendered, not {h1:?}");
    assert!(browser.find(".notice.error").unwrap().is_none(), "{who}: {what}: an error page ({h1:?})");
    assert!(browser.find("header nav").unwrap().is_some(), "{who}: {what}: no menu");
}

/// The forms of a page's `<main>`, as JSON: method, action (as written, and resolved), the query
/// a GET form sends, whether one has a file input, and
/// whether every required field already holds a value.
const SURVEY: &str = "return JSON.stringify(Array.from(document.querySelectorAll('main form')).map(f => ({ \
    method: (f.getAttribute('method') || 'get').toLowerCase(), action: f.getAttribute('action') || '', \
    target: f.action, query: new URLSearchParams(new FormData(f)).toString(), \
    file: !!f.querySelector('input[type=file]'), \
    ready: Array.from(f.elements).every(e => !e.required || (e.value || '').length > 0) })));";

/// A POST of `form` (without the session's token) is refused with the CSRF page, urlencoded or,
/// for a route that reads a multipart form, multipart.
fn check_csrf_refused(http: &Http, daemon: &str, path: &str, cookie: &str, form: &str) {
    let mut refused = http.post_form(path, Some(cookie), form);
    if matches!(refused.status, 400 | 415) && refused.h1().as_deref() != Some("Formulaire refusé") {
        let mut body = String::new();
        for pair in form.split('&') {
            let (name, value) = pair.split_once('=').unwrap();
            body.push_str(&format!("--XcsrfX\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
        }
        body.push_str("--XcsrfX--\r\n");
        refused = http.post(path, Some(cookie), "multipart/form-data; boundary=XcsrfX", &body);
    }
    assert_eq!(refused.status, 403, "{daemon} POST {path} with `{form}`: {}", refused.body);
    assert_eq!(refused.h1().as_deref(), Some("Formulaire refusé"), "{daemon} POST {path}: {}", refused.body);
}
