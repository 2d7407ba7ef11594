//! The RabbitMQ of the tests: its URL (`PASSERELLE_TEST_AMQP_URL`, else the local guest),
//! whether it answers, and a vhost or user of a test's own, made and removed with `rabbitmqctl`
//! (the management plugin is not enabled on every machine that runs the suite; `rabbitmqctl`
//! comes with every broker `scripts/test` starts).
//!
//! A broker that does not answer fails the test under `CI=true`: the suite never passes by
//! skipping what it could not reach. Outside CI a test may skip, saying so.

use std::net::{TcpStream, ToSocketAddrs};
use std::process::Command;
use std::time::Duration;

use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};
use url::Url;

/// The environment variable naming the test broker.
pub const AMQP_URL_VAR: &str = "PASSERELLE_TEST_AMQP_URL";
/// The test broker when [`AMQP_URL_VAR`] is not set: the local broker's guest, default vhost.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// How long the reachability probe waits for a TCP connection: a local broker answers in
/// microseconds, and a firewalled address must not hold a test for long.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The broker URL of the tests.
pub fn amqp_url() -> String {
    std::env::var(AMQP_URL_VAR).unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned())
}

fn parse(url: &str) -> Url {
    Url::parse(url).unwrap_or_else(|e| panic!("{AMQP_URL_VAR} must be an AMQP URL, got {url:?}: {e}"))
}

/// `host:port` of an AMQP URL (5672, or 5671 for `amqps`, when it names no port).
pub fn authority(url: &str) -> String {
    let parsed = parse(url);
    let host = parsed.host_str().unwrap_or("127.0.0.1");
    let port = parsed.port().unwrap_or(if parsed.scheme() == "amqps" { 5671 } else { 5672 });
    format!("{host}:{port}")
}

/// The user and password of an AMQP URL, decoded.
pub fn credentials(url: &str) -> (String, String) {
    let parsed = parse(url);
    (url_decode(parsed.username()), url_decode(parsed.password().unwrap_or("")))
}

/// The broker user an AMQP URL logs in as: its user, `guest` when it names none (as RabbitMQ
/// and lapin do). A party alone on the test broker maps it to itself, its own broker identity.
pub fn login(url: &str) -> String {
    match credentials(url).0 {
        user if user.is_empty() => "guest".to_owned(),
        user => user,
    }
}

/// The vhost of an AMQP URL (`%2f` is `/`, no path is `/`).
pub fn vhost_of(url: &str) -> String {
    let parsed = parse(url);
    let path = parsed.path().trim_start_matches('/');
    if path.is_empty() {
        "/".to_owned()
    } else {
        url_decode(path)
    }
}

/// The test broker's URL for `user` in `vhost`.
pub fn url(vhost: &str, user: &str, password: &str) -> String {
    let mut parsed = parse(&amqp_url());
    parsed.set_username(user).expect("an AMQP URL has a host");
    parsed.set_password(Some(password)).expect("an AMQP URL has a host");
    parsed.set_path(&format!("/{}", utf8_percent_encode(vhost, NON_ALPHANUMERIC)));
    parsed.to_string()
}

fn url_decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Whether the broker at `url` accepts a TCP connection. When it does not: under `CI=true` the
/// test fails here; otherwise it prints that it is skipped and gets `false`.
pub fn broker_reachable_or_skip(url: &str) -> bool {
    let reachable = authority(url)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).is_ok());
    if !reachable {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true and RabbitMQ is unreachable at {url}");
        eprintln!("SKIPPED: RabbitMQ unreachable at {url} (start it, or set {AMQP_URL_VAR}; under CI=true this fails)");
    }
    reachable
}

/// Runs `rabbitmqctl`; fails the test when it cannot run or does not succeed. Returns stdout.
pub fn rabbitmqctl(args: &[&str]) -> String {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run rabbitmqctl {args:?}: {e} (the broker tests need it)"));
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A vhost of the test's own, deleted (with everything in it) on drop.
#[derive(Debug)]
pub struct Vhost {
    pub name: String,
}

impl Vhost {
    /// A fresh vhost where the test broker's user may do anything.
    pub fn new() -> Vhost {
        let vhost = Vhost::reserved();
        rabbitmqctl(&["add_vhost", &vhost.name]);
        rabbitmqctl(&["set_permissions", "-p", &vhost.name, &credentials(&amqp_url()).0, ".*", ".*", ".*"]);
        vhost
    }

    /// A fresh name only, for a vhost something else creates (`rabbitmqctl import_definitions`);
    /// deleted on drop all the same.
    pub fn reserved() -> Vhost {
        Vhost { name: crate::unique_name("test") }
    }

    /// The test broker user's URL in this vhost.
    pub fn url(&self) -> String {
        let (user, password) = credentials(&amqp_url());
        url(&self.name, &user, &password)
    }

    /// The queues of this vhost as `rabbitmqctl list_queues` gives them: JSON objects with
    /// `name`, `arguments` and `messages`.
    pub fn queues(&self) -> Vec<serde_json::Value> {
        let out = rabbitmqctl(&[
            "list_queues",
            "-q",
            "-p",
            &self.name,
            "name",
            "arguments",
            "messages",
            "--formatter",
            "json",
        ]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("rabbitmqctl list_queues gave no JSON ({e}): {out}"))
    }

    /// Closes every client connection of this vhost (as a broker restart would, for it alone).
    pub fn close_connections(&self) {
        rabbitmqctl(&["close_all_connections", "-p", &self.name, "passerelle fault test"]);
    }
}

impl Default for Vhost {
    fn default() -> Vhost {
        Vhost::new()
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl").args(["delete_vhost", &self.name]).output();
    }
}

/// A broker user with a random password; deleted on drop.
#[derive(Debug)]
pub struct User {
    pub name: String,
    pub password: String,
}

impl User {
    /// Creates the user `name` (it has no permission yet).
    pub fn new(name: &str) -> User {
        let password = crate::unique();
        rabbitmqctl(&["add_user", name, &password]);
        User { name: name.to_owned(), password }
    }

    /// Gives a password to a user that an import created.
    pub fn imported(name: &str) -> User {
        let password = crate::unique();
        rabbitmqctl(&["change_password", name, &password]);
        User { name: name.to_owned(), password }
    }

    /// This user's URL in `vhost`.
    pub fn url(&self, vhost: &Vhost) -> String {
        url(&vhost.name, &self.name, &self.password)
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl").args(["delete_user", &self.name]).output();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_of_an_amqp_url() {
        let u = "amqp://gu%40est:p%2fw@rabbit.example:5673/pro%2fd";
        assert_eq!(authority(u), "rabbit.example:5673");
        assert_eq!(credentials(u), ("gu@est".to_owned(), "p/w".to_owned()));
        assert_eq!(vhost_of(u), "pro/d");
        assert_eq!(authority("amqps://h/x"), "h:5671");
        assert_eq!(authority("amqp://h"), "h:5672");
        assert_eq!(vhost_of("amqp://h"), "/");
        assert_eq!(vhost_of("amqp://h/%2f"), "/");
    }

    #[test]
    fn a_url_for_a_user_in_a_vhost_keeps_the_test_broker_address() {
        let built = url("test-a/b", "cnam", "secret");
        assert_eq!(vhost_of(&built), "test-a/b");
        assert_eq!(credentials(&built), ("cnam".to_owned(), "secret".to_owned()));
        assert_eq!(authority(&built), authority(&amqp_url()));
    }
}
