//! Logging with `tracing`: human-readable by default, JSON lines with `--log-format json`.
//!
//! Logs go to stderr so that stdout stays free for machine-readable output (`--json`). Never log
//! a NIR, a name or an address: events carry case ids, chunk indexes, counts and body codes.
//! Colours only when stderr is a terminal and `NO_COLOR` is not set (<https://no-color.org>), so
//! a journal, a file or a pipe gets plain text.

use std::io::IsTerminal;

/// The log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "human" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unknown log format `{other}` (expected human or json)")),
        }
    }
}

/// Installs the global subscriber. The level comes from `RUST_LOG` (default `info`). Calling it
/// twice is harmless (the second call does nothing), which tests rely on.
pub fn init_telemetry(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(use_colour(&std::io::stderr()));
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Whether output to `stream` may carry ANSI colours: only on a terminal, and never when
/// `NO_COLOR` is set to anything but the empty string.
pub fn use_colour(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_colour_outside_a_terminal() {
        let file = tempfile::tempfile().unwrap();
        assert!(!use_colour(&file), "a file (a journal, a pipe) gets plain text");
    }
}
