//! The CLI's side of the local API: JSON calls, and files streamed both ways, over the daemon's
//! Unix socket (hyper's HTTP/1 client on a `tokio::net::UnixStream`, one connection per call).
//!
//! The client sends no identity: the daemon takes it from the socket's peer credentials. Its
//! errors are sentences for the agent: no daemon at the socket (and the command that runs it),
//! the daemon's own refusal, a file that cannot be written.

use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::TryStreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use passerelle_sqlite::private;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use crate::caller::RELAYED_AGENT_HEADER;
use crate::error::ErrorBody;

/// Why a call through the local API failed, said to the agent.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens at the socket.
    #[error("no daemon answers at {socket}: is {hint} running?")]
    NoDaemon { socket: PathBuf, hint: String, source: io::Error },
    /// The socket (or its folder) is closed to this account.
    #[error("cannot reach {socket}: {source} (the socket and its folders must be reachable by your account)")]
    Unreachable { socket: PathBuf, source: io::Error },
    /// The daemon refused or failed the call; `message` is its sentence.
    #[error("{message}")]
    Refused { status: u16, code: String, message: String },
    /// The exchange broke off or the answer is not what the call expects.
    #[error("the daemon at {socket} gave an unusable answer: {message}")]
    Protocol { socket: PathBuf, message: String },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    File { path: PathBuf, source: io::Error },
}

impl ClientError {
    /// The daemon's code (`not_an_agent`, `not_permitted`, …) when it refused the call.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the daemon refused the caller (403: not an agent, or a role missing).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, ClientError::Refused { status: 403, .. })
    }
}

type RequestBody = BoxBody<Bytes, io::Error>;

/// A client of one daemon's local API.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
    /// What runs the daemon, for "is … running?" (`passerelle observatory run`).
    hint: String,
    /// The agent a service account calls for ([`RELAYED_AGENT_HEADER`]).
    relaying: Option<String>,
}

impl Client {
    pub fn new(socket: impl Into<PathBuf>) -> Client {
        Client { socket: socket.into(), hint: "its daemon".to_owned(), relaying: None }
    }

    /// Names the command that runs the daemon in "no daemon answers" (`observatory run`).
    pub fn for_daemon(mut self, command: &str) -> Client {
        self.hint = format!("`passerelle {command}`");
        self
    }

    /// Every call names `agent_id` as the agent this service account acts for (the
    /// social-service daemon reading the requester's contact lists for a social worker): sent
    /// as [`RELAYED_AGENT_HEADER`], read by the daemon with [`crate::Caller::relayed_agent`].
    pub fn relaying(mut self, agent_id: &str) -> Client {
        self.relaying = Some(agent_id.to_owned());
        self
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `GET path` → the JSON answer.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let response = self.send(Method::GET, path, None, empty()).await?;
        self.json(response).await
    }

