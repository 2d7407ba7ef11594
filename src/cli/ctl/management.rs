//! The RabbitMQ management API, read-only: the queues of a vhost with their depth and
//! consumers (`GET /api/queues/{vhost}`). A deliberately small HTTP/1.0 client (plain `http://`,
//! basic authentication, bounded waits): `ctl` needs one request, not a web stack. HTTP/1.0
//! makes the server answer without chunked encoding and close the connection.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The management API of a local broker with the plugin enabled.
pub const DEFAULT_URL: &str = "http://127.0.0.1:15672";

/// How long to wait for the management API: it answers in milliseconds when it is there.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read (a queue list of a large deployment is tens of kB).
const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;

/// One queue as the management API reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueInfo {
    pub name: String,
    /// Messages ready to be delivered.
    pub ready: u64,
    /// Delivered, not acknowledged yet.
    pub unacknowledged: u64,
    pub consumers: u64,
}

/// Why the queues could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    #[error("{0} is not an http:// URL (the management API is read over plain HTTP here; use a tunnel for HTTPS)")]
    Url(String),
    #[error("the RabbitMQ management API is not reachable at {url} ({reason})")]
    Unreachable { url: String, reason: String },
    #[error("the RabbitMQ management API at {url} refused the credentials of user `{user}` (HTTP {status})")]
    Refused { url: String, user: String, status: u16 },
    #[error("the RabbitMQ management API at {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("the RabbitMQ management API at {url} sent an answer that is not a queue list: {reason}")]
    Answer { url: String, reason: String },
}

impl ManagementError {
    /// Whether the API is simply not there (the plugin is not enabled, or another address).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ManagementError::Unreachable { .. })
    }
}

/// `host:port` and path prefix of an `http://` URL.
fn split_url(url: &str) -> Result<(String, String), ManagementError> {
    let rest = url.strip_prefix("http://").ok_or_else(|| ManagementError::Url(url.to_owned()))?;
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    if authority.is_empty() || authority.contains('@') {
        return Err(ManagementError::Url(url.to_owned()));
    }
    let authority = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
    Ok((authority, path.trim_end_matches('/').to_owned()))
}

/// Percent-encodes a vhost for a URL path (`/` is `%2F`).
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Standard base64 (for the basic authentication header).
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One `GET`, returning the status and the body.
fn get(url: &str, path: &str, user: &str, password: &str) -> Result<(u16, String), ManagementError> {
    let (authority, prefix) = split_url(url)?;
    let unreachable = |reason: String| ManagementError::Unreachable { url: url.to_owned(), reason };
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| unreachable(e.to_string()))?
        .next()
        .ok_or_else(|| unreachable("no address".into()))?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| unreachable(e.to_string()))?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(|e| unreachable(e.to_string()))?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(|e| unreachable(e.to_string()))?;
    let full_path = if prefix.is_empty() { path.to_owned() } else { format!("/{prefix}{path}") };
    let request = format!(
        "GET {full_path} HTTP/1.0\r\nHost: {authority}\r\nAuthorization: Basic {}\r\nAccept: application/json\r\n\
         User-Agent: passerelle-ctl\r\n\r\n",
        base64(format!("{user}:{password}").as_bytes())
    );
    stream.write_all(request.as_bytes()).map_err(|e| unreachable(e.to_string()))?;
    let mut raw = Vec::new();
    stream.take(MAX_ANSWER_BYTES).read_to_end(&mut raw).map_err(|e| unreachable(e.to_string()))?;
    let raw = String::from_utf8_lossy(&raw);
    let status = raw.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// The queues of `vhost` whose names start with `prefix.`, by name.
pub fn queues(
    url: &str,
    user: &str,
    password: &str,
    vhost: &str,
    prefix: &str,
) -> Result<Vec<QueueInfo>, ManagementError> {
    let path =
        format!("/api/queues/{}?columns=name,messages_ready,messages_unacknowledged,consumers", encode_segment(vhost));
    let (status, body) = get(url, &path, user, password)?;
    match status {
        200 => {}
        401 | 403 => return Err(ManagementError::Refused { url: url.to_owned(), user: user.to_owned(), status }),
        _ => return Err(ManagementError::Status { url: url.to_owned(), status }),
    }
    let answer = |reason: String| ManagementError::Answer { url: url.to_owned(), reason };
    let list: Vec<serde_json::Value> = serde_json::from_str(&body).map_err(|e| answer(e.to_string()))?;
    let own = format!("{prefix}.");
    let mut queues: Vec<QueueInfo> = list
        .iter()
        .filter_map(|q| {
            let name = q["name"].as_str()?;
            name.starts_with(&own).then(|| QueueInfo {
                name: name.to_owned(),
                ready: q["messages_ready"].as_u64().unwrap_or(0),
                unacknowledged: q["messages_unacknowledged"].as_u64().unwrap_or(0),
                consumers: q["consumers"].as_u64().unwrap_or(0),
            })
        })
        .collect();
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(queues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_vhosts_and_credentials_are_encoded() {
        assert_eq!(split_url("http://127.0.0.1:15672").unwrap(), ("127.0.0.1:15672".into(), String::new()));
        assert_eq!(split_url("http://rabbit/admin/").unwrap(), ("rabbit:80".into(), "admin".into()));
        assert!(split_url("https://rabbit:15671").is_err());
        assert!(split_url("http://guest:guest@rabbit:15672").is_err(), "credentials go in flags, not the URL");
        assert_eq!(encode_segment("/"), "%2F");
        assert_eq!(encode_segment("prod"), "prod");
        assert_eq!(base64(b"guest:guest"), "Z3Vlc3Q6Z3Vlc3Q=");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn a_closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = queues(&format!("http://{addr}"), "guest", "guest", "/", "passerelle").unwrap_err();
        assert!(err.is_unreachable(), "{err}");
    }
}
