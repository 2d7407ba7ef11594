//! Why a connection attempt failed, in one line an operator acts on: the broker refused the
//! login (the user, its password or certificate, the vhost and its permissions — never worth
//! retrying), it asked for a client certificate none is configured for, the TLS handshake failed
//! (the CA file, the name in the broker's certificate), or nothing answered at the address (the
//! host, the port, the scheme). lapin's own wording ("Broken pipe", "IO error") is kept at the
//! end of the line, in parentheses.

use std::io;

use lapin::uri::{AMQPScheme, AMQPUri, SASLMechanism};
use lapin::ErrorKind;

/// What went wrong with one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The broker answered and refused the login or the vhost: retrying changes nothing.
    Refused(String),
    /// Anything else: the broker may come (back) later.
    Unavailable(String),
}

impl Failure {
    pub fn is_refused(&self) -> bool {
        matches!(self, Failure::Refused(_))
    }

    pub fn into_line(self) -> String {
        match self {
            Failure::Refused(line) | Failure::Unavailable(line) => line,
        }
    }
}

/// `host:port vhost v`, as the lines name a broker.
pub(crate) fn broker_address(uri: &AMQPUri) -> String {
    format!("{}:{} vhost {}", uri.authority.host, uri.authority.port, uri.vhost)
}

/// Explains `error`, met connecting to `uri` (`client_certificate`: one is configured, with
/// this CN if it has one).
pub(crate) fn explain(uri: &AMQPUri, client_certificate: Option<Option<&str>>, error: &lapin::Error) -> Failure {
    let at = broker_address(uri);
    let user = &uri.authority.userinfo.username;
    let tls = uri.scheme == AMQPScheme::AMQPS;
    let external = uri.query.auth_mechanism == Some(SASLMechanism::External);
    let login = match client_certificate {
        Some(Some(cn)) if external => format!("the certificate's CN `{cn}`"),
        _ if external => "the certificate's CN".to_owned(),
        _ => format!("user `{user}`"),
    };
    let client_certificate = client_certificate.is_some();
    match error.kind() {
        ErrorKind::ProtocolError(amqp) => match amqp.get_id() {
            403 => Failure::Refused(format!(
                "the broker at {at} refused the login of {login} ({amqp}): check the user and its password \
                 (or certificate) in `urls` and that the user exists on the broker"
            )),
            530 => Failure::Refused(format!(
                "the broker at {at} refused {login} access to the vhost ({amqp}): check that the vhost exists \
                 and that the user has permissions on it (rabbitmqctl list_permissions -p VHOST)"
            )),
            _ => Failure::Unavailable(format!("the broker at {at} closed the connection ({amqp})")),
        },
        ErrorKind::IOError(io) => explain_io(&at, tls, client_certificate, external, io),
        ErrorKind::AuthProviderError(e) => Failure::Refused(format!(
            "the broker at {at} offers no login mechanism the URL asks for ({e}): for a certificate login add \
             ?auth_mechanism=external to the amqps:// URL and enable rabbitmq_auth_mechanism_ssl"
        )),
        _ => Failure::Unavailable(format!("cannot connect to the broker at {at} ({error})")),
    }
}

fn explain_io(at: &str, tls: bool, client_certificate: bool, external: bool, e: &io::Error) -> Failure {
    use io::ErrorKind as K;
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if tls && (lower.contains("certificaterequired") || lower.contains("certificate required")) {
        return Failure::Refused(no_certificate(at, &text));
    }
    let tls_error = e.get_ref().is_some_and(|inner| {
        let inner = format!("{inner:?}").to_ascii_lowercase();
        inner.contains("invalidcertificate") || inner.contains("alert") || inner.contains("peer")
    }) || lower.contains("invalid peer certificate")
        || lower.contains("received fatal alert");
    match e.kind() {
        K::ConnectionRefused | K::HostUnreachable | K::NetworkUnreachable | K::TimedOut | K::AddrNotAvailable => {
            Failure::Unavailable(unreachable(at, tls, &text))
        }
        _ if lower.contains("failed to lookup") || lower.contains("name or service not known") => {
            Failure::Unavailable(unreachable(at, tls, &text))
        }
        _ if tls_error => Failure::Unavailable(format!(
            "the TLS handshake with the broker at {at} failed ({text}): check [broker.tls] ca_file (the CA that \
             signed the broker's certificate), that the broker's certificate names the host of the URL (a SAN), \
             and the client certificate"
        )),
        // The broker drops a TLS client that sends no certificate when it requires one: the client
        // sees its connection closed under it. A broker going down mid-handshake looks the same,
        // so this one is retried.
        K::BrokenPipe | K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof if tls && !client_certificate => {
            Failure::Unavailable(no_certificate(at, &text))
        }
        // A broker that takes certificate logins only drops a client offering a password (lapin
        // sends its login whatever mechanisms the broker lists).
        K::BrokenPipe | K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof if tls && !external => {
            Failure::Unavailable(format!(
                "the broker at {at} closed the connection at the login ({text}): a broker that takes certificate \
                 logins only refuses a password — add ?auth_mechanism=external to the amqps:// URL"
            ))
        }
        _ => Failure::Unavailable(format!("cannot connect to the broker at {at} ({text})")),
    }
}

fn unreachable(at: &str, tls: bool, text: &str) -> String {
    let scheme = if tls { "amqps:// (TLS; 5671 by default)" } else { "amqp:// (plain; 5672 by default)" };
    format!(
        "the broker is unreachable at {at} ({text}): check the host and port of `urls` (this one is {scheme}), \
         that the broker runs, and a firewall between"
    )
}

fn no_certificate(at: &str, text: &str) -> String {
    format!(
        "the broker at {at} asked for a client certificate and closed the connection without one ({text}): \
         set [broker.tls] cert_file and key_file to this party's certificate, and add ?auth_mechanism=external \
         to the amqps:// URL"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(url: &str) -> AMQPUri {
        url.parse().unwrap()
    }

    fn io(kind: io::ErrorKind, text: &str) -> lapin::Error {
        lapin::Error::from(io::Error::new(kind, text.to_owned()))
    }

    #[test]
    fn an_unreachable_broker_names_the_address_and_what_to_check() {
        let e = io(io::ErrorKind::ConnectionRefused, "Connection refused (os error 111)");
        let line = explain(&uri("amqp://guest:guest@127.0.0.1:5999/t"), None, &e);
        assert!(!line.is_refused());
        let line = line.into_line();
        assert!(line.contains("unreachable at 127.0.0.1:5999 vhost t") && line.contains("host and port"), "{line}");
        assert!(line.contains("Connection refused") && !line.contains('\n'), "{line}");
    }

    #[test]
    fn a_tls_client_without_certificate_hears_that_the_broker_asked_for_one() {
        let e = io(io::ErrorKind::BrokenPipe, "Broken pipe (os error 32)");
        let line = explain(&uri("amqps://rabbit.example/p"), None, &e);
        assert!(!line.is_refused(), "a broker going down mid-handshake looks the same: retried");
        assert!(line.into_line().contains("asked for a client certificate"));
        let alert = io(io::ErrorKind::InvalidData, "received fatal alert: CertificateRequired");
        let line = explain(&uri("amqps://rabbit.example/p"), None, &alert);
        assert!(line.is_refused() && line.into_line().contains("asked for a client certificate"));
        let with_cert = explain(&uri("amqps://rabbit.example/p"), Some(Some("body-cnam")), &e).into_line();
        assert!(!with_cert.contains("asked for a client certificate"), "{with_cert}");
        assert!(with_cert.contains("add ?auth_mechanism=external"), "a password offered: {with_cert}");
    }
}
