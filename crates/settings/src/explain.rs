//! serde's messages ("invalid type: string \"30\", expected u64") said in words an operator
//! acts on ("must be a whole number of days, not the text \"30\""), with "did you mean" for a
//! key or a variant that is one or two letters off.

use crate::sources::Sources;

/// What serde's error becomes: the dotted key at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Explained {
    pub key: String,
    pub problem: String,
}

/// Explains serde's `message`, raised at `path` (the keys leading to the value at fault).
pub(crate) fn serde_error(path: &[String], message: &str, sources: &Sources) -> Explained {
    let mut path = path.to_vec();
    // An item of a list: the list's key is named, with the item's position.
    let item = match path.last().map(|s| s.parse::<usize>()) {
        Some(Ok(index)) => {
            path.pop();
            Some(index + 1)
        }
        _ => None,
    };
    let dotted = |path: &[String]| path.join(".");
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = split_backticked(rest);
        if path.last() != Some(&field) {
            path.push(field.clone());
        }
        let key = dotted(&path);
        let parent = dotted(&path[..path.len() - 1]);
        let problem = match closest(&field, &expected) {
            Some(near) => {
                let near_key = if parent.is_empty() { near.to_owned() } else { format!("{parent}.{near}") };
                if sources.origin(&key).is_file() {
                    format!("not a setting (did you mean `{near_key}`?)")
                } else {
                    format!("not a setting (did you mean {}?)", Sources::variable_for(&near_key))
                }
            }
            None if expected.is_empty() => "not a setting (this table takes none)".to_owned(),
            None => format!("not a setting; the settings here are: {}", expected.join(", ")),
        };
        return Explained { key, problem };
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (variant, expected) = split_backticked(rest);
        let list = expected.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", ");
        let problem = match closest(&variant, &expected) {
            Some(near) => format!("cannot be \"{variant}\" (did you mean \"{near}\"?); it is one of {list}"),
            None => format!("cannot be \"{variant}\": it is one of {list}"),
        };
        return Explained { key: dotted(&path), problem };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default().to_owned();
        path.push(field);
        return Explained { key: dotted(&path), problem: "missing: it is required".to_owned() };
    }
    let key = dotted(&path);
    let name = path.last().map(String::as_str).unwrap_or_default();
    let which = item.map(|n| format!("item {n} ")).unwrap_or_default();
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.rsplit_once(", expected ") {
                let wanted = expected_in_words(expected, name, item.is_some());
                let mut problem = format!("{which}must be {wanted}, not {}", found_in_words(found));
                if let Some(text) = found.strip_prefix("string \"").and_then(|s| s.strip_suffix('"')) {
                    if wanted.starts_with("a whole number")
                        || wanted.starts_with("a number")
                        || wanted == "true or false"
                    {
                        problem.push_str(&format!(" (write it without quotes: {name} = {text})"));
                    }
                }
                return Explained { key, problem };
            }
        }
    }
    Explained { key, problem: format!("{which}cannot be used: {message}") }
}

/// `foo`, expected one of `a`, `b` → ("foo", ["a", "b"]).
fn split_backticked(rest: &str) -> (String, Vec<String>) {
    let mut parts = rest.split('`');
    let name = parts.next().unwrap_or_default().to_owned();
    // The remaining odd-numbered parts are the backticked candidates.
    let expected = parts.skip(1).step_by(2).map(str::to_owned).collect();
    (name, expected)
}

/// The candidate a misspelt name most likely meant: one or two edits away (a third of the
/// name's length for long names).
fn closest<'a>(name: &str, candidates: &'a [String]) -> Option<&'a str> {
    did_you_mean(name, candidates.iter().map(String::as_str))
}

/// The candidate a misspelt `name` most likely meant, for a "did you mean" in an error: one or
/// two edits away (a third of the name's length for long names), compared in lowercase.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let threshold = 2.max(name.chars().count() / 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&name.to_lowercase(), c), c))
        .filter(|(d, _)| *d <= threshold)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// What the key expects, in words: serde's type, with the unit the key's name gives.