    /// `POST path` with a JSON body → the JSON answer.
    pub async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let bytes =
            serde_json::to_vec(body).map_err(|e| self.protocol(format!("cannot serialise the request: {e}")))?;
        let body = Full::new(Bytes::from(bytes)).map_err(|never| match never {}).boxed();
        let response = self.send(Method::POST, path, Some("application/json"), body).await?;
        self.json(response).await
    }

    /// `GET path`, the answer's bytes written to `target` by this process (so as the calling
    /// agent), mode 0600, under `<target>.partial` until whole, then renamed; its folder is
    /// created (0700) if missing. Returns the bytes written.
    pub async fn download(&self, path: &str, target: &Path) -> Result<u64, ClientError> {
        let response = self.send(Method::GET, path, None, empty()).await?;
        let mut body = self.checked(response).await?.into_body();
        let file_error = |path: &Path| {
            let path = path.to_owned();
            move |source| ClientError::File { path, source }
        };
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            private::create_folder(dir).map_err(file_error(dir))?;
        }
        let partial = partial_path(target);
        let file = private::file_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&partial)
            .and_then(|file| private::restrict(&partial).map(|()| file))
            .map_err(file_error(&partial))?;
        let mut file = tokio::fs::File::from_std(file);
        let mut written = 0u64;
        let copied: Result<(), ClientError> = async {
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| self.protocol(format!("the download broke off: {e}")))?;
                if let Ok(data) = frame.into_data() {
                    file.write_all(&data).await.map_err(file_error(&partial))?;
                    written += data.len() as u64;
                }
            }
            file.sync_all().await.map_err(file_error(&partial))
        }
        .await;
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        std::fs::rename(&partial, target).map_err(file_error(target))?;
        Ok(written)
    }

    /// `POST path` with `file`'s bytes streamed as the body → the JSON answer.
    pub async fn upload<T: DeserializeOwned>(&self, path: &str, file: &Path) -> Result<T, ClientError> {
        let opened =
            tokio::fs::File::open(file).await.map_err(|source| ClientError::File { path: file.to_owned(), source })?;
        let frames = tokio_util::io::ReaderStream::new(opened).map_ok(Frame::data);
        let body = BodyExt::boxed(StreamBody::new(frames));
        let response = self.send(Method::POST, path, Some("application/octet-stream"), body).await?;
        self.json(response).await
    }

    /// One request on a new connection.
    async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: RequestBody,
    ) -> Result<Response<Incoming>, ClientError> {
        let stream = UnixStream::connect(&self.socket).await.map_err(|source| match source.kind() {
            io::ErrorKind::PermissionDenied => ClientError::Unreachable { socket: self.socket.clone(), source },
            _ => ClientError::NoDaemon { socket: self.socket.clone(), hint: self.hint.clone(), source },
        })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.protocol(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "local API connection closed");
            }
        });
        let mut request = Request::builder().method(method).uri(path).header(hyper::header::HOST, "localhost");
        if let Some(content_type) = content_type {
            request = request.header(hyper::header::CONTENT_TYPE, content_type);
        }
        if let Some(agent) = &self.relaying {
            request = request.header(RELAYED_AGENT_HEADER, agent.as_str());
        }
        let request = request.body(body).map_err(|e| self.protocol(format!("cannot build the request: {e}")))?;
        sender.send_request(request).await.map_err(|e| self.protocol(e.to_string()))
    }

    /// The response if it is a success, else the daemon's error as [`ClientError::Refused`].
    async fn checked(&self, response: Response<Incoming>) -> Result<Response<Incoming>, ClientError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let bytes = self.read_all(response).await?;
        Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => ClientError::Refused { status: status.as_u16(), code: body.code, message: body.error },
            Err(_) => ClientError::Refused {
                status: status.as_u16(),
                code: code_of(status).to_owned(),
                message: format!("the daemon answered {status}"),
            },
        })
    }

    async fn json<T: DeserializeOwned>(&self, response: Response<Incoming>) -> Result<T, ClientError> {
        let response = self.checked(response).await?;
        let bytes = self.read_all(response).await?;
        serde_json::from_slice(&bytes).map_err(|e| self.protocol(format!("not the JSON expected: {e}")))
    }

    async fn read_all(&self, response: Response<Incoming>) -> Result<Bytes, ClientError> {
        Ok(response
            .into_body()
            .collect()
            .await
            .map_err(|e| self.protocol(format!("the answer broke off: {e}")))?
            .to_bytes())
    }

    fn protocol(&self, message: String) -> ClientError {
        ClientError::Protocol { socket: self.socket.clone(), message }
    }
}

fn empty() -> RequestBody {
    Full::new(Bytes::new()).map_err(|never| match never {}).boxed()
}

fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::FORBIDDEN => "not_permitted",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::BAD_REQUEST => "bad_request",
        _ => "internal",
    }
}

/// `<target>.partial`, in the same folder (the rename stays on one file system).
fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}
