//! Deadlines on the HTTP connections: hyper waits for a request head as long as the client
//! takes, so a slow or stuck client would hold its connection (a file descriptor and a task)
//! forever. Each accepted connection is closed after [`IDLE_TIMEOUT`] without a byte either
//! way, and after [`MAX_CONNECTION_TIME`] in any case. Accept errors are axum's: a connection
//! error is skipped, any other (out of file descriptors) is logged and accepting pauses a
//! second, so the loop never spins.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

/// A connection with nothing read or written for this long is closed: a scrape or a health
/// check sends its request at once and reads its answer as it comes.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection is closed after this long whatever it does, so a client trickling bytes cannot
/// hold it either. A scrape takes milliseconds; a client whose kept-alive connection was
/// closed opens another.
pub const MAX_CONNECTION_TIME: Duration = Duration::from_secs(60);

/// A TCP listener whose connections have deadlines.
#[derive(Debug)]
pub(crate) struct DeadlineListener {
    listener: TcpListener,
    idle: Duration,
    max: Duration,
}

impl DeadlineListener {
    /// With [`IDLE_TIMEOUT`] and [`MAX_CONNECTION_TIME`].
    pub(crate) fn new(listener: TcpListener) -> Self {
        DeadlineListener { listener, idle: IDLE_TIMEOUT, max: MAX_CONNECTION_TIME }
    }
}

impl axum::serve::Listener for DeadlineListener {
    type Io = DeadlineStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.listener).await;
        (DeadlineStream::new(stream, self.idle, self.max), addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// A connection closed (its reads and writes fail) at its deadline.
#[derive(Debug)]
pub(crate) struct DeadlineStream {
    inner: TcpStream,
    /// Fires at the idle deadline, moved on by every byte read or written.
    deadline: Pin<Box<Sleep>>,
    idle: Duration,
    closes_at: Instant,
}

impl DeadlineStream {
    fn new(inner: TcpStream, idle: Duration, max: Duration) -> Self {
        let now = Instant::now();
        DeadlineStream {
            inner,
            deadline: Box::pin(tokio::time::sleep_until(now + idle.min(max))),
            idle,
            closes_at: now + max,
        }
    }

    /// Fails once the deadline has passed (and has the task woken when it passes).
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(io::ErrorKind::TimedOut, "HTTP client too slow: connection closed")),
            Poll::Pending => Ok(()),
        }
    }

    fn progressed(&mut self) {
        let next = (Instant::now() + self.idle).min(self.closes_at);
        self.deadline.as_mut().reset(next);
    }
}

impl AsyncRead for DeadlineStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.check(cx)?;
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.progressed();
        }
        polled
    }
}

impl AsyncWrite for DeadlineStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.progressed();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const IDLE: Duration = Duration::from_millis(200);
    const MAX: Duration = Duration::from_millis(600);

    async fn accepted(max: Duration) -> (TcpStream, DeadlineStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let mut listener = DeadlineListener { listener, idle: IDLE, max };
        let (server_side, _) = axum::serve::Listener::accept(&mut listener).await;
        (client, server_side)
    }

    #[tokio::test]
    async fn a_silent_client_is_dropped_at_the_idle_deadline() {
        let (_client, mut server_side) = accepted(MAX).await;
        let started = Instant::now();
        let error = server_side.read(&mut [0u8; 16]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= IDLE && started.elapsed() < MAX, "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_trickling_client_is_dropped_at_the_connection_deadline() {
        let (mut client, mut server_side) = accepted(MAX).await;
        let started = Instant::now();
        let trickle = tokio::spawn(async move {
            while client.write_all(b"G").await.is_ok() {
                tokio::time::sleep(IDLE / 4).await;
            }
        });
        let mut buf = [0u8; 16];
        let error = loop {
            match server_side.read(&mut buf).await {
                Ok(n) => assert!(n > 0, "the client does not close"),
                Err(e) => break e,
            }
        };
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= MAX, "bytes kept coming, yet closed after {:?}", started.elapsed());
        trickle.abort();
    }
}
