//! Layered loading: TOML file → environment → (flags, applied by the caller on the typed tree).
//!
//! The file is parsed once into a tree, each `PASSERELLE_…` variable is written over it (and
//! remembered, with the key it set), then the tree becomes the role's typed settings. A value
//! that does not fit is reported against whoever set it: the variable, or the file's line and
//! column ([`Sources`]).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::explain;
use crate::sources::{Origin, Sources};

/// Environment variables starting with this prefix override settings.
pub const ENV_PREFIX: &str = "PASSERELLE_";

/// Variables with the prefix that are not settings: the CLI's own (`--log-format`) and the test
/// suite's (`PASSERELLE_TEST_…`, e.g. the broker URL of the tests). They never reach a settings
/// tree, so setting them cannot make a daemon refuse its configuration.
fn is_settings_variable(name: &str) -> bool {
    name.starts_with(ENV_PREFIX)
        && name.len() > ENV_PREFIX.len()
        && name != "PASSERELLE_LOG_FORMAT"
        && !name.starts_with("PASSERELLE_TEST_")
}

/// Why settings could not be loaded. Each variant names the source at fault: the file (with
/// its line and column when there is one) or the environment variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the settings file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}: not valid TOML: {message}")]
    Syntax { origin: Origin, message: String },
    /// A key whose value cannot be used (unknown, missing, of the wrong type, out of range).
    #[error("{origin}: `{key}`: {problem}")]
    Invalid { origin: Origin, key: String, problem: String },
    #[error("the environment variable {var} cannot override the settings: {message}")]
    Env { var: String, message: String },
}

impl ConfigError {
    /// The key at fault, when one is.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Settings and where each of their values came from.
#[derive(Debug)]
pub struct Loaded<T> {
    pub settings: T,
    pub sources: Sources,
}

/// Loads settings of type `T` from a TOML file, then applies `PASSERELLE_…` overrides from the
/// process environment.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    load_sourced(path).map(|loaded| loaded.settings)
}

/// [`load`], keeping the [`Sources`] so that later checks can name where a key was set.
pub fn load_sourced<T: DeserializeOwned>(path: &Path) -> Result<Loaded<T>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    load_sourced_from_str(&text, path, std::env::vars())
}

/// Loads settings from TOML text and an explicit environment (tests pass their own, never the
/// process's). `origin` names the source in error messages.
pub fn load_from_str<T: DeserializeOwned>(
    text: &str,
    origin: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    load_sourced_from_str(text, origin, env).map(|loaded| loaded.settings)
}

/// [`load_from_str`], keeping the [`Sources`].
pub fn load_sourced_from_str<T: DeserializeOwned>(
    text: &str,
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Loaded<T>, ConfigError> {
    let mut tree: toml::Table = toml::from_str(text).map_err(|e: toml::de::Error| ConfigError::Syntax {
        origin: Origin::in_file(path, text, e.span().map(|s| s.start)),
        message: e.message().trim_end_matches('\n').to_owned(),
    })?;
    let mut overrides: Vec<(String, String)> = env.into_iter().filter(|(k, _)| is_settings_variable(k)).collect();
    overrides.sort();
    let mut set_by_env = Vec::with_capacity(overrides.len());
    // The variables whose text read as another TOML type (`PASSERELLE_AGENT_ID=12345`): where
    // the settings want text there, their text is used as it is.
    let mut as_text = Vec::new();
    for (var, value) in overrides {
        let key: Vec<String> = var[ENV_PREFIX.len()..].split("__").map(str::to_lowercase).collect();
        let parsed = parse_scalar(&value);
        if !parsed.is_str() {
            as_text.push((key.clone(), value));
        }
        set_path(&mut tree, &key, parsed).map_err(|message| ConfigError::Env { var: var.clone(), message })?;
        set_by_env.push((key, var));
    }
    let sources = Sources::new(path, text, set_by_env);
    loop {
        let error = match serde_path_to_error::deserialize::<_, T>(toml::Value::Table(tree.clone())) {
            Ok(settings) => return Ok(Loaded { settings, sources }),
            Err(error) => error,
        };
        let path: Vec<String> = error
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                _ => None,
            })
            .collect();
        let message = error.inner().message();
        if message.ends_with("expected a string") || message.ends_with("expected path string") {
            if let Some(i) = as_text.iter().position(|(key, _)| *key == path) {
                let (key, value) = as_text.swap_remove(i);
                set_path(&mut tree, &key, toml::Value::String(value)).expect("the variable was set there before");
                continue;
            }
        }
        let explained = explain::serde_error(&path, message, &sources);
        return Err(sources.invalid(&explained.key, explained.problem));
    }
}

/// An override's text is read as a TOML value when it is one (`42`, `true`, `["a","b"]`), else
/// as a plain string.
fn parse_scalar(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_owned()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty key")?;
    let mut current = table;
    for key in parents {
        let entry = current.entry(key.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| format!("`{key}` is not a table"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Example {
        name: String,
        broker: Broker,
        #[serde(default)]
        dir: Option<PathBuf>,
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Broker {
        prefix: String,
        #[serde(default)]
        prefetch: u16,
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn environment_overrides_the_file_by_nested_key() {
        let s: Example = load_from_str(
            "name = 'a'\n[broker]\nprefix = 'p'\n",
            Path::new("x.toml"),
            env(&[
                ("PASSERELLE_BROKER__PREFIX", "test-1"),
                ("PASSERELLE_BROKER__PREFETCH", "64"),
                ("OTHER", "x"),
                ("PASSERELLE_LOG_FORMAT", "json"),
                ("PASSERELLE_TEST_AMQP_URL", "amqp://x"),
            ]),
        )
        .unwrap();
        assert_eq!(
            s,
            Example { name: "a".into(), broker: Broker { prefix: "test-1".into(), prefetch: 64 }, dir: None }
        );
        // Digits where text goes are the text.
        let s: Example = load_from_str(
            "name = 'a'\n[broker]\nprefix = 'p'\n",
            Path::new("x.toml"),
            env(&[("PASSERELLE_BROKER__PREFIX", "2026"), ("PASSERELLE_NAME", "true"), ("PASSERELLE_DIR", "13")]),
        )
        .unwrap();
        assert_eq!(
            (s.name.as_str(), s.broker.prefix.as_str(), s.dir.as_deref()),
            ("true", "2026", Some(Path::new("13")))
        );
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let err = load_from_str::<Example>("name = 'a'\n[broker]\nprefx = 'p'\n", Path::new("obs.toml"), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("obs.toml, line 3") && err.contains("prefx"), "{err}");
        let err = load::<Example>(Path::new("/nonexistent/obs.toml")).unwrap_err().to_string();
        assert!(err.contains("cannot read the settings file /nonexistent/obs.toml"), "{err}");
    }
}
