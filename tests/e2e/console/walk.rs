//! One daemon's console checked: its sessions opened by one-time URLs (`passerelle console
//! open` run as each agent's account), its routes refused without a session or a CSRF token,
//! and each role's menu walked — over plain HTTP, and in the browser when there is one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

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
    /// GET forms the API refused (a grant missing…).
    pub refusals: usize,
    pub shots: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sessions, {} menu pages walked, {} linked pages scanned, {} declared routes refused, {} forms \
             submitted ({} of them refused by the API), {} other roles' pages refused, {} screenshots",
            self.sessions, self.pages, self.linked, self.routes, self.forms, self.refusals, self.refused, self.shots
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
    /// `DOC_SHOTS`.
    pub doc_shots: Option<PathBuf>,
    /// What failed so far ([`Walker::finish`] lists it).
    pub problems: std::cell::RefCell<Vec<String>>,
}

/// Pages of a role's menu that every agent of the daemon may open on purpose, showing nothing
/// but a notice to the others: (console, href). Any other page of another role's menu must be
/// refused (403, «Accès refusé»).
const OPEN_TO_ALL: &[(&str, &str)] = &[];

/// The most pages one session reads (menu pages and the pages they link to).
const LINKED: usize = 40;

/// How long a POST form's answer may take to replace its page in the browser.
const FORM_ANSWER: std::time::Duration = std::time::Duration::from_secs(10);

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
    pub fn walk(&self, console: &Console, report: &mut Report) {
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
                    let problem = csrf_refused(&http, console.name, path, &all, form);
                    self.check(problem.is_none(), || problem.unwrap_or_default());
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
                    let cookie =
                        browser.cookie(&http.cookie).unwrap().expect("the session's cookie (named after its port)");
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
            let mut post_forms: Vec<(String, usize)> = Vec::new();
            let mut seen: BTreeSet<String> = std::iter::once("/".to_owned()).chain(menu.iter().cloned()).collect();
            for href in std::iter::once("/".to_owned()).chain(menu.iter().cloned()) {
                let page = http.get(&href, Some(&cookie));
                let said = || format!("{} «{}»", page.status, page.h1().unwrap_or_default());
                self.check(page.status == 200, || format!("{who}: {href}: {}", said()));
                let titled = page.h1().is_some_and(|h| !h.trim().is_empty());
                self.check(titled, || format!("{who}: {href} has no <h1>"));
                self.check(!http::is_error_page(&page.body), || format!("{who}: {href} is an error page: {}", said()));
                let same_menu = &http::nav_links(&page.body) == menu;
                self.check(same_menu, || format!("{who}: {href}: the menu differs from the home page's"));
                report.pages += 1;
                if operator {
                    self.assert_nothing_personal(&who, &href, &http::decode(&page.body));
                }
                let from = Visit { http: &http, cookie: &cookie, who: &who, daemon: console.name, operator };
                report.linked += self.follow_links(&from, &page.body, &mut seen, report);
                if let Some(browser) = self.browser {
                    let visit = Visit { http: &http, cookie: &cookie, who: &who, daemon: console.name, operator };
                    self.in_browser(browser, &visit, &href, report, &mut post_forms);
                }
            }
            // The pages of the other roles' menus: refused (unless open to all, on purpose).
            for href in every.iter().filter(|h| !menu.contains(h)) {
                let refused = http.get(href, Some(&cookie));
                if OPEN_TO_ALL.contains(&(console.name, href.as_str())) {
                    let fine = refused.status == 200 && !http::is_error_page(&refused.body);
                    self.check(fine, || format!("{who}: {href} (open to all) answers {}", refused.status));
                    continue;
                }
                let ok = refused.status == 403 && refused.h1().as_deref() == Some("Accès refusé");
                self.check(ok, || {
                    format!(
                        "{who}: {href} of another role's menu is not refused (403, «Accès refusé»): {} «{}»",
                        refused.status,
                        refused.h1().unwrap_or_default()
                    )
                });
                report.refused += 1;
            }
            // One of them in the browser: the refusal is what the agent reads.
            let refused =
                every.iter().find(|h| !menu.contains(h) && !OPEN_TO_ALL.contains(&(console.name, h.as_str())));
            if let (Some(browser), Some(href)) = (self.browser, refused) {
                browser.goto(&format!("{base}{href}")).unwrap();
                let h1 = browser.texts("main h1").unwrap();
                self.check(h1 == ["Accès refusé"], || format!("{who}: {href} of another role's menu shows {h1:?}"));
            }
            match self.browser {
                Some(browser) => {
                    // One POST form of the session's pages, the first that a word in its empty
                    // text fields makes valid.
                    for (href, index) in &post_forms {
                        if self.submit_post_form(browser, (&base, href, *index), console.name, &who, report) {
                            break;
                        }
                    }
                    browser.goto(&format!("{base}/")).unwrap();
                    let logout = browser.find("form[action='/logout']").unwrap().expect("the layout's logout form");
                    browser.submit(&logout).unwrap();
                    assert_eq!(browser.texts("main h1").unwrap(), ["Session terminée"], "{who}: logout");
                    report.forms += 1;
                    browser.goto(&format!("{base}/")).unwrap();
                    assert_eq!(browser.texts("main h1").unwrap(), ["Session requise"], "{who}: after logout");
                    assert!(browser.cookie(&http.cookie).unwrap().is_none(), "{who}: the cookie outlives the logout");
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
    /// screenshot taken; its GET forms submitted (a download's checked over HTTP); its POST forms
    /// that can be sent noted.
    fn in_browser(
        &self,
        browser: &Browser,
        visit: &Visit<'_>,
        href: &str,
        report: &mut Report,
        post_forms: &mut Vec<(String, usize)>,
    ) {
        let who = visit.who;
        let url = format!("{}{href}", visit.http.base);
        browser.goto(&url).unwrap();
        self.rendered(browser, who, href);
        if visit.operator {
            // The text shown, then the whole DOM (attributes, hidden parts) as the browser holds it.
            let both = browser.script("return document.body.innerText + '\\n' + document.documentElement.outerHTML;");
            self.assert_nothing_personal(who, href, &http::decode(&both.unwrap()));
        }
        let slug = match href.trim_matches('/') {
            "" => "accueil".to_owned(),
            s => s.replace(['/', '?', '&', '='], "-"),
        };
        let file = format!("console-{}-{slug}.png", visit.daemon);
        self.shoot(browser, &file, report);
        let forms: Vec<serde_json::Value> = serde_json::from_str(&browser.script(SURVEY).unwrap()).unwrap();
        for (index, form) in forms.iter().enumerate() {
            if form["file"] == true {
                continue;
            }
            if form["method"] == "post" {
                // One per session: its empty required fields, text filled with a word, a choice
                // with its first option.
                let usable = form["ready"] == true || form["fillable"] == true;
                if usable && form["action"] != "/logout" {
                    post_forms.push((href.to_owned(), index));
                }
                continue;
            }
            // A GET form whose required fields are empty waits for a person to fill them.
            if form["ready"] != true {
                continue;
            }
            // What the form asks for, over HTTP first: a download is checked there.
            let target = form["target"].as_str().unwrap_or_default();
            let asked =
                format!("{}?{}", target.split('?').next().unwrap_or(target), form["query"].as_str().unwrap_or(""));
            let answer = visit.http.get(&asked, Some(visit.cookie));
            // The API may refuse what a form asks (a grant missing): a refusal page, then, but
            // never a failure, a form refused for its token, or a page that does not exist.
            let h1 = answer.h1().unwrap_or_default();
            let fine = answer.status < 500 && !BROKEN.contains(&h1.as_str());
            self.check(fine, || format!("{who}: {href}, its GET form #{index} ({asked}): {} «{h1}»", answer.status));
            report.forms += 1;
            if answer.status != 200 {
                report.refusals += 1;
                continue;
            }
            if !answer.is_page() {
                continue;
            }
            browser.goto(&url).unwrap();
            let found = browser.find_all("main form").unwrap();
            browser.submit(&found[index]).unwrap();
            self.rendered(browser, who, &format!("{href}, its GET form #{index}"));
            if visit.operator {
                self.assert_nothing_personal(who, &asked, &browser.page_text().unwrap());
            }
        }
    }

    /// Submits the POST form `index` of `href` in the browser, its empty required text fields
    /// filled with a word: false when that leaves it invalid (not sent). Its answer may be a
    /// refusal of the API, not a failure, a form refused for its token or a missing page.
    fn submit_post_form(
        &self,
        browser: &Browser,
        (base, href, index): (&str, &str, usize),
        daemon: &str,
        who: &str,
        report: &mut Report,
    ) -> bool {
        browser.goto(&format!("{base}{href}")).unwrap();
        browser.script(SURVEY).unwrap();
        let forms = browser.find_all("main form").unwrap();
        // A required choice: its first option that is one (a person's answer on the worklist).
        let choose = format!(
            "document.querySelectorAll('main form')[{index}].querySelectorAll('select[data-ctest-fill]').forEach(s => \
             {{ const o = Array.from(s.options).find(o => o.value); if (o) s.value = o.value; }}); return '';"
        );
        browser.script(&choose).unwrap();
        for field in browser.find_all_in(&forms[index], "input[data-ctest-fill], textarea[data-ctest-fill]").unwrap() {
            browser.fill(&field, "essai").unwrap();
        }
        let valid = format!("return String(document.querySelectorAll('main form')[{index}].checkValidity());");
        if browser.script(&valid).unwrap() != "true" {
            return false;
        }
        // A form answered by a download leaves the page as it was.
        if let Err(e) = browser.submit_within(&forms[index], FORM_ANSWER) {
            assert!(e.0.contains("did not change"), "{who}: a POST form of {href}: {e}");
        }
        let h1 = browser.texts("main h1").unwrap().join(" ");
        eprintln!("console: {who}: a POST form of {href} submitted: «{h1}»");
        self.check(!BROKEN.contains(&h1.as_str()), || format!("{who}: a POST form of {href} ended on «{h1}»"));
        report.forms += 1;
        // What the form led to (a case file opened from the worklist…), as its agent reads it.
        let file = format!("console-{daemon}-{}-posted.png", href.trim_matches('/').replace(['/', '?', '&', '='], "-"));
        self.shoot(browser, &file, report);
        true
    }

    /// The pages a menu page links to, within the console (one step, at most [`LINKED`] per
    /// session): none fails, a page shown has its `<h1>` and is not an error page (a refusal
    /// of the API is allowed: a link may lead to what another role reads), and none shows the
    /// operator a person. Returns how many were read.
    fn follow_links(&self, from: &Visit<'_>, html: &str, seen: &mut BTreeSet<String>, report: &mut Report) -> usize {
        let (http, cookie, who, operator) = (from.http, from.cookie, from.who, from.operator);
        let mut read = 0;
        for href in http::hrefs(html) {
            let inside = href.starts_with('/') && !href.starts_with("//");
            if !inside || href.starts_with("/session/") || href == "/console.css" || !seen.insert(href.clone()) {
                continue;
            }
            if seen.len() > LINKED {
                break;
            }
            let page = http.get(&href, Some(cookie));
            let h1 = page.h1().unwrap_or_default();
            self.check(page.status < 500, || format!("{who}: {href} (linked) failed: {} «{h1}»", page.status));
            if page.status == 200 && page.is_page() {
                self.check(!h1.trim().is_empty(), || format!("{who}: {href} (linked) has no <h1>"));
                let error = http::is_error_page(&page.body);
                self.check(!error, || format!("{who}: {href} (linked) is an error page: «{h1}»"));
                if !error {
                    self.shoot_item(from, &href, report);
                }
            }
            if operator {
                self.assert_nothing_personal(who, &href, &http::decode(&page.body));
            }
            read += 1;
        }
        read
    }

    /// The first page of one item a menu page links to (`/cases/{id}`, `/files/{id}`…) seen in
    /// the browser too, and its screenshot taken as `console-<daemon>-<list>-item.png`: a
    /// case's contact list, a case file, as their agents read them.
    fn shoot_item(&self, from: &Visit<'_>, href: &str, report: &mut Report) {
        let Some(browser) = self.browser else { return };
        let mut segments = href.trim_start_matches('/').split(['/', '?']);
        let (Some(list), Some(id)) = (segments.next(), segments.next()) else { return };
        if segments.next().is_some() || uuid::Uuid::try_parse(id).is_err() {
            return;
        }
        let file = format!("console-{}-{list}-item.png", from.daemon);
        if self.shots.join(&file).exists() {
            return;
        }
        browser.goto(&format!("{}{href}", from.http.base)).unwrap();
        self.rendered(browser, from.who, href);
        self.shoot(browser, &file, report);
    }

    /// The page shown, whole, as `file` in the test's output folder (and under `DOC_SHOTS`), once.
    fn shoot(&self, browser: &Browser, file: &str, report: &mut Report) {
        if self.shots.join(file).exists() {
            return;
        }
        let png = browser.full_page_png().unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(self.shots.join(file), &png).unwrap();
        if let Some(dir) = &self.doc_shots {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join(file), &png).unwrap();
        }
        report.shots += 1;
    }

    /// The page shown is a page of the session: one `<h1>`, its menu, no error (one look).
    fn rendered(&self, browser: &Browser, who: &str, what: &str) {
        let seen: serde_json::Value = serde_json::from_str(&browser.script(RENDERED).unwrap()).unwrap();
        let h1 = &seen["h1"];
        let titled = h1.as_array().is_some_and(|h| h.len() == 1 && h[0].as_str().is_some_and(|t| !t.trim().is_empty()));
        self.check(titled, || format!("{who}: {what}: one <h1> rendered, not {h1}"));
        self.check(seen["error"] == false, || format!("{who}: {what}: an error page rendered ({h1})"));
        self.check(seen["menu"] == true, || format!("{who}: {what}: no menu rendered ({h1})"));
    }

    /// Notes a problem (every one is listed at the end, not only the first).
    fn check(&self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            let problem = problem();
            eprintln!("console: PROBLEM: {problem}");
            self.problems.borrow_mut().push(problem);
        }
    }

    /// Fails the test with every problem noted.
    pub fn finish(&self) {
        let problems = self.problems.borrow();
        assert!(problems.is_empty(), "{} problem(s) in the consoles:\n{}", problems.len(), problems.join("\n"));
    }

    fn assert_nothing_personal(&self, who: &str, href: &str, text: &str) {
        let found = self.needles.found_in(text).len();
        self.check(found == 0, || {
            format!("{who}: {href} shows the operator {found} personal value(s) of the synthetic persons")
        });
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

/// What [`Walker::rendered`] looks at, as JSON: the `<h1>`s of `<main>`, an error notice, the menu.
const RENDERED: &str = "return JSON.stringify({ \
    h1: Array.from(document.querySelectorAll('main h1')).map(h => h.innerText), \
    error: !!document.querySelector('.notice.error'), menu: !!document.querySelector('header nav') });";

/// The forms of a page's `<main>`, as JSON: method, action (as written, and resolved), the query
/// a GET form sends, whether one has a file input, whether every required field already holds a
/// value, and whether those that do not are all text (marked `data-ctest-fill`, to be filled).
const SURVEY: &str = "return JSON.stringify(Array.from(document.querySelectorAll('main form')).map(f => ({ \
    method: (f.getAttribute('method') || 'get').toLowerCase(), action: f.getAttribute('action') || '', \
    target: f.action, query: new URLSearchParams(new FormData(f)).toString(), \
    file: !!f.querySelector('input[type=file]'), \
    ready: Array.from(f.elements).every(e => !e.required || (e.value || '').length > 0), \
    fillable: Array.from(f.elements).filter(e => e.required && !(e.value || '').length) \
      .map(e => { e.setAttribute('data-ctest-fill', ''); return e; }) \
      .every(e => ['TEXTAREA', 'SELECT'].includes(e.tagName) || (e.tagName === 'INPUT' && ['text', 'search'].includes(e.type))) })));";

/// Whether a POST of `form` (without the session's token) is refused with the CSRF page,
/// urlencoded or, for a route that reads a multipart form, multipart: the problem if not.
fn csrf_refused(http: &Http, daemon: &str, path: &str, cookie: &str, form: &str) -> Option<String> {
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
    let h1 = refused.h1().unwrap_or_default();
    (refused.status != 403 || h1 != "Formulaire refusé").then(|| {
        format!(
            "{daemon} POST {path} with `{form}` is not refused as a form without its token: {} «{h1}»",
            refused.status
        )
    })
}
