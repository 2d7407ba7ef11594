//! What `requester submit` says while it sends and waits: its progress (a bar on a terminal,
//! plain lines at a bounded rate otherwise, so a log or a pipe sees it too), whom it waits for —
//! an observatory whose requests queue nobody consumes is named, with the queue, instead of a
//! silent spinner — and, when interrupted, that the cases stay open and how to follow them.

use std::collections::BTreeSet;
use std::io::{self, IsTerminal};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use passerelle_bus::{AmqpBus, Queue};
use passerelle_requester::Uuid;

/// How often a progress bar redraws its spinner while nothing moves.
const PROGRESS_TICK: Duration = Duration::from_millis(200);

/// When stderr is not a terminal: at most one progress line this often, and only when the
/// progress moved…
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// …or when nothing was said for this long (so a log shows the command is still waiting).
const PLAIN_PROGRESS_QUIET: Duration = Duration::from_secs(60);

/// How often, while waiting, the consumers of each observatory's requests queue are counted.
const CONSUMER_CHECK_EVERY: Duration = Duration::from_secs(10);

/// Progress on stderr: a bar on a terminal, plain lines otherwise.
#[derive(Debug)]
pub(super) struct Progress {
    bar: ProgressBar,
    plain: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// A bar drawn with `template` on a terminal; otherwise lines `<label>: N/M <message>`.
    /// Needs the tokio runtime (the plain lines are written by a task).
    pub(super) fn new(template: &str, label: &'static str) -> Progress {
        if io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(PROGRESS_TICK);
            return Progress { bar, plain: None };
        }
        let bar = ProgressBar::hidden();
        let watched = bar.clone();
        let plain = tokio::spawn(async move {
            let started = Instant::now();
            let (mut said, mut said_at) = (None, Instant::now());
            loop {
                tokio::time::sleep(PLAIN_PROGRESS_EVERY).await;
                let now = (watched.position(), watched.length(), watched.message());
                if said.as_ref() == Some(&now) && said_at.elapsed() < PLAIN_PROGRESS_QUIET {
                    continue;
                }
                let of = now.1.map(|l| format!("/{l}")).unwrap_or_default();
                let message = if now.2.is_empty() { String::new() } else { format!(" {}", now.2) };
                eprintln!("{label}: {}{of}{message} ({} s)", now.0, started.elapsed().as_secs());
                (said, said_at) = (Some(now), Instant::now());
            }
        });
        Progress { bar, plain: Some(plain) }
    }

    pub(super) fn bar(&self) -> &ProgressBar {
        &self.bar
    }

    /// Clears the bar; no more plain lines.
    pub(super) fn finish(self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(plain) = &self.plain {
            plain.abort();
        }
    }
}

/// The sentence for an observatory whose requests queue has no consumer.
pub(super) fn nobody_consumes(observatory: &str, queue: &str) -> String {
    format!(
        "waiting for observatory {observatory}: nobody consumes its requests queue `{queue}` — is its observatory \
         running? The requests wait in the queue until it does."
    )
}

/// Counts the consumers of the requests queue of each of `observatories` now and every
/// [`CONSUMER_CHECK_EVERY`], saying once when one has none and again when one is back. Runs
/// until aborted.
pub(super) fn watch_observatories(
    bus: Arc<AmqpBus>,
    observatories: Vec<String>,
    say: impl Fn(&str) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut idle = BTreeSet::new();
        loop {
            for observatory in &observatories {
                let queue = Queue::ObservatoryRequests(observatory.clone());
                let name = queue.name(&bus.settings().prefix);
                match bus.consumer_count(&queue).await {
                    Ok(0) if idle.insert(observatory.clone()) => say(&nobody_consumes(observatory, &name)),
                    Ok(n) if n > 0 && idle.remove(observatory) => {
                        say(&format!("observatory {observatory} consumes its requests queue `{name}` again"))
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(queue = %name, error = %e, "cannot count the queue's consumers"),
                }
            }
            tokio::time::sleep(CONSUMER_CHECK_EVERY).await;
        }
    })
}

/// What an interrupted `submit` says: the cases stay open, and the commands that follow them.
pub(super) fn interrupted(config: &Path, cases: &[(Uuid, String, u64)], while_sending: bool) -> String {
    let ids: Vec<String> = cases.iter().map(|(id, observatory, _)| format!("{id} ({observatory})")).collect();
    let config = config.display();
    let unsent = if while_sending { ", and sends what was not sent yet" } else { "" };
    format!(
        "interrupted: the case(s) stay open: {}.\n  follow them: passerelle requester status --config {config}\n  \
         receive their results: passerelle requester run --config {config} (it writes the result files{unsent})",
        ids.join(", ")
    )
}
