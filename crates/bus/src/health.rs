//! Whether a bus is connected to its broker, for the daemons' `/health`.
//!
//! The AMQP connection layer points a [`BrokerHealth`] at each connection it opens, and the
//! connection's own state is read when asked: a loss shows as soon as lapin marks the connection
//! (its socket failed, a heartbeat was missed, or the broker closed it), whether or not anything
//! was published since, and a reconnection as soon as the new connection is open and its
//! topology declared. Reading it takes no lock the bus's publishers or consumers wait on. The
//! in-process bus is always connected.

use std::sync::{Arc, RwLock};

/// Reads the state of the connection in use.
type Probe = Box<dyn Fn() -> bool + Send + Sync>;

/// A cloneable view of a bus's broker connection (clones see the same connection).
#[derive(Clone)]
pub struct BrokerHealth(Arc<Link>);

enum Link {
    /// The in-process bus: its broker is in the same process.
    InProcess,
    /// The AMQP bus: the probe of its current connection (`None` until the first one is open).
    Amqp(RwLock<Option<Probe>>),
}

impl std::fmt::Debug for BrokerHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerHealth").field("connected", &self.is_connected()).finish()
    }
}

impl BrokerHealth {
    /// The in-process bus's: always connected.
    pub fn in_process() -> BrokerHealth {
        BrokerHealth(Arc::new(Link::InProcess))
    }

    /// An AMQP bus's, not connected until its connection layer opens a connection (also what a
    /// daemon's `/health` follows before its bus exists).
    pub fn amqp() -> BrokerHealth {
        BrokerHealth(Arc::new(Link::Amqp(RwLock::new(None))))
    }

    /// Whether the bus's connection to the broker is open now.
    pub fn is_connected(&self) -> bool {
        match &*self.0 {
            Link::InProcess => true,
            Link::Amqp(probe) => probe.read().unwrap_or_else(|p| p.into_inner()).as_ref().is_some_and(|probe| probe()),
        }
    }

    /// Follows a newly opened connection: `probe` tells whether it is still open.
    pub(crate) fn follow(&self, probe: impl Fn() -> bool + Send + Sync + 'static) {
        if let Link::Amqp(current) = &*self.0 {
            *current.write().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(probe));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn the_in_process_bus_is_always_connected() {
        assert!(BrokerHealth::in_process().is_connected());
    }

    #[test]
    fn an_amqp_bus_follows_its_current_connection() {
        let health = BrokerHealth::amqp();
        assert!(!health.is_connected(), "no connection opened yet");
        let first = Arc::new(AtomicBool::new(true));
        let open = Arc::clone(&first);
        health.follow(move || open.load(Ordering::SeqCst));
        let seen_by_a_clone = health.clone();
        assert!(seen_by_a_clone.is_connected());
        first.store(false, Ordering::SeqCst);
        assert!(!seen_by_a_clone.is_connected(), "the connection was lost");
        health.follow(|| true);
        assert!(seen_by_a_clone.is_connected(), "reconnected");
    }
}
