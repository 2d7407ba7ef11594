//! Where each setting came from: the file (with its line and column) or a `PASSERELLE_…`
//! variable, so that an error is blamed on what the operator has to change.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::load::{ConfigError, ENV_PREFIX};

/// The source of one setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A `PASSERELLE_…` environment variable set it (or the table holding it).
    Env { var: String },
    /// The settings file; `at` is the (line, column) of the key, both from 1, when the file has
    /// it (a key the file does not set is named with the file alone).
    File { path: PathBuf, at: Option<(usize, usize)> },
}

impl Origin {
    /// The file, at the line and column of a byte offset of its text (the file alone for `None`).
    pub fn in_file(path: &Path, text: &str, offset: Option<usize>) -> Origin {
        Origin::File { path: path.to_owned(), at: offset.map(|o| line_and_column(text, o)) }
    }

    /// Whether the file (not a variable) is blamed.
    pub fn is_file(&self) -> bool {
        matches!(self, Origin::File { .. })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env { var } => write!(f, "the environment variable {var}"),
            Origin::File { path, at: Some((line, column)) } => {
                write!(f, "{}, line {line}, column {column}", path.display())
            }
            Origin::File { path, at: None } => write!(f, "{}", path.display()),
        }
    }
}

/// The settings file's text and the variables written over it, by key.
#[derive(Debug, Clone)]
pub struct Sources {
    path: PathBuf,
    text: String,
    /// Each variable applied, with the key path it set (lowercase segments).
    env: Vec<(Vec<String>, String)>,
}

impl Sources {
    pub(crate) fn new(path: &Path, text: &str, env: Vec<(Vec<String>, String)>) -> Sources {
        Sources { path: path.to_owned(), text: text.to_owned(), env }
    }

    /// Sources for settings built in code (tests, the demo): every key is blamed on `path`.
    pub fn none(path: &Path) -> Sources {
        Sources::new(path, "", Vec::new())
    }

    /// The settings file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the dotted `key` (`broker.urls`) was set, or would be.
    pub fn origin(&self, key: &str) -> Origin {
        let key = split(key);
        // The variable that set this key or a table above it: the longest such prefix.
        let above = self.env.iter().filter(|(set, _)| key.starts_with(set)).max_by_key(|(set, _)| set.len());
        if let Some((_, var)) = above {
            return Origin::Env { var: var.clone() };
        }
        let (depth, offset) = self.file_offset(&key);
        if depth < key.len() {
            // The file lacks the key, and a variable made something under it: blame the variable.
            if let Some((_, var)) = self.env.iter().find(|(set, _)| set.starts_with(&key)) {
                return Origin::Env { var: var.clone() };
            }
        }
        Origin::in_file(&self.path, &self.text, offset)
    }

    /// Whether the file or a variable sets the dotted `key` (or a table above it, for a
    /// variable).
    pub fn is_set(&self, key: &str) -> bool {
        let key = split(key);
        self.env.iter().any(|(set, _)| key.starts_with(set) || set.starts_with(&key))
            || self.file_offset(&key).0 == key.len()
    }

    /// The error for a key whose value cannot be used, blamed on its origin.
    pub fn invalid(&self, key: &str, problem: impl fmt::Display) -> ConfigError {
        ConfigError::Invalid { origin: self.origin(key), key: key.to_owned(), problem: problem.to_string() }
    }

    /// The variable that would set the dotted `key`: `broker.prefix` → `PASSERELLE_BROKER__PREFIX`.
    pub fn variable_for(key: &str) -> String {
        format!("{ENV_PREFIX}{}", key.split('.').map(str::to_uppercase).collect::<Vec<_>>().join("__"))
    }

    /// How deep the file has `key` (the number of its segments found, 0 when it lacks even the
    /// first) and the byte offset of the deepest one found.
    fn file_offset(&self, key: &[String]) -> (usize, Option<usize>) {
        let Ok(document) = toml_edit::ImDocument::parse(self.text.as_str()) else { return (0, None) };
        let mut item = document.as_item();
        let (mut depth, mut offset) = (0, None);
        // Tables and inline tables are followed; a key under an array is located at the array.
        for segment in key {
            let Some((k, value)) = item.as_table_like().and_then(|t| t.get_key_value(segment)) else { break };
            depth += 1;
            offset = k.span().map(|s| s.start).or(offset);
            item = value;
        }
        (depth, offset)
    }
}

fn split(key: &str) -> Vec<String> {
    key.split('.').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The 1-based line and column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(text: &str, env: &[(&str, &str)]) -> Sources {
        let env = env.iter().map(|(k, v)| (split(k), (*v).to_owned())).collect();
        Sources::new(Path::new("o.toml"), text, env)
    }

    #[test]
    fn a_key_is_blamed_on_its_line_or_its_variable() {
        let s = sources("code = 'x'\n[broker]\n  prefix = 'p'\n", &[("broker.urls", "PASSERELLE_BROKER__URLS")]);
        assert_eq!(s.origin("broker.prefix").to_string(), "o.toml, line 3, column 3");
        assert_eq!(s.origin("broker.urls").to_string(), "the environment variable PASSERELLE_BROKER__URLS");
        assert_eq!(s.origin("code").to_string(), "o.toml, line 1, column 1");
        assert_eq!(s.origin("data_dir").to_string(), "o.toml");
        assert!(s.is_set("broker.urls") && s.is_set("broker.prefix") && !s.is_set("broker.prefetch"));
        let s = sources("code = 'x'\n", &[("brokr.urls", "PASSERELLE_BROKR__URLS")]);
        assert_eq!(s.origin("brokr").to_string(), "the environment variable PASSERELLE_BROKR__URLS");
        assert_eq!(Sources::variable_for("broker.prefix"), "PASSERELLE_BROKER__PREFIX");
    }
}
