//! Serving a daemon's router on its socket: the routes every server has (`/v1/whoami`), the
//! request context the [`Caller`] extractor reads, the peer credentials of each connection,
//! and a graceful stop.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::access::AccessRecorder;
use crate::caller::{ApiContext, Caller, PeerCred};
use crate::error::ApiError;
use crate::registry_handle::RegistryHandle;
use crate::socket::{self, SocketError};

/// A local API being served; [`ApiServer::stop`] ends it.
#[derive(Debug)]
pub struct ApiServer {
    path: PathBuf,
    /// The routes as served, with the context each call's [`Caller`] reads.
    app: Router,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ApiServer {
    /// Binds `socket` ([`socket::bind`]) and serves `routes` there, with `/v1/whoami` added,
    /// each call's [`Caller`] mapped through `registry` and refusals given to `recorder`.
    pub fn start(
        socket: &Path,
        routes: Router,
        registry: RegistryHandle,
        recorder: Arc<dyn AccessRecorder>,
    ) -> Result<ApiServer, SocketError> {
        let listener = socket::bind(socket)?;
        let app = routes.route("/v1/whoami", get(whoami)).layer(Extension(ApiContext { registry, recorder }));
        let served = app.clone().into_make_service_with_connect_info::<PeerCred>();
        let (stop, stopped) = oneshot::channel::<()>();
        let path = socket.to_owned();
        let shown = path.display().to_string();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, served).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = served.await {
                tracing::error!(socket = %shown, error = %e, "the local API stopped on an error");
            }
        });
        tracing::info!(socket = %path.display(), "local API listening");
        Ok(ApiServer { path, app, stop: Some(stop), task: Some(task) })
    }

    /// The routes as the socket serves them, for a caller in the same process that sets the
    /// request's `ConnectInfo<PeerCred>` itself (the web console, calling as its session's
    /// agent): the same roles, the same refusals recorded.
    pub fn router(&self) -> Router {
        self.app.clone()
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting, lets the calls in flight finish, and removes the socket file.
    pub async fn stop(mut self) {
        self.shut().await;
    }

    async fn shut(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// `GET /v1/whoami`: the calling agent (any agent may ask).
async fn whoami(caller: Caller) -> Json<passerelle_agents::Agent> {
    Json(caller.agent().clone())
}

/// A file streamed as the answer (a result file the CLI writes on the agent's side), read as it
/// is sent: memory stays bounded whatever its size.
pub async fn file_response(path: &Path) -> Result<Response, ApiError> {
    let file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found("the file asked for does not exist (any more)"));
        }
        Err(e) => return Err(ApiError::internal("cannot open the file asked for", &e)),
    };
    let length = file.metadata().await.map(|m| m.len()).ok();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let mut response =
        ([(header::CONTENT_TYPE, header::HeaderValue::from_static("application/octet-stream"))], body).into_response();
    if let Some(length) = length {
        response.headers_mut().insert(header::CONTENT_LENGTH, header::HeaderValue::from(length));
    }
    Ok(response)
}
