//! A TCP proxy to the test broker, on a local port of its own, that a test cuts and restores —
//! or opens on a port where nothing listened before — so a daemon's broker goes away and comes
//! back without touching the shared RabbitMQ. Cut, it closes every connection it carries and
//! closes new ones at once. Dropped, it stops listening.

/// The proxy, forwarding plain AMQP to the broker of a URL.
pub struct BrokerProxy {
    /// The broker's URL through the proxy.
    pub url: String,
    open: tokio::sync::watch::Sender<bool>,
    _runtime: tokio::runtime::Runtime,
}

impl BrokerProxy {
    /// Listens on a free local port and forwards to the broker of `url` (plain AMQP).
    pub fn start(url: &str) -> BrokerProxy {
        BrokerProxy::start_on(url, 0)
    }

    /// Listens on `port` (0: a free one) and forwards to the broker of `url`.
    pub fn start_on(url: &str, port: u16) -> BrokerProxy {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port))).unwrap();
        let (upstream, url) = through_port(url, listener.local_addr().unwrap().port());
        let (open, opened) = tokio::sync::watch::channel(true);
        runtime.spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut open = opened.clone();
                if !*open.borrow() {
                    continue;
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = open.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        BrokerProxy { url, open, _runtime: runtime }
    }

    pub fn cut(&self) {
        self.open.send_replace(false);
    }

    pub fn restore(&self) {
        self.open.send_replace(true);
    }
}

/// A local port nothing listens on now (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `amqp://user:password@host:port/vhost` → (`host:port`, the same URL through `127.0.0.1:port`).
pub fn through_port(url: &str, port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, rest) = rest.rsplit_once('@').unwrap();
    let (authority, vhost) = rest.split_once('/').unwrap_or((rest, ""));
    let upstream = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:5672") };
    (upstream, format!("{scheme}://{userinfo}@127.0.0.1:{port}/{vhost}"))
}
