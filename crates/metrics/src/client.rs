//! Reading a daemon's endpoint over HTTP (hyper's client), for `ctl`, the benchmark driver and
//! the tests: one `GET`, its status, content type and body.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long a `GET` waits for its whole answer: a daemon answers in milliseconds, and a caller
/// polling `/health` of a daemon that hangs must not hang with it.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// An answer of a daemon's endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

/// `GET path` on a daemon's endpoint at `addr`.
pub async fn get(addr: SocketAddr, path: &str) -> std::io::Result<Answer> {
    tokio::time::timeout(FETCH_TIMEOUT, get_unbounded(addr, path))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no answer from {addr} in time")))?
}

async fn get_unbounded(addr: SocketAddr, path: &str) -> std::io::Result<Answer> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(other)?;
    let connection = tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(other)?;
    let response = sender.send_request(request).await.map_err(other)?;
    let status = response.status().as_u16();
    let content_type =
        response.headers().get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.into_body().collect().await.map_err(other)?.to_bytes();
    drop(sender);
    let _ = connection.await;
    Ok(Answer { status, content_type, body: String::from_utf8_lossy(&body).into_owned() })
}

fn other(e: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::other(e)
}

/// `GET path`: the status and the body.
pub async fn fetch(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let answer = get(addr, path).await?;
    Ok((answer.status, answer.body))
}
