//! Each mistake, loaded through the public API as a role's settings are: the source it is blamed
//! on (the variable, or the file's line and column) and what the message says.

use std::path::{Path, PathBuf};

use passerelle_settings::{load_sourced_from_str, ConfigError, Origin};

/// A role's settings in miniature: numbers with units, a list, a nested table, an enum.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Settings {
    code: String,
    data_dir: PathBuf,
    #[serde(default)]
    retention_days: u64,
    #[serde(default)]
    profile: Profile,
    #[serde(default)]
    broker: Broker,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Profile {
    #[default]
    Production,
    Development,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Broker {
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    prefetch: u16,
}

const FILE: &str = "code = \"carsat-sud-est\"\ndata_dir = \"/var/lib/passerelle\"\n\n[broker]\nprefix = \"p\"\n";

fn load(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    load_sourced_from_str::<Settings>(text, Path::new("/etc/passerelle/observatory.toml"), env).map(|l| l.settings)
}

fn error(text: &str, env: &[(&str, &str)]) -> (Origin, String, String) {
    match load(text, env).unwrap_err() {
        ConfigError::Invalid { origin, key, problem } => (origin, key, problem),
        other => panic!("not a key's error: {other}"),
    }
}

fn file_at(line: usize, column: usize) -> Origin {
    Origin::File { path: PathBuf::from("/etc/passerelle/observatory.toml"), at: Some((line, column)) }
}

#[test]
fn a_misspelt_key_in_the_file_is_named_with_its_line_and_the_key_it_meant() {
    let text = FILE.replace("prefix = \"p\"", "prefx = \"p\"");
    let (origin, key, problem) = error(&text, &[]);
    assert_eq!((origin, key.as_str()), (file_at(5, 1), "broker.prefx"));
    assert_eq!(problem, "not a setting (did you mean `broker.prefix`?)");
    let e = load(&text, &[]).unwrap_err().to_string();
    assert_eq!(
        e,
        "/etc/passerelle/observatory.toml, line 5, column 1: `broker.prefx`: not a setting (did you mean `broker.prefix`?)"
    );
}

#[test]
fn a_misspelt_variable_is_blamed_on_the_variable_not_the_file() {
    let (origin, key, problem) = error(FILE, &[("PASSERELLE_BROKER__PREFX", "staging")]);
    assert_eq!(origin, Origin::Env { var: "PASSERELLE_BROKER__PREFX".into() });
    assert_eq!(key, "broker.prefx");
    assert_eq!(problem, "not a setting (did you mean PASSERELLE_BROKER__PREFIX?)");
    // A misspelt table: the variable is still the one named.
    let (origin, key, _) = error(FILE, &[("PASSERELLE_BROKR__URLS", "[\"amqp://x\"]")]);
    assert_eq!((origin, key.as_str()), (Origin::Env { var: "PASSERELLE_BROKR__URLS".into() }, "brokr"));
}

#[test]
fn a_number_in_quotes_is_said_in_words_with_the_fix() {
    let text = FILE.replace("[broker]", "retention_days = \"30\"\n[broker]");
    let (origin, key, problem) = error(&text, &[]);
    assert_eq!((origin, key.as_str()), (file_at(4, 1), "retention_days"));
    assert_eq!(
        problem,
        "must be a whole number of days (0 or more), not the text \"30\" (write it without quotes: retention_days = 30)"
    );
    // The same value from a variable is read as a number, and accepted.
    let s = load(FILE, &[("PASSERELLE_RETENTION_DAYS", "30")]).unwrap();
    assert_eq!(s.retention_days, 30);
    // A word where a number goes, from a variable: the variable is named.
    let (origin, _, problem) = error(FILE, &[("PASSERELLE_RETENTION_DAYS", "thirty")]);
    assert_eq!(origin, Origin::Env { var: "PASSERELLE_RETENTION_DAYS".into() });
    assert!(problem.starts_with("must be a whole number of days"), "{problem}");
}

#[test]
fn a_list_given_as_one_text_says_a_list_of_urls() {
    let text = FILE.replace("prefix = \"p\"", "urls = \"amqps://broker:5671/x\"");
    let (origin, key, problem) = error(&text, &[]);
    assert_eq!((origin, key.as_str()), (file_at(5, 1), "broker.urls"));
    assert_eq!(problem, "must be a list of URLs, in brackets: [\"…\", \"…\"], not the text \"amqps://broker:5671/x\"");
}

#[test]
fn a_number_out_of_its_type_range_says_the_range() {
    let text = FILE.replace("prefix = \"p\"", "prefetch = 70000");
    let (_, key, problem) = error(&text, &[]);
    assert_eq!(key, "broker.prefetch");
    assert_eq!(problem, "must be a whole number (0 to 65535), not 70000");
}

#[test]
fn a_misspelt_variant_gets_a_suggestion_and_the_list() {
    let text = format!("profile = \"devlopment\"\n{FILE}");
    let (origin, key, problem) = error(&text, &[]);
    assert_eq!((origin, key.as_str()), (file_at(1, 1), "profile"));
    assert_eq!(
        problem,
        "cannot be \"devlopment\" (did you mean \"development\"?); it is one of \"production\", \"development\""
    );
}

#[test]
fn a_missing_key_is_named_against_the_file() {
    let (origin, key, problem) = error("code = \"carsat-sud-est\"\n", &[]);
    assert_eq!(origin, Origin::File { path: PathBuf::from("/etc/passerelle/observatory.toml"), at: None });
    assert_eq!((key.as_str(), problem.as_str()), ("data_dir", "missing: it is required"));
}

#[test]
fn broken_toml_names_its_line_and_column() {
    let e = load("code = \"carsat-sud-est\"\ndata_dir = /var\n", &[]).unwrap_err();
    let ConfigError::Syntax { origin, .. } = &e else { panic!("{e}") };
    assert!(matches!(origin, Origin::File { at: Some((2, _)), .. }), "{e}");
    assert!(e.to_string().starts_with("/etc/passerelle/observatory.toml, line 2, column"), "{e}");
}

#[test]
fn sources_say_whether_a_key_was_set_and_where() {
    let loaded = load_sourced_from_str::<Settings>(
        FILE,
        Path::new("o.toml"),
        [("PASSERELLE_BROKER__URLS".to_owned(), "[\"amqp://h/v\"]".to_owned())],
    )
    .unwrap();
    assert!(loaded.sources.is_set("broker.urls") && loaded.sources.is_set("broker.prefix"));
    assert!(!loaded.sources.is_set("broker.prefetch") && !loaded.sources.is_set("retention_days"));
    let e = loaded.sources.invalid("retention_days", "45 is out of range: from 1 to 30 days").to_string();
    assert_eq!(e, "o.toml: `retention_days`: 45 is out of range: from 1 to 30 days");
    let e = loaded.sources.invalid("broker.urls", "empty").to_string();
    assert_eq!(e, "the environment variable PASSERELLE_BROKER__URLS: `broker.urls`: empty");
}
