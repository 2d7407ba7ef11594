//! The one connection of an [`AmqpBus`](super::AmqpBus): opened on the first reachable URL,
//! followed by the topology declaration of the role, and reopened with capped exponential
//! backoff and jitter whenever it is lost. Publisher and consumers ask for the live connection
//! and get a fresh one after a loss. lapin's automatic recovery stays off: it retries one URL
//! and replays what lapin saw declared, while this layer tries every URL, declares (or checks)
//! the role's topology, and lets the publisher re-publish exactly what was not confirmed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lapin::tcp::{AMQPUriTcpExt, RustlsConnector};
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{Connection, ConnectionProperties};
use rand::Rng;
use tokio::sync::{watch, Mutex};

use super::certificate::ClientCertificate;
use super::lock::{self, TerritoryLock};
use super::{declare, diagnose};
use crate::consumer::stopped;
use crate::{BrokerHealth, BusError, BusSettings, BusStats, Role};

/// First wait before reconnecting after a loss.
pub const RECONNECT_INITIAL_BACKOFF: Duration = Duration::from_millis(200);

/// Longest wait between reconnection attempts: a broker restart takes tens of seconds, and
/// services should come back within a few seconds of it.
pub const RECONNECT_MAX_BACKOFF: Duration = Duration::from_secs(15);

/// How long a clean close waits for lapin's I/O thread to end.
const IO_THREAD_END: Duration = Duration::from_secs(2);

/// A live connection and the user it logged in as (the `user_id` of what it publishes).
#[derive(Clone)]
pub(crate) struct Live {
    pub conn: Arc<Connection>,
    pub user: String,
    /// Increases with every new connection, so a loss is reported once per connection.
    pub generation: u64,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").field("user", &self.user).field("generation", &self.generation).finish()
    }
}

/// Opens and reopens the connection.
pub(crate) struct Connector {
    pub settings: BusSettings,
    pub role: Role,
    uris: Vec<AMQPUri>,
    tls: Option<Arc<RustlsConnector>>,
    /// The client certificate, when TLS presents one.
    certificate: Option<ClientCertificate>,
    current: Mutex<Option<Live>>,
    generation: AtomicU64,
    closed: AtomicBool,
    /// Raised by [`Connector::close`]: a connection being opened (the broker not answering, the
    /// territory lock still held by this process's previous connection) is given up at once.
    closing: watch::Sender<bool>,
    /// Connections, blocked time and dead-letters, for the metrics.
    pub stats: Arc<BusStats>,
    /// Whether the current connection is open, for `/health`.
    pub health: BrokerHealth,
    /// The territory lock every connection takes before anything consumes (an observatory
    /// daemon's), whether it was held on an earlier connection, and why it was lost.
    territory: Option<TerritoryLock>,
    held: AtomicBool,
    lost: std::sync::Mutex<Option<BusError>>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").field("role", &self.role).field("prefix", &self.settings.prefix).finish()
    }
}

