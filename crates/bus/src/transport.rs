//! The production rule of the broker connection: over TLS. Outside the development profile a
//! party refuses to start ([`BusSettings::check_transport`]) when one of its `urls` is plain
//! `amqp://` to a broker on another host: the messages carry NIRs and the decree's categories,
//! and a plain connection would show them (and the party's password) to the network. Plain AMQP
//! to this host (`localhost`, `127.0.0.0/8`, `::1`) stays allowed: it never leaves the machine.
//!
//! The check reads only the settings: it never connects.

use std::net::IpAddr;

use lapin::uri::{AMQPScheme, AMQPUri};

use crate::{BusSettings, BusSettingsError};

impl BusSettings {
    /// Refuses a plain `amqp://` URL to a broker that is not on this host (the error's key is
    /// relative to `[broker]`, as [`BusSettings::check`]'s). The development profile does not
    /// call it. The message names the host, never the URL (it may hold a password).
    pub fn check_transport(&self) -> Result<(), BusSettingsError> {
        for (i, url) in self.urls.iter().enumerate() {
            // A URL that does not parse is refused by the bus, which says why.
            let Ok(uri) = url.parse::<AMQPUri>() else { continue };
            let host = host_of(url);
            if uri.scheme == AMQPScheme::AMQPS || is_loopback(host) {
                continue;
            }
            let which = if self.urls.len() > 1 { format!("the URL #{} ", i + 1) } else { "the URL ".to_owned() };
            return Err(BusSettingsError {
                key: "urls".to_owned(),
                message: format!(
                    "{which}is plain `amqp://` to {host:?}, another host: outside `profile = \"development\"` \
                     the broker is reached over TLS — write `amqps://` (RabbitMQ's TLS port, 5671) and its CA \
                     under [broker.tls] (README, \"Broker settings\"); plain `amqp://` is allowed only to a \
                     broker on this host (localhost, 127.0.0.0/8, ::1)"
                ),
            });
        }
        Ok(())
    }
}

/// The host a URL names, read from its text: the parsed URI's host is `localhost` for an IPv6
/// address (`url::Url::domain` is `None` for it), so it cannot be trusted here. Empty (the
/// default, `localhost`) when the URL names none.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    }
}

/// Whether `host` (a name, an IPv4 or an IPv6 address; empty for the default, `localhost`) is this
/// machine's loopback. Only the name `localhost` is taken on trust; other names may resolve
/// anywhere.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.is_empty() || host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(urls: &[&str]) -> Result<(), BusSettingsError> {
        BusSettings { urls: urls.iter().map(|u| (*u).to_owned()).collect(), ..Default::default() }.check_transport()
    }

    #[test]
    fn plain_amqp_to_another_host_is_refused_naming_the_key_and_amqps() {
        let e = with(&["amqp://body-cnaf:s3cret@rabbit.example:5672/passerelle"]).unwrap_err();
        assert_eq!(e.key, "urls");
        assert!(e.message.contains("\"rabbit.example\"") && e.message.contains("amqps://"), "{e}");
        assert!(!e.message.contains("s3cret"), "the URL is not quoted: {e}");
        for url in ["amqp://10.0.0.5/passerelle", "amqp://[2001:db8::1]:5672/x", "amqp://vm/x", "amqp://128.0.0.1/x"] {
            assert!(with(&[url]).is_err(), "{url}");
        }
        let e = with(&["amqps://rabbit-1.example/passerelle", "amqp://rabbit-2.example/passerelle"]).unwrap_err();
        assert!(e.message.starts_with("the URL #2 "), "every URL is checked: {e}");
    }

    #[test]
    fn tls_and_plain_amqp_on_this_host_are_accepted() {
        with(&["amqps://body-cnaf@rabbit.example:5671/passerelle?auth_mechanism=external"]).unwrap();
        for url in [
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            "amqp://127.8.9.10/x",
            "amqp://localhost/x",
            "amqp://LOCALHOST./x",
            "amqp://[::1]:5672/x",
            "amqp://[::ffff:127.0.0.1]/x",
            "amqp:///x",
        ] {
            with(&[url]).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        BusSettings::default().check_transport().expect("the development default is the local broker");
    }
}
