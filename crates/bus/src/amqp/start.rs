//! A daemon's first connection: a broker that is down when the daemon (re)starts is waited for,
//! with the same capped, jittered backoff as after a connection loss, up to a bound
//! (`[broker] start_timeout_s`), so a daemon started before its broker (a machine's boot, a
//! broker restarted at the same time) comes up by itself. A refused login, an unusable TLS file
//! or a wrong setting is never retried: waiting would change nothing.

use std::time::Duration;

use super::connection::{jitter, Connector, RECONNECT_INITIAL_BACKOFF, RECONNECT_MAX_BACKOFF};
use crate::BusError;

/// How long the first connection may wait for the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPatience {
    /// One try through every URL (a command, not a daemon: it reports at once).
    Once,
    /// Retries until this much time has passed.
    Within(Duration),
    /// Retries until the broker answers (`start_timeout_s = 0`).
    Forever,
}

impl StartPatience {
    /// The patience `start_timeout_s` asks for (0: forever).
    pub fn from_timeout_s(start_timeout_s: u64) -> StartPatience {
        match start_timeout_s {
            0 => StartPatience::Forever,
            s => StartPatience::Within(Duration::from_secs(s)),
        }
    }
}

/// Connects, retrying an unavailable broker as `patience` allows; `waiting` hears each failure
/// that will be retried (for `/health`) before the wait. The error is the last attempt's.
pub(crate) async fn first_connection(
    connector: &Connector,
    patience: StartPatience,
    waiting: &(dyn Fn(&BusError) + Send + Sync),
) -> Result<(), BusError> {
    let deadline = match patience {
        StartPatience::Once => return connector.live().await.map(drop),
        StartPatience::Within(bound) => Some(tokio::time::Instant::now() + bound),
        StartPatience::Forever => None,
    };
    let mut backoff = RECONNECT_INITIAL_BACKOFF;
    loop {
        let error = match connector.live().await {
            Ok(_) => return Ok(()),
            // Another observatory holds (or took) the territory: not a broker outage.
            Err(e @ (BusError::Closed | BusError::TerritoryHeld { .. } | BusError::TerritoryLost { .. })) => {
                return Err(e)
            }
            Err(e) if e.is_settings() => return Err(e),
            Err(e) => e,
        };
        let wait = jitter(backoff);
        if deadline.is_some_and(|d| tokio::time::Instant::now() + wait > d) {
            return Err(error);
        }
        waiting(&error);
        tracing::warn!(error = %error, retry_in_ms = wait.as_millis() as u64, "waiting for the broker at start");
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(RECONNECT_MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_forever() {
        assert_eq!(StartPatience::from_timeout_s(0), StartPatience::Forever);
        assert_eq!(StartPatience::from_timeout_s(300), StartPatience::Within(Duration::from_secs(300)));
    }
}
