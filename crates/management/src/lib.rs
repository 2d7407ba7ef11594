//! The RabbitMQ management API, read-only (plugin `rabbitmq_management`): the queues of a
//! deployment's prefix with their depth and consumers ([`client`]), the consumers where none
//! should be ([`consumers`]), and the whole report an operator reads ([`report`]) — what
//! `passerelle ctl status` prints and the observatory's console shows on its queues page.
//! Blocking `ureq` requests with a bounded wait: call them from a blocking thread.
#![forbid(unsafe_code)]

pub mod client;
pub mod consumers;

use passerelle_bus::BusSettings;
use serde::{Deserialize, Serialize};

pub use client::{check_url, consumer_connections, queues, ManagementError, QueueInfo, DEFAULT_URL};
pub use consumers::{unexpected, UnexpectedConsumer};

/// The deploy kit's operators' account on the management API (`deploy/rabbitmq/rabbitmq.conf`):
/// the management login under certificate login, where the broker URL holds no password.
pub const OPERATORS_USER: &str = "passerelle-ops";

/// The user and password of an AMQP URL, as the bus logs in with them (`guest`/`guest` when it
/// names none, as RabbitMQ does).
pub fn credentials(url: &str) -> (String, String) {
    match url.parse::<lapin::uri::AMQPUri>() {
        Ok(uri) => (uri.authority.userinfo.username, uri.authority.userinfo.password),
        Err(_) => ("guest".to_owned(), "guest".to_owned()),
    }
}

/// Whether the URL logs in by certificate (`?auth_mechanism=external`).
pub fn certificate_login(url: &str) -> bool {
    url.parse::<lapin::uri::AMQPUri>()
        .is_ok_and(|uri| uri.query.auth_mechanism == Some(lapin::uri::SASLMechanism::External))
}

/// The management API login: `user` and `password` when given, else the broker URL's — or,
/// under certificate login, the operators' account, whose password must then be given.
pub fn management_login(url: &str, user: Option<&str>, password: Option<&str>) -> Result<(String, String), String> {
    if certificate_login(url) {
        let user = user.unwrap_or(OPERATORS_USER).to_owned();
        return match password {
            Some(password) => Ok((user, password.to_owned())),
            None => Err(format!(
                "the broker URL logs in by certificate, so it holds no management password: give the password of \
                 `{user}` with RABBITMQ_MANAGEMENT_PASSWORD (or --management-password; another user with \
                 --management-user)."
            )),
        };
    }
    let (url_user, url_password) = credentials(url);
    Ok((user.map_or(url_user, str::to_owned), password.map_or(url_password, str::to_owned)))
}

/// The queues as the management API reports them, or why they are not available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queues {
    pub available: bool,
    pub management_url: String,
    pub vhost: String,
    pub prefix: String,
    pub queues: Vec<QueueInfo>,
    /// Consumers where none should be ([`consumers`] has the rule).
    pub unexpected_consumers: Vec<UnexpectedConsumer>,
    /// When not available: why, and how to enable it.
    pub message: Option<String>,
}

/// The queues of the deployment `broker` describes, read at `management_url` with the login of
/// [`management_login`] (`user`, `password` overriding the broker URL's): never an error — what
/// could not be read is said in [`Queues::message`]. A broker without a vhost of its own is
/// the settings' problem, said there too.
pub fn report(broker: &BusSettings, management_url: &str, user: Option<&str>, password: Option<&str>) -> Queues {
    let vhost = passerelle_bus::definitions::vhost(broker);
    let mut queues = Queues {
        available: false,
        management_url: management_url.to_owned(),
        vhost: vhost.as_ref().map(Clone::clone).unwrap_or_default(),
        prefix: broker.prefix.clone(),
        queues: Vec::new(),
        unexpected_consumers: Vec::new(),
        message: None,
    };
    let vhost = match vhost {
        Ok(vhost) => vhost,
        Err(e) => {
            queues.message = Some(format!("the broker's vhost cannot be told from its URL: {e}."));
            return queues;
        }
    };
    let Some(first) = broker.urls.first() else {
        queues.message = Some("the settings name no broker URL.".to_owned());
        return queues;
    };
    let prefix = broker.prefix.as_str();
    let (user, password) = match management_login(first, user, password) {
        Ok(login) => login,
        Err(no_login) => {
            queues.message = Some(no_login);
            return queues;
        }
    };
    match client::queues(management_url, &user, &password, &vhost, prefix) {
        Ok(list) => {
            let connections = client::consumer_connections(management_url, &user, &password, &vhost, prefix)
                .unwrap_or_else(|e| {
                    queues.message = Some(format!("the consumers' connections are not listed: {e}."));
                    Default::default()
                });
            queues.unexpected_consumers = consumers::unexpected(broker, &list, &connections);
            queues.available = true;
            queues.queues = list;
        }
        Err(e) if e.is_unreachable() => {
            queues.message = Some(format!(
                "{e}: queue depths and consumers need RabbitMQ's management plugin — enable it with \
                 `rabbitmq-plugins enable rabbitmq_management`, or give its address."
            ));
        }
        Err(e) => queues.message = Some(format!("{e}.")),
    }
    queues
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_broker_url() {
        assert_eq!(credentials("amqp://guest:guest@127.0.0.1:5672/%2f"), ("guest".into(), "guest".into()));
        assert_eq!(credentials("amqps://obs:p%40ss@rabbit:5671/prod"), ("obs".into(), "p@ss".into()));
        assert_eq!(credentials("amqp://rabbit:5672"), ("guest".into(), "guest".into()));
    }

    #[test]
    fn under_certificate_login_the_management_login_is_the_operators_account() {
        let url = "amqps://observatory-sud-est@rabbit:5671/passerelle?auth_mechanism=external";
        assert_eq!(management_login(url, None, Some("s3")), Ok(("passerelle-ops".into(), "s3".into())));
        assert_eq!(management_login(url, Some("alice"), Some("s3")), Ok(("alice".into(), "s3".into())));
        let missing = management_login(url, None, None).unwrap_err();
        assert!(missing.contains("RABBITMQ_MANAGEMENT_PASSWORD") && missing.contains("passerelle-ops"), "{missing}");
        let plain = "amqp://obs:pw@rabbit:5672/prod";
        assert_eq!(management_login(plain, None, None), Ok(("obs".into(), "pw".into())));
        assert_eq!(management_login(plain, Some("ops"), None), Ok(("ops".into(), "pw".into())));
    }
}
