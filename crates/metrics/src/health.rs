//! What `/health` reports: whether the daemon serves (it is not still starting nor stopping),
//! whether its broker connection is open, why it is unhealthy when it is, the profile it runs
//! under, and the notices its bootstrap announces at every start (e.g. development hooks that
//! are active).
//!
//! A daemon is healthy while it serves and its bus is connected: a service manager or a load
//! balancer takes it out of rotation as soon as it loses the broker, and back once the bus
//! has reconnected by itself.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, RwLock};

use passerelle_bus::BrokerHealth;

/// Where a daemon is in its life, as `/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Built, not consuming yet.
    Starting,
    /// Started while its broker is down: retrying until it answers or `start_timeout_s` passes.
    #[serde(rename = "waiting_for_broker")]
    WaitingForBroker,
    /// Consuming and publishing.
    Serving,
    /// Asked to stop: finishing its in-flight work.
    Stopping,
    /// Waiting for a lock another process holds (an observatory whose territory runs elsewhere):
    /// not consuming; it takes over when the lock is released.
    #[serde(rename = "standing_by")]
    StandingBy,
}

/// The body of `/health` (JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HealthReport {
    /// Serving with the broker connected: `/health` answers 200, otherwise 503.
    pub healthy: bool,
    pub phase: Phase,
    /// Whether the bus's connection to the broker is open now.
    pub broker_connected: bool,
    /// Why it is not healthy, in words an operator acts on (empty when healthy).
    pub reasons: Vec<String>,
    /// The profile the daemon runs under, `production` or `development` (the shared broker
    /// identity and development hooks allowed): an operator sees at once a daemon that must
    /// not hold real data.
    #[serde(default = "production")]
    pub profile: String,
    /// Notices the daemon announces at every start (e.g. development hooks that are active).
    pub announcements: Vec<String>,
}

fn production() -> String {
    "production".to_owned()
}

/// What `/health` reports, shared by the daemon (which sets its phase and announcements), its
/// bus (which tells whether the broker is connected) and the HTTP endpoint. Clones share it.
#[derive(Debug, Clone)]
pub struct Health(Arc<State>);

#[derive(Debug)]
struct State {
    /// A [`Phase`] as its `u8` (see [`Health::phase`]).
    phase: AtomicU8,
    broker: RwLock<BrokerHealth>,
    /// While standing by: who holds the lock it waits for, and the phase to go back to.
    holder: RwLock<Option<(String, Phase)>>,
    announcements: RwLock<Vec<String>>,
    /// See [`HealthReport::profile`].
    profile: RwLock<String>,
    /// Why the broker could not be reached yet, while [`Phase::WaitingForBroker`].
    waiting: RwLock<Option<String>>,
}

/// A daemon without a broker connection of its own (the in-process bus): only its phase counts.
impl Default for Health {
    fn default() -> Self {
        Health::new(BrokerHealth::in_process())
    }
}

impl Health {
    /// The health of a daemon whose bus's broker connection is `broker` (`AmqpBus::broker_health`),
    /// starting.
    pub fn new(broker: BrokerHealth) -> Health {
        Health(Arc::new(State {
            phase: AtomicU8::new(Phase::Starting as u8),
            broker: RwLock::new(broker),
            holder: RwLock::default(),
            announcements: RwLock::default(),
            profile: RwLock::new(production()),
            waiting: RwLock::default(),
        }))
    }

    /// `true` once the daemon serves, `false` when it stops.
    pub fn set(&self, serving: bool) {
        let phase = if serving { Phase::Serving } else { Phase::Stopping };
        self.0.phase.store(phase as u8, Ordering::SeqCst);
    }

    /// Started while the broker is down: says so (and why: `last_error`) until
    /// [`Health::connected`].
    pub fn waiting_for_broker(&self, last_error: impl Into<String>) {
        *self.0.waiting.write().unwrap_or_else(|p| p.into_inner()) = Some(last_error.into());
        self.0.phase.store(Phase::WaitingForBroker as u8, Ordering::SeqCst);
    }

    /// The broker answered at start: starting (not consuming yet).
    pub fn connected(&self) {
        self.0.waiting.write().unwrap_or_else(|p| p.into_inner()).take();
        self.0.phase.store(Phase::Starting as u8, Ordering::SeqCst);
    }

    pub fn phase(&self) -> Phase {
        match self.0.phase.load(Ordering::SeqCst) {
            p if p == Phase::Serving as u8 => Phase::Serving,
            p if p == Phase::Stopping as u8 => Phase::Stopping,
            p if p == Phase::StandingBy as u8 => Phase::StandingBy,
            p if p == Phase::WaitingForBroker as u8 => Phase::WaitingForBroker,
            _ => Phase::Starting,
        }
    }

    /// Standing by while `holder` holds the lock the daemon waits for (`Some`), back in the
    /// phase it left once it has the lock (`None`): starting at start, serving after a
    /// reconnection that waited for the broker to release its previous connection's lock.
    pub fn stand_by(&self, holder: Option<&str>) {
        let mut standby = self.0.holder.write().unwrap_or_else(|p| p.into_inner());
        let phase = match (holder, standby.as_ref()) {
            (Some(holder), previous) => {
                let back_to = previous.map_or_else(|| self.phase(), |(_, p)| *p);
                *standby = Some((holder.to_owned(), back_to));
                Phase::StandingBy
            }
            (None, Some((_, back_to))) => {
                let back_to = *back_to;
                *standby = None;
                back_to
            }
            (None, None) => return,
        };
        self.0.phase.store(phase as u8, Ordering::SeqCst);
    }

