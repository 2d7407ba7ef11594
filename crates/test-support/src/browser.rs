//! A real headless browser for the tests of the printable pages and the web console (DESIGN
//! §7.4): Debian's `chromium` driven by its `chromedriver` over the W3C WebDriver protocol.
//!
//! [`Browser::start_or_skip`] starts `chromedriver` on a free local port, waits for its `/status`
//! (with a deadline), and opens a headless session (1280×800; `--no-sandbox` when the tests run
//! as root, which Chromium's sandbox refuses). The session navigates to a `file://` or
//! `http://127.0.0.1` page, reads its text, its HTML and its elements, clicks and fills them
//! and submits forms ([`Browser::submit`]), reads the cookies (HttpOnly ones too), takes a
//! whole-page screenshot ([`Browser::full_page_png`]) and prints it to PDF (`POST
//! /session/{id}/print`, what a person gets from "Print"); [`pdf_text`] extracts the PDF's text
//! with poppler's `pdftotext -layout`. Dropping the [`Browser`] ends the session, kills
//! `chromedriver` and removes the session's profile folder: no process is left behind.
//!
//! The client is a dozen blocking `ureq` requests (already in the workspace) rather than
//! `fantoccini` or `thirtyfour`, which would bring an async HTTP stack and a TLS stack for a
//! local plain-HTTP conversation.
//!
//! A missing browser fails the test under `CI=true` with the command that installs it
//! (`scripts/test` installs it when run as root); elsewhere the test is skipped, saying so.
//!
//! ```no_run
//! use passerelle_test_support::browser::Browser;
//!
//! let Some(browser) = Browser::start_or_skip() else { return };
//! browser.goto("http://127.0.0.1:8080/rights/access").unwrap();
//! assert!(browser.page_text().unwrap().contains("Droit d'accès"));
//! let printed = browser.print_text().unwrap(); // printed to PDF, then `pdftotext -layout`
//! assert!(printed.contains("Niveau GIR") && !printed.contains("Imprimer"));
//! ```

use std::fmt;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::prelude::{Engine, BASE64_STANDARD};
use serde_json::{json, Value};

/// The Debian packages the harness needs, as `apt-get` takes them.
pub const INSTALL_COMMAND: &str = "apt-get install -y chromium chromium-driver poppler-utils";
/// How long `chromedriver` may take to answer `/status`: it starts in a fraction of a second,
/// but a loaded 2-core machine building tests can slow it down a lot.
const DRIVER_START: Duration = Duration::from_secs(30);
/// The longest a WebDriver command may take: opening a session starts Chromium, the slowest.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// The window of the session, a laptop's: pages are checked as an agent sees them.
const WINDOW: (u32, u32) = (1280, 800);
/// The largest answer read from the driver (a printed PDF of a long page, base64).
const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;
/// The W3C key of an element reference in a WebDriver answer.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// An element of the page shown (a WebDriver element reference): valid until the page changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element(pub String);

/// A cookie as the browser holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    pub http_only: bool,
    /// `Strict`, `Lax` or `None`, when the driver says.
    pub same_site: Option<String>,
}

/// A WebDriver or tool failure, in words (what failed and what to do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserError(pub String);

impl fmt::Display for BrowserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BrowserError {}

fn error(what: impl Into<String>) -> BrowserError {
    BrowserError(what.into())
}

/// The programs the harness runs, found on `PATH`.
#[derive(Debug, Clone)]
pub struct Tools {
    pub chromedriver: PathBuf,
    pub chromium: PathBuf,
    pub pdftotext: PathBuf,
}

impl Tools {
    /// The three programs, or the names of those missing.
    pub fn find() -> Result<Tools, Vec<&'static str>> {
        let chromium = which("chromium").or_else(|| which("chromium-browser"));
        let (driver, pdf) = (which("chromedriver"), which("pdftotext"));
        match (driver, chromium, pdf) {
            (Some(chromedriver), Some(chromium), Some(pdftotext)) => Ok(Tools { chromedriver, chromium, pdftotext }),
            (d, c, p) => Err([(d.is_none(), "chromedriver"), (c.is_none(), "chromium"), (p.is_none(), "pdftotext")]
                .into_iter()
                .filter_map(|(missing, name)| missing.then_some(name))
                .collect()),
        }
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// One headless Chromium session and the `chromedriver` that drives it.
pub struct Browser {
    driver: Child,
    /// `http://127.0.0.1:PORT/session/ID`.
    session_url: String,
    agent: ureq::Agent,
    /// The session's own Chromium profile, removed on drop.
    profile: PathBuf,
    pdftotext: PathBuf,
}

impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browser").field("session", &self.session_url).finish_non_exhaustive()
    }
}