fn expected_in_words(expected: &str, key: &str, is_item: bool) -> String {
    let unit = unit_of(key);
    let whole = |range: &str| match unit {
        Some(unit) => format!("a whole number of {unit}{range}"),
        None => format!("a whole number{range}"),
    };
    match expected {
        "u8" => whole(" (0 to 255)"),
        "u16" => whole(" (0 to 65535)"),
        "u32" | "u64" | "usize" => whole(" (0 or more)"),
        "i8" | "i16" | "i32" | "i64" | "isize" => whole(""),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a string" | "a borrowed string" | "path string" | "a character" => {
            if is_item {
                format!("text in quotes ({})", noun_of(key).unwrap_or("one of the list"))
            } else {
                "text in quotes".to_owned()
            }
        }
        "a sequence" => match noun_of(key) {
            Some(noun) => format!("a list of {noun}, in brackets: [\"…\", \"…\"]"),
            None => "a list, in brackets: [\"…\", \"…\"]".to_owned(),
        },
        other if other.starts_with("struct ") || other == "a map" || other.starts_with("internally tagged enum") => {
            "a table".to_owned()
        }
        other => other.to_owned(),
    }
}

/// The unit of a key's number, from its name.
fn unit_of(key: &str) -> Option<&'static str> {
    [("_days", "days"), ("_years", "years"), ("_ms", "milliseconds"), ("_secs", "seconds"), ("_s", "seconds")]
        .iter()
        .find(|(suffix, _)| key.ends_with(suffix))
        .map(|(_, unit)| *unit)
}

/// What a list key holds, from its name.
fn noun_of(key: &str) -> Option<&'static str> {
    match key {
        "urls" => Some("URLs"),
        "bodies" => Some("body codes"),
        "observatories" => Some("observatory codes"),
        "holds" => Some("category codes"),
        "fault_points" => Some("fault point names"),
        _ => None,
    }
}

/// What was found, in words: `string "30"` → `the text "30"`, ``integer `3` `` → `3`.
fn found_in_words(found: &str) -> String {
    let backticked = || found.split('`').nth(1).unwrap_or(found).to_owned();
    if let Some(text) = found.strip_prefix("string ") {
        format!("the text {text}")
    } else if found.starts_with("integer `") || found.starts_with("floating point `") || found.starts_with("boolean `")
    {
        backticked()
    } else if found == "sequence" {
        "a list".to_owned()
    } else if found == "map" {
        "a table".to_owned()
    } else {
        found.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn explain(path: &[&str], message: &str) -> Explained {
        let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        serde_error(&path, message, &Sources::none(Path::new("o.toml")))
    }

    #[test]
    fn types_are_said_in_words() {
        let e = explain(&["retention_days"], "invalid type: string \"30\", expected u64");
        assert_eq!(e.key, "retention_days");
        assert_eq!(
            e.problem,
            "must be a whole number of days (0 or more), not the text \"30\" (write it without quotes: retention_days = 30)"
        );
        let e = explain(&["broker", "urls"], "invalid type: string \"amqp://x\", expected a sequence");
        assert_eq!(e.problem, "must be a list of URLs, in brackets: [\"…\", \"…\"], not the text \"amqp://x\"");
        let e = explain(&["broker", "bodies", "1"], "invalid type: integer `3`, expected a string");
        assert_eq!(
            (e.key.as_str(), e.problem.as_str()),
            ("broker.bodies", "item 2 must be text in quotes (body codes), not 3")
        );
    }

    #[test]
    fn near_misses_get_a_suggestion() {
        let e = explain(&["broker"], "unknown field `prefx`, expected one of `urls`, `prefix`, `prefetch`");
        assert_eq!(
            (e.key.as_str(), e.problem.as_str()),
            ("broker.prefx", "not a setting (did you mean `broker.prefix`?)")
        );
        let e = explain(&[], "unknown field `colour`, expected `code` or `data_dir`");
        assert_eq!(e.problem, "not a setting; the settings here are: code, data_dir");
        let e = explain(&["profile"], "unknown variant `devlopment`, expected `production` or `development`");
        assert!(e.problem.contains("did you mean \"development\"?"), "{}", e.problem);
        assert_eq!(edit_distance("retension_days", "retention_days"), 1);
    }
}