    /// Follows the broker connection of a bus connected after `/health` started to be served.
    pub fn follow_broker(&self, broker: BrokerHealth) {
        *self.0.broker.write().unwrap_or_else(|p| p.into_inner()) = broker;
    }

    fn broker_connected(&self) -> bool {
        self.0.broker.read().unwrap_or_else(|p| p.into_inner()).is_connected()
    }

    /// Replaces the notices `/health` carries (the daemon's bootstrap sets them at start).
    pub fn set_announcements(&self, notices: impl IntoIterator<Item = impl Into<String>>) {
        *self.0.announcements.write().unwrap_or_else(|p| p.into_inner()) =
            notices.into_iter().map(Into::into).collect();
    }

    /// The profile `/health` names (`production` until the bootstrap sets it).
    pub fn set_profile(&self, profile: &str) {
        *self.0.profile.write().unwrap_or_else(|p| p.into_inner()) = profile.to_owned();
    }

    /// Adds one notice to those `/health` carries.
    pub fn announce(&self, notice: impl Into<String>) {
        self.0.announcements.write().unwrap_or_else(|p| p.into_inner()).push(notice.into());
    }

    /// Serving, with the broker connected.
    pub fn is_healthy(&self) -> bool {
        self.phase() == Phase::Serving && self.broker_connected()
    }

    /// What `/health` answers now.
    pub fn report(&self) -> HealthReport {
        let phase = self.phase();
        let broker_connected = self.broker_connected();
        let mut reasons = Vec::new();
        match phase {
            Phase::Starting => reasons.push("the daemon is starting: not consuming yet".to_owned()),
            Phase::WaitingForBroker => {
                let why = self.0.waiting.read().unwrap_or_else(|p| p.into_inner()).clone().unwrap_or_default();
                reasons.push(format!("waiting for the broker at start (retrying until start_timeout_s): {why}"));
            }
            Phase::Stopping => reasons.push("the daemon is stopping".to_owned()),
            Phase::StandingBy => {
                let standby = self.0.holder.read().unwrap_or_else(|p| p.into_inner());
                let holder = standby.as_ref().map_or("", |(holder, _)| holder.as_str());
                reasons.push(format!("standing by, not consuming: the lock is held by {holder}"));
            }
            Phase::Serving => {}
        }
        if !broker_connected && !matches!(phase, Phase::StandingBy | Phase::WaitingForBroker) {
            reasons.push("the broker connection is lost: the bus is reconnecting (see the daemon's log)".to_owned());
        }
        HealthReport {
            healthy: reasons.is_empty(),
            phase,
            broker_connected,
            reasons,
            profile: self.0.profile.read().unwrap_or_else(|p| p.into_inner()).clone(),
            announcements: self.0.announcements.read().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_only_while_serving() {
        let health = Health::default();
        let report = health.report();
        assert_eq!((report.healthy, report.phase, report.broker_connected), (false, Phase::Starting, true));
        assert_eq!(report.reasons.len(), 1, "{report:?}");
        health.set(true);
        assert!(health.is_healthy());
        assert_eq!(health.report().reasons, Vec::<String>::new());
        health.set(false);
        let report = health.report();
        assert_eq!((report.healthy, report.phase), (false, Phase::Stopping));
    }

    #[test]
    fn standing_by_names_the_holder_and_is_not_healthy() {
        let health = Health::default();
        health.stand_by(Some("observatory carsat-sud-est on host a, pid 7"));
        let report = health.report();
        assert_eq!((report.healthy, report.phase), (false, Phase::StandingBy));
        assert_eq!(
            report.reasons,
            ["standing by, not consuming: the lock is held by observatory carsat-sud-est on host a, pid 7"]
        );
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains(r#""phase":"standing_by""#), "{json}");
        health.stand_by(Some("another record of the same holder"));
        health.stand_by(None);
        assert_eq!(health.phase(), Phase::Starting, "back where it was");
        health.set(true);
        assert!(health.is_healthy());
        health.stand_by(Some("its own previous connection"));
        assert!(!health.is_healthy());
        health.stand_by(None);
        assert!(health.is_healthy(), "serving again after a reconnection");
    }

    #[test]
    fn waiting_for_the_broker_says_why_until_connected() {
        let health = Health::default();
        health.waiting_for_broker("the broker is unreachable at 127.0.0.1:5672");
        let report = health.report();
        assert_eq!((report.healthy, report.phase), (false, Phase::WaitingForBroker));
        assert_eq!(report.reasons.len(), 1, "{report:?}");
        assert!(report.reasons[0].contains("waiting for the broker") && report.reasons[0].contains("unreachable"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["phase"], "waiting_for_broker");
        health.connected();
        assert_eq!(health.phase(), Phase::Starting);
        health.set(true);
        assert!(health.is_healthy());
    }

    #[test]
    fn announcements_are_carried() {
        let health = Health::default();
        health.set_announcements(["development hooks active: clock offset"]);
        health.announce("second");
        let copy = health.clone();
        assert_eq!(copy.report().announcements, ["development hooks active: clock offset", "second"]);
        health.set_announcements(Vec::<String>::new());
        assert!(copy.report().announcements.is_empty());
    }

    #[test]
    fn the_profile_is_named_production_by_default() {
        let health = Health::default();
        assert_eq!(serde_json::to_value(health.report()).unwrap()["profile"], "production");
        health.set_profile("development");
        assert_eq!(serde_json::to_value(health.clone().report()).unwrap()["profile"], "development");
        let old: HealthReport = serde_json::from_str(
            r#"{"healthy":true,"phase":"serving","broker_connected":true,"reasons":[],"announcements":[]}"#,
        )
        .unwrap();
        assert_eq!(old.profile, "production", "a report without the field");
    }
}
