//! The console as plain HTTP sees it (no browser): one request at a time with `ureq`, redirects
//! not followed, a session's cookie sent by hand; and what a page's HTML says (its `<h1>`, its
//! menu, whether it is an error page, its links, its CSRF token).

use std::time::Duration;

/// An answer: its status, its `Set-Cookie` headers and its body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Whether it is a download (`Content-Disposition: attachment`).
    pub attachment: bool,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Answer {
    /// Whether it is a page to show (HTML, not a download).
    pub fn is_page(&self) -> bool {
        self.content_type.starts_with("text/html") && !self.attachment
    }

    /// The answer's `<h1>`, when it has one.
    pub fn h1(&self) -> Option<String> {
        h1_of(&self.body)
    }
}

/// A plain HTTP client of one console (`base`: `http://127.0.0.1:PORT`).
#[derive(Debug, Clone)]
pub struct Http {
    pub base: String,
    /// The session cookie's name: the console's, after its port.
    pub cookie: String,
    agent: ureq::Agent,
}

impl Http {
    pub fn new(base: &str) -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            // The console closes a connection idle for 10 s (passerelle_metrics::deadline): a
            // pooled one that old could be closed under the request reusing it.
            .max_idle_age(Duration::from_secs(2))
            .build()
            .into();
        let port = url::Url::parse(base).ok().and_then(|u| u.port_or_known_default());
        Http { base: base.trim_end_matches('/').to_owned(), agent, cookie: passerelle_console::cookie_name(port) }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// `GET path`, with the session's cookie when given.
    pub fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut request = self.agent.get(&self.url(path));
        if let Some(cookie) = cookie {
            request = request.header("Cookie", &format!("{}={cookie}", self.cookie));
        }
        answer(request.call(), path)
    }

    /// `POST path` with `body` of `content_type`.
    pub fn post(&self, path: &str, cookie: Option<&str>, content_type: &str, body: &str) -> Answer {
        let mut request = self.agent.post(&self.url(path)).header("Content-Type", content_type);
        if let Some(cookie) = cookie {
            request = request.header("Cookie", &format!("{}={cookie}", self.cookie));
        }
        answer(request.send(body), path)
    }

    /// `POST path`, a urlencoded form.
    pub fn post_form(&self, path: &str, cookie: Option<&str>, form: &str) -> Answer {
        self.post(path, cookie, "application/x-www-form-urlencoded", form)
    }

    /// Opens the one-time URL: the session's cookie it sets (asserting the redirect home).
    pub fn redeem(&self, url: &str) -> String {
        let opened = self.get(url, None);
        assert_eq!(opened.status, 303, "the one-time URL {url} redirects home: {}", opened.body);
        opened
            .set_cookies
            .iter()
            .find_map(|c| c.strip_prefix(&format!("{}=", self.cookie)).and_then(|v| v.split(';').next()))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no session cookie set by {url}: {:?}", opened.set_cookies))
    }
}

fn answer(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>, path: &str) -> Answer {
    let mut response = result.unwrap_or_else(|e| panic!("HTTP {path}: {e}"));
    let set_cookies =
        response.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let content_type = header("content-type");
    let attachment = header("content-disposition").starts_with("attachment");
    let status = response.status().as_u16();
    let body = response.body_mut().with_config().limit(64 * 1024 * 1024).read_to_string().unwrap_or_default();
    Answer { status, content_type, attachment, set_cookies, body }
}

/// The text of the first `<h1>` of a page.
pub fn h1_of(html: &str) -> Option<String> {
    let start = html.find("<h1")?;
    let open_end = start + html[start..].find('>')? + 1;
    let end = open_end + html[open_end..].find("</h1>")?;
    Some(decode(&strip_tags(&html[open_end..end])))
}

/// Whether a page is one of the console's error pages (an alert, no menu).
pub fn is_error_page(html: &str) -> bool {
    html.contains(r#"class="notice error""#)
}

/// The `href`s of the console's menu (`<nav aria-label="Pages de la console">`).
pub fn nav_links(html: &str) -> Vec<String> {
    let Some(start) = html.find(r#"<nav aria-label="Pages de la console">"#) else { return Vec::new() };
    let end = start + html[start..].find("</nav>").unwrap_or(html.len() - start);
    hrefs(&html[start..end])
}

/// Every `href="…"` of a piece of HTML, entities decoded, in order.
pub fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"").skip(1).filter_map(|rest| rest.split('"').next()).map(decode).collect()
}

/// The CSRF token of the session a page was served in (its logout form carries it).
pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find(r#"name="csrf" value=""#)? + r#"name="csrf" value=""#.len();
    html[at..].split('"').next().map(decode)
}

/// The text of HTML: tags dropped, entities decoded.
pub fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The entities `html::text` writes, decoded (and the numeric ones).
pub fn decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            e if e.starts_with("#x") || e.starts_with("#X") => {
                u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32)
            }
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn pages_are_read_as_the_console_writes_them() {
    let page = r#"<header><nav aria-label="Pages de la console"><ul><li><a href="/cases">Dossiers</a></li><li><a href="/a?x=1&amp;y=2">A</a></li></ul></nav><form><input type="hidden" name="csrf" value="t0k"></form></header><main><h1>Dossiers &amp; suivis</h1><a href="/cases/1">1</a></main>"#;
    assert_eq!(nav_links(page), ["/cases", "/a?x=1&y=2"]);
    assert_eq!(h1_of(page).as_deref(), Some("Dossiers & suivis"));
    assert_eq!(csrf_of(page).as_deref(), Some("t0k"));
    assert_eq!(hrefs(page).len(), 3);
    assert!(!is_error_page(page));
    assert_eq!(decode("D&#39;Angelo &#x27;x&#x27; &bogus; &"), "D'Angelo 'x' &bogus; &");
}
