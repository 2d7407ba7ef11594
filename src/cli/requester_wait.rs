//! What `requester submit` says while it sends and waits: its progress (a bar on a terminal,
//! plain lines at a bounded rate otherwise, so a log or a pipe sees it too) and, when
//! interrupted, that the cases stay open and how to follow them.

use std::io::{self, IsTerminal};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use passerelle_requester::api::SubmittedCase;

/// How often a progress bar redraws its spinner while nothing moves.
const PROGRESS_TICK: Duration = Duration::from_millis(200);

/// When stderr is not a terminal: at most one progress line this often, and only when the
/// progress moved…
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// …or when nothing was said for this long (so a log shows the command is still waiting).
const PLAIN_PROGRESS_QUIET: Duration = Duration::from_secs(60);

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

/// What an interrupted `submit` says: the cases stay open, and the commands that follow them
/// (`flags`: how the agent reached the daemon, `--socket …` or `--config …`).
pub(super) fn interrupted(flags: &str, cases: &[SubmittedCase]) -> String {
    let ids: Vec<String> = cases.iter().map(|c| format!("{} ({})", c.case, c.observatory)).collect();
    format!(
        "interrupted: the case(s) stay open: {}.\n  follow them: passerelle requester status {flags}\n  \
         get a result once answered: passerelle requester fetch {flags} CASE (the requester daemon receives them)",
        ids.join(", ")
    )
}
