//! The settings every daemon shares for its local API: `[api] socket` (where it serves) and
//! `[agents] registry` (who may call it). Each role's settings embed both.

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
}

impl ApiSettings {
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
    fn the_default_socket_is_beside_the_data_dir_and_the_setting_wins() {
        let api = ApiSettings::default();
        assert_eq!(
            api.socket_or_default(Path::new("/var/lib/passerelle/observatory")),
            Path::new("/var/lib/passerelle/run/observatory.sock")
        );
        let api = ApiSettings { socket: Some("/run/passerelle/observatory.sock".into()) };
        assert_eq!(api.socket_or_default(Path::new("/d")), Path::new("/run/passerelle/observatory.sock"));
        assert_eq!(AgentsSettings::default().registry_path(), (PathBuf::from(DEFAULT_REGISTRY), false));
    }
}