impl Connector {
    /// Parses the URLs and loads the TLS files; connects to nothing yet.
    pub fn new(settings: &BusSettings, role: Role) -> Result<Connector, BusError> {
        settings.validate()?;
        let uris = settings
            .urls
            .iter()
            .map(|u| u.parse::<AMQPUri>().map_err(|e| BusError::Settings(format!("broker URL: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let tls = if uris.iter().any(|u| u.scheme == AMQPScheme::AMQPS) {
            Some(super::tls::connector(settings.tls.as_ref())?)
        } else {
            None
        };
        let certificate = match settings.tls.as_ref().and_then(|t| t.cert_file.as_ref()).filter(|_| tls.is_some()) {
            Some(path) => {
                let certificate = ClientCertificate::read(path)?;
                certificate.check_speaks_for(&settings.identity, &role, path)?;
                Some(certificate)
            }
            None => None,
        };
        Ok(Connector {
            settings: settings.clone(),
            role,
            uris,
            tls,
            certificate,
            current: Mutex::new(None),
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            closing: watch::Sender::new(false),
            stats: Arc::default(),
            health: BrokerHealth::amqp(),
            territory: None,
            held: AtomicBool::new(false),
            lost: std::sync::Mutex::new(None),
        })
    }

    /// Every connection takes the territory lock before anything consumes (`amqp::lock`).
    pub fn with_territory_lock(mut self, lock: TerritoryLock) -> Connector {
        self.territory = Some(lock);
        self
    }

    /// Why the bus closed itself: the territory lock was lost to another observatory.
    pub fn territory_lost(&self) -> Option<String> {
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|e| e.to_string())
    }

    /// The live connection, reconnecting (once through every URL) if it was lost. Gives up
    /// with [`BusError::Closed`] as soon as the bus closes, however long the reconnection takes.
    pub async fn live(&self) -> Result<Live, BusError> {
        let mut closing = self.closing.subscribe();
        let reconnected = async {
            let mut current = self.current.lock().await;
            if self.closed.load(Ordering::SeqCst) {
                return Err(BusError::Closed);
            }
            if let Some(live) = current.as_ref() {
                if live.conn.status().connected() {
                    return Ok(live.clone());
                }
                tracing::warn!(generation = live.generation, "broker connection lost; reconnecting");
            }
            let live = self.open().await?;
            *current = Some(live.clone());
            Ok(live)
        };
        tokio::select! {
            live = reconnected => live,
            _ = closing.wait_for(|closing| *closing) => Err(BusError::Closed),
        }
    }

    /// [`Connector::live`], retried with capped exponential backoff and jitter until it
    /// succeeds, the deadline passes, `stop` is raised or the bus is closed.
    pub async fn live_retrying(
        &self,
        deadline: Option<tokio::time::Instant>,
        mut stop: Option<&mut watch::Receiver<bool>>,
    ) -> Result<Live, BusError> {
        let mut backoff = RECONNECT_INITIAL_BACKOFF;
        loop {
            let attempt = match stop.as_deref_mut() {
                Some(stop) => tokio::select! {
                    attempt = self.live() => attempt,
                    _ = stopped(stop) => return Err(BusError::Closed),
                },
                None => self.live().await,
            };
            let error = match attempt {
                Ok(live) => return Ok(live),
                Err(BusError::Closed) => return Err(BusError::Closed),
                Err(e @ (BusError::TerritoryHeld { .. } | BusError::TerritoryLost { .. })) => return Err(e),
                Err(e) => e,
            };
            let wait = jitter(backoff);
            if deadline.is_some_and(|d| tokio::time::Instant::now() + wait > d) {
                return Err(error);
            }
            tracing::warn!(error = %error, retry_in_ms = wait.as_millis() as u64, "broker unavailable");
            match stop.as_deref_mut() {
                Some(stop) => tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stopped(stop) => return Err(BusError::Closed),
                },
                None => tokio::time::sleep(wait).await,
            }
            backoff = (backoff * 2).min(RECONNECT_MAX_BACKOFF);
        }
    }

    /// Forgets the connection of `generation` (after an error on it), so the next caller
    /// reconnects.
    pub async fn lost(&self, generation: u64) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|l| l.generation == generation) {
            if let Some(old) = current.take() {
                tokio::spawn(async move {
                    let _ = old.conn.close(320, "passerelle: reconnecting".into()).await;
                });
            }
        }
    }

    /// Closes the connection for good; later calls fail with [`BusError::Closed`].
    pub async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.closing.send_replace(true);
        if let Some(live) = self.current.lock().await.take() {
            if let Err(e) = live.conn.close(200, "passerelle: closing".into()).await {
                tracing::debug!(error = %e, "closing an already broken connection");
            }
            // lapin's I/O thread ends just after the close. A runtime shut down before it
            // makes that thread's last read fail, which lapin logs as an error at every clean
            // stop: wait for the thread (bounded) when nothing else holds the connection.
            if let Ok(conn) = Arc::try_unwrap(live.conn) {
                let ended = tokio::task::spawn_blocking(move || conn.run());
                if tokio::time::timeout(IO_THREAD_END, ended).await.is_err() {
                    tracing::debug!("the broker connection's I/O thread did not end in time");
                }
            }
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Tries every URL in order, then declares (or checks) the topology on the first that answers.
    /// Fails with [`BusError::Refused`] when a broker refused the login (nothing to retry).
    async fn open(&self) -> Result<Live, BusError> {
        let mut errors = Vec::new();
        let mut refused = false;
        for uri in &self.uris {
            match self.open_uri(uri).await {
                Ok(conn) => {
                    let conn = Arc::new(conn);
                    let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
                    if let Err(e) = declare::declare(&conn, &self.settings, &self.role).await {
                        // Closed, not left to lapin: a body waiting at start for its observatory
                        // to declare the topology tries again and again.
                        let _ = conn.close(200, "passerelle: topology not declared".into()).await;
                        return Err(e);
                    }
                    self.stats.connected();
                    let followed = Arc::downgrade(&conn);
                    self.health.follow(move || followed.upgrade().is_some_and(|c| c.status().connected()));
                    self.hold_territory(&conn).await?;
                    let user = self.login(uri);
                    match &self.certificate {
                        Some(certificate) => tracing::info!(broker = %diagnose::broker_address(uri), user = %user,
                            certificate = %certificate.subject, generation, "connected to the broker"),
                        None => tracing::info!(broker = %diagnose::broker_address(uri), user = %user, generation,
                            "connected to the broker"),
                    }
                    return Ok(Live { conn, user, generation });
                }
                Err(e) => {
                    let certificate = self.certificate.as_ref().map(|c| c.common_name.as_deref());
                    let failure = diagnose::explain(uri, certificate, &e);
                    refused |= failure.is_refused();
                    errors.push(failure.into_line());
                }
            }
        }
        let errors = errors.join("; ");
        Err(if refused { BusError::Refused(errors) } else { BusError::Connect(errors) })
    }

    /// The broker user a connection to `uri` logs in as: the certificate's CN under
    /// `auth_mechanism=external` (the broker takes it from the certificate, whatever the URL
    /// says), else the URL's user. Published messages carry it as their `user_id`.
    fn login(&self, uri: &AMQPUri) -> String {
        let cn = self.certificate.as_ref().and_then(|c| c.common_name.clone());
        match (uri.query.auth_mechanism, cn) {
            (Some(lapin::uri::SASLMechanism::External), Some(cn)) => cn,
            _ => uri.authority.userinfo.username.clone(),
        }
    }

    /// Takes the territory lock on a new connection, when this bus has one to hold. Lost to
    /// another observatory: the bus closes (later calls fail with [`BusError::Closed`]).
    async fn hold_territory(&self, conn: &Connection) -> Result<(), BusError> {
        let (Some(territory), Role::Observatory(code)) = (&self.territory, &self.role) else {
            return Ok(());
        };
        let held_before = self.held.load(Ordering::SeqCst);
        match lock::take(conn, &self.settings.prefix, code, territory, held_before).await {
            Ok(()) => {
                self.held.store(true, Ordering::SeqCst);
                Ok(())
            }
            Err(e) => {
                let _ = conn.close(200, "passerelle: the territory lock is not ours".into()).await;
                if let BusError::TerritoryLost { territory, holder } = &e {
                    tracing::error!(observatory = %territory, holder = %holder,
                        "another observatory took this territory's lock while this one was disconnected: stopping");
                    self.closed.store(true, Ordering::SeqCst);
                    let copy = BusError::TerritoryLost { territory: territory.clone(), holder: holder.clone() };
                    *self.lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(copy);
                }
                Err(e)
            }
        }
    }

    /// Connects on lapin's own tokio runtime glue. An `amqps://` URL goes through the bus's
    /// rustls connector (its CA file alone, else the system roots; its client certificate), not
    /// lapin's default TLS set-up, which would add the CA file to the system roots.
    async fn open_uri(&self, uri: &AMQPUri) -> lapin::Result<Connection> {
        let name = format!("passerelle {}", role_label(&self.role));
        let props = ConnectionProperties::default().with_connection_name(name.into());
        match (&uri.scheme, &self.tls) {
            (AMQPScheme::AMQPS, Some(tls)) => {
                let tls = Arc::clone(tls);
                let runtime = lapin::runtime::default_runtime()?;
                let connect = async move |uri: AMQPUri, runtime| {
                    let host = uri.authority.host.clone();
                    let plain = AMQPUri { scheme: AMQPScheme::AMQP, ..uri };
                    let stream = plain.connect_async(&runtime).await?;
                    Ok(stream.into_rustls(&tls, &host).await?)
                };
                Connection::connector(uri.clone(), runtime, connect, props).await
            }
            _ => Connection::connect_uri(uri.clone(), props).await,
        }
    }
}

fn role_label(role: &Role) -> String {
    role.label()
}

/// `d` randomised by ±25%, so services restarted together do not reconnect in lockstep.
pub(crate) fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::thread_rng().gen_range(0.75..1.25))
}
