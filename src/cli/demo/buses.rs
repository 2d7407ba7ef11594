//! The demo's buses, one connection per party: the in-process bus, with one broker user per
//! party and the identity map enforced (nobody may speak for another), or RabbitMQ under a
//! fresh prefix, every party logging in with the URL's one account, which the identity map lets
//! speak for all of them.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use passerelle_bus::{AmqpBus, Bus, BusSettings, InProcessBus, Role};
use passerelle_party::PartySettings;

/// The buses of the run: one connection per party.
pub struct Buses {
    pub settings: BusSettings,
    observatory: Arc<dyn Bus>,
    requester: Arc<dyn Bus>,
    responders: BTreeMap<String, Arc<dyn Bus>>,
    /// The in-process broker (dead-letter counts).
    in_process: Option<InProcessBus>,
    /// The AMQP connections, closed at the end.
    amqp: Vec<Arc<AmqpBus>>,
}

/// The broker user of a party on the in-process bus.
fn user_of(party: &str) -> String {
    format!("passerelle-{party}")
}

impl Buses {
    /// The in-process bus, with one broker user per party and the identity map enforced;
    /// `requester` is the requesting body's code.
    pub fn in_process(observatory: &str, requester: &str) -> Buses {
        let mut settings = BusSettings { observatories: vec![observatory.to_owned()], ..BusSettings::default() };
        settings.identity.insecure_any_user = false;
        for party in settings.observatories.iter().chain(&settings.bodies) {
            settings.identity.users.insert(user_of(party), vec![party.clone()]);
        }
        let bus = InProcessBus::new(&settings);
        let responders = settings
            .bodies
            .iter()
            .map(|b| (b.clone(), Arc::new(bus.connect_as(&user_of(b))) as Arc<dyn Bus>))
            .collect();
        Buses {
            observatory: Arc::new(bus.connect_as(&user_of(observatory))),
            requester: Arc::new(bus.connect_as(&user_of(requester))),
            responders,
            in_process: Some(bus),
            amqp: Vec::new(),
            settings,
        }
    }

    /// RabbitMQ under a fresh prefix: the observatory connects first (it declares the
    /// topology), then the requester (the body `requester`) and each responder check that their
    /// queues exist.
    pub async fn amqp(url: &str, observatory: &str, requester: &str, responders: &[String]) -> anyhow::Result<Buses> {
        let prefix = format!("demo-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let settings = BusSettings {
            urls: vec![url.to_owned()],
            prefix,
            observatories: vec![observatory.to_owned()],
            ..BusSettings::default()
        };
        settings.validate().context("--amqp")?;
        // One broker login for every party here: the identity map says so explicitly (rather
        // than the insecure profile), and the receivers still check every sender against it.
        let mut settings = settings;
        settings.identity.insecure_any_user = false;
        let parties: Vec<String> = settings.observatories.iter().chain(&settings.bodies).cloned().collect();
        settings.identity.users.insert(login_of(url), parties);
        let connect = |role: Role| {
            let settings = settings.clone();
            async move {
                let what = format!("cannot connect to RabbitMQ at {} as {}", redact(&settings.urls[0]), role.code());
                AmqpBus::connect(&settings, role).await.map(Arc::new).context(what)
            }
        };
        let observatory_bus = connect(Role::Observatory(observatory.to_owned())).await?;
        // From here on, a failure must still close what is open and delete the topology.
        let mut amqp = vec![Arc::clone(&observatory_bus)];
        let mut failure = None;
        let mut requester_bus = None;
        let mut responder_buses = BTreeMap::new();
        for party in std::iter::once(requester).chain(responders.iter().map(String::as_str)) {
            match connect(Role::Body(party.to_owned())).await {
                Ok(bus) => {
                    amqp.push(Arc::clone(&bus));
                    if requester_bus.is_none() {
                        requester_bus = Some(bus as Arc<dyn Bus>);
                    } else {
                        responder_buses.insert(party.to_owned(), bus as Arc<dyn Bus>);
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let observatory_bus: Arc<dyn Bus> = observatory_bus;
        let buses = Buses {
            requester: requester_bus.unwrap_or_else(|| Arc::clone(&observatory_bus)),
            observatory: observatory_bus,
            responders: responder_buses,
            in_process: None,
            amqp,
            settings,
        };
        match failure {
            None => Ok(buses),
            Some(e) => {
                buses.close().await;
                Err(e)
            }
        }
    }

    /// Messages dead-lettered during the run, as far as this process can tell.
    pub fn dead_letters(&self) -> u64 {
        self.in_process.as_ref().map_or(0, |b| b.dead_letters().len() as u64)
    }

    /// Closes every AMQP connection, then (AMQP) deletes the prefix's exchanges and queues.
    /// Returns whether the topology was deleted (`None` in process).
    pub async fn close(self) -> Option<bool> {
        let Buses { settings, observatory, requester, responders, amqp, in_process, .. } = self;
        drop((observatory, requester, responders, in_process));
        if amqp.is_empty() {
            return None;
        }
        for bus in amqp {
            bus.close().await;
        }
        match passerelle_bus::amqp::delete_topology(&settings).await {
            Ok(()) => Some(true),
            Err(e) => {
                tracing::warn!(error = %e, prefix = %settings.prefix, "cannot delete the demo's exchanges and queues");
                Some(false)
            }
        }
    }
}

/// The user an AMQP URL logs in as (`guest` when it names none, as RabbitMQ does).
fn login_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    match authority.rsplit_once('@') {
        Some((userinfo, _)) => userinfo.split(':').next().unwrap_or("guest").to_owned(),
        None => "guest".to_owned(),
    }
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:…@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl Buses {
    /// The connection of a party of the deployment.
    pub fn bus_for(&self, party: &PartySettings) -> Arc<dyn Bus> {
        match party {
            PartySettings::Observatory(_) => Arc::clone(&self.observatory),
            PartySettings::Requester(_) => Arc::clone(&self.requester),
            PartySettings::Responder(r) => Arc::clone(&self.responders[&r.body]),
            // The demo builds its social service without a party (it speaks on no bus): never asked.
            PartySettings::SocialService(_) => Arc::clone(&self.requester),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_their_login_and_lose_their_password() {
        assert_eq!(login_of("amqp://guest:guest@127.0.0.1:5672/%2f"), "guest");
        assert_eq!(login_of("amqps://demo@rabbit:5671/v"), "demo");
        assert_eq!(login_of("amqp://127.0.0.1:5672"), "guest");
        assert_eq!(redact("amqp://guest:secret@127.0.0.1:5672/%2f"), "amqp://guest:…@127.0.0.1:5672/%2f");
        assert_eq!(redact("amqp://127.0.0.1"), "amqp://127.0.0.1");
    }
}
