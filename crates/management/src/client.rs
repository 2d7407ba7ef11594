//! The RabbitMQ management API's two reads: the queues of a vhost with their depth and
//! consumers (`GET /api/queues/{vhost}`) and which connection each consumer is on
//! (`GET /api/consumers/{vhost}`), each one blocking `ureq` request (plain `http://`, basic
//! authentication, a bounded wait).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::prelude::{Engine as _, BASE64_STANDARD};
use url::Url;

/// The management API of a local broker with the plugin enabled.
pub const DEFAULT_URL: &str = "http://127.0.0.1:15672";

/// How long to wait for the management API: it answers in milliseconds when it is there.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read (a queue list of a large deployment is tens of kB).
const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;

/// One queue as the management API reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// The address of the queue list of `vhost`: `url`'s path prefix, then `/api/queues/{vhost}`
/// (the vhost percent-encoded as one segment: `/` is `%2F`). Only `http://`, and no credentials in
/// the URL (they go in flags, kept out of shell histories and process lists).
fn queues_url(url: &str, vhost: &str) -> Result<Url, ManagementError> {
    let mut address = api_url(url, "queues", vhost)?;
    address.set_query(Some("columns=name,messages_ready,messages_unacknowledged,consumers"));
    Ok(address)
}

/// Ok when `url` is one the management API is read at: `http://`, no credentials in it.
pub fn check_url(url: &str) -> Result<(), ManagementError> {
    api_url(url, "queues", "/").map(|_| ())
}

/// The address of the list `what` (`queues`, `consumers`) of `vhost`.
fn api_url(url: &str, what: &str, vhost: &str) -> Result<Url, ManagementError> {
    let refused = || ManagementError::Url(url.to_owned());
    let mut address = Url::parse(url).map_err(|_| refused())?;
    if address.scheme() != "http" || !address.username().is_empty() || address.password().is_some() {
        return Err(refused());
    }
    address.path_segments_mut().map_err(|()| refused())?.pop_if_empty().extend(["api", what, vhost]);
    Ok(address)
}

/// One `GET`, returning the status and the body.
fn get(url: &str, address: &Url, user: &str, password: &str) -> Result<(u16, String), ManagementError> {
    let unreachable = |reason: String| ManagementError::Unreachable { url: url.to_owned(), reason };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .user_agent("passerelle")
        .build()
        .into();
    let credentials = BASE64_STANDARD.encode(format!("{user}:{password}"));
    let mut response = agent
        .get(address.as_str())
        .header("Authorization", format!("Basic {credentials}"))
        .header("Accept", "application/json")
        .call()
        .map_err(|e| unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()
        .map_err(|e| unreachable(e.to_string()))?;
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
    let list = list(url, &queues_url(url, vhost)?, user, password)?;
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

/// One `GET` of a JSON list.
fn list(url: &str, address: &Url, user: &str, password: &str) -> Result<Vec<serde_json::Value>, ManagementError> {
    let (status, body) = get(url, address, user, password)?;
    match status {
        200 => {}
        401 | 403 => return Err(ManagementError::Refused { url: url.to_owned(), user: user.to_owned(), status }),
        _ => return Err(ManagementError::Status { url: url.to_owned(), status }),
    }
    let answer = |reason: String| ManagementError::Answer { url: url.to_owned(), reason };
    serde_json::from_str(&body).map_err(|e| answer(e.to_string()))
}

/// For each queue of `vhost` whose name starts with `prefix.`, the connections its consumers
/// are on (as the broker names them: `client address -> broker address`).
pub fn consumer_connections(
    url: &str,
    user: &str,
    password: &str,
    vhost: &str,
    prefix: &str,
) -> Result<BTreeMap<String, BTreeSet<String>>, ManagementError> {
    let list = list(url, &api_url(url, "consumers", vhost)?, user, password)?;
    let own = format!("{prefix}.");
    let mut connections: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in &list {
        let (Some(queue), Some(connection)) =
            (c["queue"]["name"].as_str(), c["channel_details"]["connection_name"].as_str())
        else {
            continue;
        };
        if queue.starts_with(&own) {
            connections.entry(queue.to_owned()).or_default().insert(connection.to_owned());
        }
    }
    Ok(connections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_vhosts_are_encoded() {
        let at = |url, vhost| queues_url(url, vhost).map(|u| u.to_string());
        let columns = "?columns=name,messages_ready,messages_unacknowledged,consumers";
        assert_eq!(
            at("http://127.0.0.1:15672", "/").unwrap(),
            format!("http://127.0.0.1:15672/api/queues/%2F{columns}")
        );
        assert_eq!(
            at("http://rabbit/admin/", "prod").unwrap(),
            format!("http://rabbit/admin/api/queues/prod{columns}")
        );
        assert!(at("https://rabbit:15671", "/").is_err());
        assert!(at("http://guest:guest@rabbit:15672", "/").is_err(), "credentials go in flags, not the URL");
        assert!(at("rabbit:15672", "/").is_err());
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
