//! The settings every daemon shares for its local API: `[api] socket` (where it serves), its web
//! console (`[api] console_addr`, `console_url`, `console_idle_minutes`) and `[agents] registry`
//! (who may call it). Each role's settings embed both.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the deploy kit puts the daemons' sockets: a folder every agent's account can traverse.
pub const RUN_DIR: &str = "/run/passerelle";

/// The registry a daemon reads when `[agents] registry` is not set (a missing file there means
/// no agent: every call is refused, and the daemon says so when it starts).
pub const DEFAULT_REGISTRY: &str = "/etc/passerelle/agents.toml";

/// `[api]`: the daemon's local API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// The Unix socket it serves on. Default: `run/<name of the data_dir>.sock` beside its
    /// `data_dir` (`/var/lib/passerelle/run/observatory.sock` for a `data_dir` of
    /// `/var/lib/passerelle/observatory`): two daemons never share a `data_dir`, so they never
    /// share a default socket; the deploy kit sets `/run/passerelle/<daemon>.sock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<PathBuf>,
    /// Where the daemon serves its web console (`HOST:PORT`, port 0 a free one); absent: no
    /// console. A loopback address unless `console_url` says the console is reached through the
    /// organisation's TLS reverse proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_addr: Option<String>,
    /// The console's address as the agents' browsers reach it through the reverse proxy
    /// (`https://observatory.passerelle.carsat.example/`, the root of a host name of its own): the one-time URLs start with it and
    /// the session cookie is marked `Secure`. Absent: `http://<console_addr>/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    /// A console session ends after this many minutes without a request (default 15, at most 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_idle_minutes: Option<u32>,
}

/// A console session's idle timeout when the settings give none, in minutes.
pub const DEFAULT_CONSOLE_IDLE_MINUTES: u32 = 15;

/// The longest idle timeout a setting may give, in minutes.
pub const MAX_CONSOLE_IDLE_MINUTES: u32 = 60;

impl ApiSettings {
    /// Checks the console's settings: the key at fault and why. `console_addr` must be
    /// `HOST:PORT` on a loopback address, unless `console_url` is an `https://` URL (the console
    /// is behind a TLS reverse proxy, which may reach it on another interface).
    pub fn check_console(&self) -> Result<(), (&'static str, String)> {
        let behind_tls = match &self.console_url {
            None => false,
            Some(url) => {
                let parsed =
                    url::Url::parse(url).map_err(|e| ("api.console_url", format!("`{url}` is not a URL ({e})")))?;
                if !matches!(parsed.scheme(), "https" | "http") || parsed.cannot_be_a_base() {
                    return Err(("api.console_url", format!("`{url}` is not an http(s) URL")));
                }
                if parsed.path() != "/" || parsed.query().is_some() {
                    return Err((
                        "api.console_url",
                        format!(
                            "`{url}` has a path: the console's pages link from the root, so the proxy serves it \
                             at the root of a host name of its own (`https://observatory.passerelle.example/`)"
                        ),
                    ));
                }
                parsed.scheme() == "https"
            }
        };
        if let Some(addr) = &self.console_addr {
            let parsed: std::net::SocketAddr = addr.parse().map_err(|_| {
                ("api.console_addr", format!("`{addr}` is not HOST:PORT with an IP address (e.g. `127.0.0.1:8443`)"))
            })?;
            if !parsed.ip().is_loopback() && !behind_tls {
                return Err((
                    "api.console_addr",
                    format!(
                        "`{addr}` is not a loopback address: the console serves plain HTTP, so it listens on the \
                         loopback interface, or behind the organisation's TLS reverse proxy named by an https \
                         `api.console_url`"
                    ),
                ));
            }
        }
        if let Some(minutes) = self.console_idle_minutes {
            if !(1..=MAX_CONSOLE_IDLE_MINUTES).contains(&minutes) {
                return Err((
                    "api.console_idle_minutes",
                    format!("{minutes} is outside 1..={MAX_CONSOLE_IDLE_MINUTES} minutes"),
                ));
            }
        }
        Ok(())
    }

    /// The console's idle timeout.
    pub fn console_idle(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            u64::from(self.console_idle_minutes.unwrap_or(DEFAULT_CONSOLE_IDLE_MINUTES)) * 60,
        )
    }

    pub fn is_default(&self) -> bool {
        self == &ApiSettings::default()
    }

    /// The socket: the setting, else `<data_dir's parent>/run/<data_dir's name>.sock`.
    pub fn socket_or_default(&self, data_dir: &Path) -> PathBuf {
        match &self.socket {
            Some(socket) => socket.clone(),
            None => {
                let name =
                    data_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "api".into());
                data_dir.parent().unwrap_or(Path::new("")).join("run").join(format!("{name}.sock"))
            }
        }
    }
}

/// `[agents]`: the agent registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsSettings {
    /// The registry file (account → agent id, name, roles, office), which the body's director
    /// controls; reloaded on SIGHUP. Default: [`DEFAULT_REGISTRY`]. A file set here must exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<PathBuf>,
}

impl AgentsSettings {
    pub fn is_default(&self) -> bool {
        self == &AgentsSettings::default()
    }

    /// The registry file, and whether the settings name it (then it must exist).
    pub fn registry_path(&self) -> (PathBuf, bool) {
        match &self.registry {
            Some(path) => (path.clone(), true),
            None => (PathBuf::from(DEFAULT_REGISTRY), false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_listens_on_loopback_unless_behind_a_tls_proxy() {
        let with = |addr: &str, url: Option<&str>| ApiSettings {
            console_addr: Some(addr.into()),
            console_url: url.map(str::to_owned),
            ..ApiSettings::default()
        };
        assert_eq!(with("127.0.0.1:0", None).check_console(), Ok(()));
        assert_eq!(with("[::1]:8443", None).check_console(), Ok(()));
        assert_eq!(with("0.0.0.0:8443", None).check_console().unwrap_err().0, "api.console_addr");
        assert_eq!(
            with("0.0.0.0:8443", Some("http://console.example/")).check_console().unwrap_err().0,
            "api.console_addr"
        );
        assert_eq!(with("10.0.0.5:8443", Some("https://obs.console.example/")).check_console(), Ok(()));
        assert_eq!(
            with("127.0.0.1:0", Some("https://console.example/obs/")).check_console().unwrap_err().0,
            "api.console_url"
        );
        assert_eq!(with("localhost:80", None).check_console().unwrap_err().0, "api.console_addr");
        assert_eq!(with("127.0.0.1:0", Some("ftp://x/")).check_console().unwrap_err().0, "api.console_url");
        let idle = ApiSettings { console_idle_minutes: Some(0), ..ApiSettings::default() };
        assert_eq!(idle.check_console().unwrap_err().0, "api.console_idle_minutes");
        assert_eq!(ApiSettings::default().console_idle(), std::time::Duration::from_secs(15 * 60));
    }

    #[test]
    fn the_default_socket_is_beside_the_data_dir_and_the_setting_wins() {
        let api = ApiSettings::default();
        assert_eq!(
            api.socket_or_default(Path::new("/var/lib/passerelle/observatory")),
            Path::new("/var/lib/passerelle/run/observatory.sock")
        );
        let api = ApiSettings { socket: Some("/run/passerelle/observatory.sock".into()), ..ApiSettings::default() };
        assert_eq!(api.socket_or_default(Path::new("/d")), Path::new("/run/passerelle/observatory.sock"));
        assert_eq!(AgentsSettings::default().registry_path(), (PathBuf::from(DEFAULT_REGISTRY), false));
    }
}
