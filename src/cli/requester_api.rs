//! How the requester's commands reach the requester daemon's local API (README, "Agents and
//! roles"): the socket from `--socket`, else the `[api] socket` of the settings file `--config`
//! names (its default beside the `data_dir`); and how a result the daemon streams is written
//! here, by this process — so as the calling agent —, 0600, where the agent asked.
//!
//! A refusal of the daemon (not an authorised agent, a role missing) is exit 6; no daemon at the
//! socket, 4; a case it does not know, 2.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use passerelle_local_api::{Client, ClientError};
use passerelle_party::{PartyKind, PartySettings};
use passerelle_requester::api::ResultAnswer;
use passerelle_requester::{OutputPaths, Summary};

use crate::exit::Failure;

/// `--socket` and `--config`: which requester daemon a command calls.
#[derive(Debug, Clone, clap::Args)]
pub struct RequesterApi {
    /// The requester daemon's API socket (what its `[api] socket` says).
    #[arg(long, value_name = "PATH", required_unless_present = "config")]
    pub socket: Option<PathBuf>,
    /// The requester's settings file, read for its `[api] socket` only (its default:
    /// `run/<name of the data_dir>.sock` beside the `data_dir`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl RequesterApi {
    /// The client of the daemon these flags name.
    pub fn client(&self) -> Result<Client, Failure> {
        let socket = match (&self.socket, &self.config) {
            (Some(socket), _) => socket.clone(),
            (None, Some(config)) => match PartySettings::load_local(PartyKind::Requester, config)? {
                settings @ PartySettings::Requester(_) => settings.api_socket(),
                other => return Err(Failure::Settings(anyhow!("{} is not a requester's settings", other.name()))),
            },
            (None, None) => return Err(Failure::Usage(anyhow!("give --socket or --config"))),
        };
        Ok(Client::new(socket).for_daemon("requester run"))
    }

    /// The flags again, for a command the agent is told to run next.
    pub fn flags(&self) -> String {
        match (&self.socket, &self.config) {
            (Some(socket), _) => format!("--socket {}", socket.display()),
            (None, Some(config)) => format!("--config {}", config.display()),
            (None, None) => String::new(),
        }
    }
}

/// A multi-thread runtime for a command's calls.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(Failure::Runtime)
}

/// Runs calls to completion on a runtime of their own.
pub fn call<T>(future: impl Future<Output = Result<T, ClientError>>) -> Result<T, Failure> {
    runtime()?.block_on(future).map_err(failure)
}

/// The exit status of a failed call.
pub fn failure(e: ClientError) -> Failure {
    match &e {
        ClientError::Refused { status: 403, .. } => Failure::NotPermitted(anyhow!(e)),
        ClientError::Refused { status: 400 | 404, .. } => Failure::Usage(anyhow!(e)),
        _ => Failure::Runtime(anyhow!(e)),
    }
}

/// Has the daemon write the result at `of` (`cases/<id>` or `submissions/<id>`) and writes the
/// agent's copy at `out` (`--out`: `.csv` only CSV, `.jsonl` only JSON Lines, else both), with
/// its summary; returns the daemon's answer, the summary naming the files written here.
pub async fn fetch_result(client: &Client, of: &str, out: &Path) -> Result<ResultAnswer, ClientError> {
    let mut answer: ResultAnswer = client.post_json(&format!("/v1/{of}/result"), &()).await?;
    let paths = OutputPaths::for_out(out);
    if let Some(csv) = &paths.csv {
        client.download(&format!("/v1/{of}/result/csv"), csv).await?;
    }
    if let Some(jsonl) = &paths.jsonl {
        client.download(&format!("/v1/{of}/result/jsonl"), jsonl).await?;
    }
    answer.summary.files = paths.files().iter().map(|p| p.display().to_string()).collect();
    write_summary(&answer.summary, &paths.summary)?;
    Ok(answer)
}

/// The summary file, last (its presence says the lists beside it are whole), 0600.
fn write_summary(summary: &Summary, path: &Path) -> Result<(), ClientError> {
    let file_error = |source| ClientError::File { path: path.to_owned(), source };
    let mut bytes = serde_json::to_vec_pretty(summary).map_err(|e| file_error(std::io::Error::other(e)))?;
    bytes.push(b'\n');
    let mut file = passerelle_sqlite::private::file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(file_error)?;
    passerelle_sqlite::private::restrict(path).map_err(file_error)?;
    file.write_all(&bytes).and_then(|()| file.sync_all()).map_err(file_error)
}

/// A query string value, percent-encoded.
pub fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