impl Browser {
    /// A browser session, or `None` when Chromium, its driver or `pdftotext` is not installed
    /// and the test may be skipped (it prints why). Under `CI=true` a missing program fails the
    /// test with the command that installs it; a browser that is installed but fails to start
    /// always fails the test.
    pub fn start_or_skip() -> Option<Browser> {
        let tools = match Tools::find() {
            Ok(tools) => tools,
            Err(missing) => {
                let why = format!("{} not installed (as root: {INSTALL_COMMAND})", missing.join(", "));
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true and the headless browser is missing: {why}"
                );
                eprintln!("SKIPPED: headless browser test: {why}; under CI=true this fails");
                return None;
            }
        };
        Some(Browser::start(&tools).unwrap_or_else(|e| panic!("{e}")))
    }

    /// Starts `chromedriver` and opens a headless session.
    pub fn start(tools: &Tools) -> Result<Browser, BrowserError> {
        let port = free_port()?;
        let driver = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| error(format!("cannot run {}: {e}", tools.chromedriver.display())))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(COMMAND_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        let profile = std::env::temp_dir().join(format!("passerelle-chromium-{}", crate::unique()));
        // From here on, Drop kills the driver and removes the profile whatever fails.
        let mut browser =
            Browser { driver, session_url: String::new(), agent, profile, pdftotext: tools.pdftotext.clone() };
        let base = format!("http://127.0.0.1:{port}");
        browser.wait_ready(&base)?;
        let mut args = vec![
            "--headless=new".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-gpu".to_owned(),
            "--no-first-run".to_owned(),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            format!("--user-data-dir={}", browser.profile.display()),
        ];
        if running_as_root() {
            // Chromium's sandbox refuses to run as root; the pages are the tests' own.
            args.push("--no-sandbox".to_owned());
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": tools.chromium, "args": args},
        }}});
        let answer = browser.call("POST", &format!("{base}/session"), Some(capabilities))?;
        let id = answer["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| error(format!("chromedriver opened no session: {}", answer["value"])))?;
        browser.session_url = format!("{base}/session/{id}");
        Ok(browser)
    }

    /// The process id of `chromedriver`, for tests that check nothing is left behind.
    pub fn driver_pid(&self) -> u32 {
        self.driver.id()
    }

    /// The session's Chromium profile folder: every Chromium process of the session names it.
    pub fn profile_dir(&self) -> &Path {
        &self.profile
    }

    /// Loads a page and waits until it is loaded (WebDriver's default page-load strategy).
    pub fn goto(&self, url: &str) -> Result<(), BrowserError> {
        self.command("POST", "/url", json!({ "url": url })).map(drop)
    }

    /// The page's title.
    pub fn title(&self) -> Result<String, BrowserError> {
        text_of(self.command("GET", "/title", Value::Null)?)
    }

    /// The text of the page's body as rendered on screen (`innerText`: hidden elements left out).
    pub fn page_text(&self) -> Result<String, BrowserError> {
        self.script("return document.body.innerText;")
    }

    /// Runs a script in the page (`return …;`) and gives its string result.
    pub fn script(&self, script: &str) -> Result<String, BrowserError> {
        text_of(self.command("POST", "/execute/sync", json!({ "script": script, "args": [] }))?)
    }

    /// The rendered text of each element matching a CSS selector, in document order.
    pub fn texts(&self, css: &str) -> Result<Vec<String>, BrowserError> {
        let found = self.command("POST", "/elements", json!({ "using": "css selector", "value": css }))?;
        let elements = found.as_array().ok_or_else(|| error(format!("no element list for {css}: {found}")))?;
        elements
            .iter()
            .map(|e| {
                let id = e[ELEMENT_KEY].as_str().ok_or_else(|| error(format!("no element reference: {e}")))?;
                text_of(self.command("GET", &format!("/element/{id}/text"), Value::Null)?)
            })
            .collect()
    }

    /// The URL of the page shown (after redirects).
    pub fn current_url(&self) -> Result<String, BrowserError> {
        text_of(self.command("GET", "/url", Value::Null)?)
    }

    /// The page's HTML as the browser holds it now (the DOM serialised).
    pub fn source(&self) -> Result<String, BrowserError> {
        text_of(self.command("GET", "/source", Value::Null)?)
    }

    /// Every element matching a CSS selector, in document order.
    pub fn find_all(&self, css: &str) -> Result<Vec<Element>, BrowserError> {
        elements_of(self.command("POST", "/elements", json!({ "using": "css selector", "value": css }))?, css)
    }

    /// The first element matching a CSS selector, if any.
    pub fn find(&self, css: &str) -> Result<Option<Element>, BrowserError> {
        Ok(self.find_all(css)?.into_iter().next())
    }

    /// Every element matching a CSS selector inside `within`.
    pub fn find_all_in(&self, within: &Element, css: &str) -> Result<Vec<Element>, BrowserError> {
        let path = format!("/element/{}/elements", within.0);
        elements_of(self.command("POST", &path, json!({ "using": "css selector", "value": css }))?, css)
    }

    /// An element's attribute (`None` when it has none).
    pub fn attribute(&self, element: &Element, name: &str) -> Result<Option<String>, BrowserError> {
        match self.command("GET", &format!("/element/{}/attribute/{name}", element.0), Value::Null)? {
            Value::Null => Ok(None),
            other => text_of(other).map(Some),
        }
    }

    /// An element's rendered text.
    pub fn element_text(&self, element: &Element) -> Result<String, BrowserError> {
        text_of(self.command("GET", &format!("/element/{}/text", element.0), Value::Null)?)
    }

    /// Clicks an element (a link, a button) as a person would: scrolled into view, then
    /// clicked; a navigation it starts is waited for.
    pub fn click(&self, element: &Element) -> Result<(), BrowserError> {
        self.command("POST", &format!("/element/{}/click", element.0), json!({})).map(drop)
    }

    /// Empties an input (or a textarea) and types `text` into it.
    pub fn fill(&self, element: &Element, text: &str) -> Result<(), BrowserError> {
        self.command("POST", &format!("/element/{}/clear", element.0), json!({}))?;
        self.command("POST", &format!("/element/{}/value", element.0), json!({ "text": text })).map(drop)
    }

    /// Submits a form by clicking its first submit button (`button` without a type or of type
    /// `submit`, `input[type=submit]`), as a person would: the form's hidden fields (its CSRF
    /// token) go with it. Returns once the page it was on is gone (the answer is loaded).
    pub fn submit(&self, form: &Element) -> Result<(), BrowserError> {
        self.submit_within(form, COMMAND_TIMEOUT)
    }

    /// [`Browser::submit`], waiting at most `within` for the answer (a form answered by a
    /// download leaves the page as it was: the error then says the page did not change).
    pub fn submit_within(&self, form: &Element, within: Duration) -> Result<(), BrowserError> {
        let buttons = self.find_all_in(form, "button:not([type]), button[type=submit], input[type=submit]")?;
        let button = buttons.first().ok_or_else(|| error("the form has no submit button"))?;
        let page = self.find("html")?.ok_or_else(|| error("no page shown"))?;
        self.click(button)?;
        self.wait_gone(&page, within)
    }

    /// Waits at most `within` until `element`'s document is replaced by another one: WebDriver
    /// then calls it stale.
    pub fn wait_gone(&self, element: &Element, within: Duration) -> Result<(), BrowserError> {
        let deadline = Instant::now() + within;
        let mut pause = Duration::from_millis(10);
        loop {
            match self.command("GET", &format!("/element/{}/name", element.0), Value::Null) {
                // Chromium says it one of three ways, depending on its version and the moment.
                Err(e)
                    if ["stale element", "no such element", "does not belong to the document"]
                        .iter()
                        .any(|gone| e.0.contains(gone)) =>
                {
                    return self.script("return document.readyState;").map(drop);
                }
                Err(e) => return Err(e),
                Ok(_) if Instant::now() > deadline => {
                    return Err(error(format!("the page did not change within {within:?}")));
                }
                Ok(_) => {}
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// The cookies the browser holds for the page shown, `HttpOnly` ones included (WebDriver
    /// reads them all).
    pub fn cookies(&self) -> Result<Vec<Cookie>, BrowserError> {
        let found = self.command("GET", "/cookie", Value::Null)?;
        let list = found.as_array().ok_or_else(|| error(format!("no cookie list: {found}")))?;
        Ok(list
            .iter()
            .map(|c| Cookie {
                name: c["name"].as_str().unwrap_or_default().to_owned(),
                value: c["value"].as_str().unwrap_or_default().to_owned(),
                http_only: c["httpOnly"].as_bool().unwrap_or(false),
                same_site: c["sameSite"].as_str().map(str::to_owned),
            })
            .collect())
    }

    /// The cookie `name` of the page shown, if the browser holds it.
    pub fn cookie(&self, name: &str) -> Result<Option<Cookie>, BrowserError> {
        Ok(self.cookies()?.into_iter().find(|c| c.name == name))
    }

    /// The page printed to PDF as "Print" would (A4, backgrounds, the print stylesheet applied).
    pub fn print_pdf(&self) -> Result<Vec<u8>, BrowserError> {
        let options = json!({ "background": true, "page": { "width": 21.0, "height": 29.7 } });
        let encoded = text_of(self.command("POST", "/print", options)?)?;
        BASE64_STANDARD.decode(encoded).map_err(|e| error(format!("the printed PDF is not base64: {e}")))
    }

    /// A PNG screenshot of the whole page: the window is first made as tall as the page (its
    /// `scrollHeight`, at the session's width), then WebDriver's screenshot is taken.
    pub fn full_page_png(&self) -> Result<Vec<u8>, BrowserError> {
        let number = |script: &str| -> Result<u32, BrowserError> {
            self.script(script)?.trim().parse().map_err(|e| error(format!("`{script}` is not a number: {e}")))
        };
        // The window's outer height is set; the page sees its inner height: twice, to learn the
        // difference (and the page's height at the new size).
        for _ in 0..2 {
            let page = number("return String(document.documentElement.scrollHeight);")?;
            let chrome = number("return String(Math.max(0, window.outerHeight - window.innerHeight));")?;
            let rect = json!({ "width": WINDOW.0, "height": (page + chrome).clamp(WINDOW.1, 20_000) });
            self.command("POST", "/window/rect", rect)?;
        }
        let encoded = text_of(self.command("GET", "/screenshot", Value::Null)?)?;
        BASE64_STANDARD.decode(encoded).map_err(|e| error(format!("the screenshot is not base64: {e}")))
    }

    /// The page printed to PDF, then its text ([`pdf_text`]).
    pub fn print_text(&self) -> Result<String, BrowserError> {
        let pdf = self.print_pdf()?;
        pdf_text_with(&self.pdftotext, &pdf, &self.profile)
    }

    fn command(&self, method: &str, path: &str, body: Value) -> Result<Value, BrowserError> {
        let body = (!body.is_null()).then_some(body);
        Ok(self.call(method, &format!("{}{path}", self.session_url), body)?["value"].take())
    }

    /// One WebDriver request; a WebDriver error answer becomes a [`BrowserError`].
    fn call(&self, method: &str, url: &str, body: Option<Value>) -> Result<Value, BrowserError> {
        let failed = |e: ureq::Error| error(format!("WebDriver {method} {url}: {e}"));
        let mut response = match (method, body) {
            ("GET", _) => self.agent.get(url).call(),
            ("DELETE", _) => self.agent.delete(url).call(),
            (_, body) => self
                .agent
                .post(url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
        }
        .map_err(failed)?;
        let status = response.status().as_u16();
        let text = response.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_string().map_err(failed)?;
        let answer: Value = serde_json::from_str(&text)
            .map_err(|e| error(format!("WebDriver {method} {url}: not JSON ({e}), status {status}")))?;
        if status >= 400 {
            let v = &answer["value"];
            return Err(error(format!("WebDriver {method} {url}: {} ({})", v["error"], v["message"])));
        }
        Ok(answer)
    }

    /// Polls the driver's `/status` until it is ready; fails at the deadline or when the driver
    /// exits.
    fn wait_ready(&mut self, base: &str) -> Result<(), BrowserError> {
        let deadline = Instant::now() + DRIVER_START;
        let mut pause = Duration::from_millis(10);
        loop {
            if let Ok(answer) = self.call("GET", &format!("{base}/status"), None) {
                if answer["value"]["ready"].as_bool() == Some(true) {
                    return Ok(());
                }
            }
            if let Ok(Some(status)) = self.driver.try_wait() {
                return Err(error(format!("chromedriver exited at start ({status})")));
            }
            if Instant::now() > deadline {
                return Err(error(format!("chromedriver did not answer {base}/status within {DRIVER_START:?}")));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session_url.is_empty() {
            // Ends the session: chromedriver quits Chromium and waits for it.
            let _ = self.call("DELETE", &self.session_url.clone(), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // A session that failed half-way (or a driver killed before it quit Chromium) leaves
        // Chromium running: every one of its processes names the session's profile folder.
        let survivors = processes_naming(&self.profile.to_string_lossy());
        if !survivors.is_empty() {
            let _ = Command::new("kill").arg("-KILL").args(&survivors).stderr(Stdio::null()).status();
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The ids of the running processes whose command line contains `needle` (Linux's `/proc`).
pub fn processes_naming(needle: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter(|e| {
            std::fs::read(e.path().join("cmdline")).is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains(needle))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The text of a PDF, laid out as printed (`pdftotext -layout`, found on `PATH`).
pub fn pdf_text(pdf: &[u8]) -> Result<String, BrowserError> {
    let tool = which("pdftotext").ok_or_else(|| error(format!("pdftotext is not installed ({INSTALL_COMMAND})")))?;
    let dir = std::env::temp_dir().join(format!("passerelle-pdf-{}", crate::unique()));
    let text = pdf_text_with(&tool, pdf, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    text
}

fn pdf_text_with(tool: &Path, pdf: &[u8], dir: &Path) -> Result<String, BrowserError> {
    std::fs::create_dir_all(dir).map_err(|e| error(format!("cannot create {}: {e}", dir.display())))?;
    let file = dir.join(format!("printed-{}.pdf", crate::unique()));
    std::fs::write(&file, pdf).map_err(|e| error(format!("cannot write {}: {e}", file.display())))?;
    let out = Command::new(tool)
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&file)
        .arg("-")
        .output()
        .map_err(|e| error(format!("cannot run pdftotext: {e}")));
    let _ = std::fs::remove_file(&file);
    let out = out?;
    if !out.status.success() {
        return Err(error(format!("pdftotext failed: {}", String::from_utf8_lossy(&out.stderr))));
    }
    String::from_utf8(out.stdout).map_err(|_| error("pdftotext wrote no UTF-8"))
}

fn elements_of(found: Value, css: &str) -> Result<Vec<Element>, BrowserError> {
    let elements = found.as_array().ok_or_else(|| error(format!("no element list for {css}: {found}")))?;
    elements
        .iter()
        .map(|e| {
            e[ELEMENT_KEY]
                .as_str()
                .map(|id| Element(id.to_owned()))
                .ok_or_else(|| error(format!("no element reference: {e}")))
        })
        .collect()
}

fn text_of(value: Value) -> Result<String, BrowserError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(error(format!("expected a text from WebDriver, got {other}"))),
    }
}

/// A port nobody listens on now (the OS's choice for port 0), for `chromedriver --port`.
fn free_port() -> Result<u16, BrowserError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| error(format!("no free local port: {e}")))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| error(format!("no free local port: {e}")))
}

/// Whether the tests run as root (Chromium then needs `--no-sandbox`), from `/proc` so that no
/// system call crate is needed.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(1)) == Some("0")
    })
}
