//! How a command reaches a daemon's local API (README, "Agents and roles"): the socket from
//! `--socket`, else the `[api] socket` of the settings file `--config` names (with its default
//! beside the `data_dir`), else the deploy kit's `/run/passerelle/<daemon>.sock`. The daemon
//! knows the caller by the socket's peer credentials; nothing here can name another.
//!
//! Its errors become exit codes: a refusal of the daemon (not an authorised agent, a role
//! missing) is 6, no daemon at the socket is 4.

use std::future::Future;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use passerelle_local_api::{Client, ClientError};

use crate::exit::Failure;

/// The observatory daemon's socket where the deploy kit puts it.
pub const OBSERVATORY_SOCKET: &str = "/run/passerelle/observatory.sock";

/// `--socket` and `--config`, for a command that calls the observatory daemon.
#[derive(Debug, Clone, clap::Args)]
pub struct ObservatoryApi {
    /// The observatory daemon's API socket. Default: the `[api] socket` of --config, else
    /// /run/passerelle/observatory.sock (the deploy kit's).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// The observatory's settings file, read for its `[api] socket` only.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ObservatoryApi {
    /// The client of the observatory daemon these flags name.
    pub fn client(&self) -> Result<Client, Failure> {
        let socket = match (&self.socket, &self.config) {
            (Some(socket), _) => socket.clone(),
            (None, Some(config)) => observatory_socket(config)?,
            (None, None) => PathBuf::from(OBSERVATORY_SOCKET),
        };
        Ok(observatory_client(&socket))
    }
}

/// The observatory daemon's client at `socket`.
pub fn observatory_client(socket: &Path) -> Client {
    Client::new(socket).for_daemon("observatory run")
}

/// The socket an observatory's settings file gives.
pub fn observatory_socket(config: &Path) -> Result<PathBuf, Failure> {
    let settings = super::observatory::settings(config)?;
    Ok(passerelle_party::PartySettings::Observatory(settings).api_socket())
}

/// Runs one call (or a few) to completion on a runtime of its own.
pub fn call<T>(future: impl Future<Output = Result<T, ClientError>>) -> Result<T, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(Failure::Runtime)?;
    runtime.block_on(future).map_err(failure)
}

/// The exit code of a failed call.
pub fn failure(e: ClientError) -> Failure {
    match &e {
        ClientError::Refused { status: 403, .. } => Failure::NotPermitted(anyhow!(e)),
        ClientError::Refused { status: 400 | 404, .. } => Failure::Usage(anyhow!(e)),
        _ => Failure::Runtime(anyhow!(e)),
    }
}
