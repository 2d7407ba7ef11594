//! Reading a registry file's text into agents, collecting every problem with its line and
//! column: a TOML syntax error, a key that is not one of an agent's (with "did you mean"), a
//! missing or empty value, an unknown role (with "did you mean"), an account or agent id given
//! twice, an office missing for a role scoped to one.
//!
//! The file is walked with `toml_edit`, which keeps each key's and value's place in the text.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::Path;

use passerelle_settings::{did_you_mean, Origin};
use toml_edit::{ImDocument, Item, Table};

use crate::agent::Agent;
use crate::registry::Problem;
use crate::role::Role;

/// The keys of one `[[agent]]` table.
const KEYS: [&str; 5] = ["account", "id", "name", "roles", "office"];

/// The longest account name accepted (the common `useradd` limit).
const MAX_ACCOUNT_LEN: usize = 32;

/// Problems, each at a byte offset of the text, made into [`Problem`]s at the end.
struct Problems<'t> {
    path: &'t Path,
    text: &'t str,
    found: Vec<Problem>,
}

impl Problems<'_> {
    fn at(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        self.found.push(Problem {
            origin: Origin::in_file(self.path, self.text, span.map(|s| s.start)),
            message: message.into(),
        });
    }
}

/// The agents of a registry's text, or every problem found in it.
pub(crate) fn agents(text: &str, path: &Path) -> Result<Vec<Agent>, Vec<Problem>> {
    let mut problems = Problems { path, text, found: Vec::new() };
    let document = match ImDocument::parse(text) {
        Ok(document) => document,
        Err(e) => {
            problems.at(e.span(), format!("not valid TOML: {}", e.message().trim_end()));
            return Err(problems.found);
        }
    };
    let root = document.as_table();
    for (key, _) in root.iter() {
        if key != "agent" {
            let span = root.get_key_value(key).and_then(|(k, _)| k.span());
            problems.at(span, format!("`{key}` is not a registry key: the file holds [[agent]] tables only"));
        }
    }
    let mut agents = Vec::new();
    match root.get("agent") {
        None => {}
        Some(Item::ArrayOfTables(tables)) => {
            // Where each account and id was first given, for "given twice".
            let mut accounts: HashMap<String, Option<Range<usize>>> = HashMap::new();
            let mut ids: HashMap<String, Option<Range<usize>>> = HashMap::new();
            for table in tables.iter() {
                let Some(agent) = agent(table, &mut problems) else { continue };
                let span = value_span(table, "account");
                if let Some(first) = accounts.insert(agent.account.clone(), span.clone()) {
                    problems.at(
                        span,
                        format!("the account \"{}\" is already given{}", agent.account, line_of(text, first)),
                    );
                    continue;
                }
                let span = value_span(table, "id");
                if let Some(first) = ids.insert(agent.id.clone(), span.clone()) {
                    problems
                        .at(span, format!("the agent id \"{}\" is already given{}", agent.id, line_of(text, first)));
                    continue;
                }
                agents.push(agent);
            }
        }
        Some(other) => {
            let span = root.get_key_value("agent").and_then(|(k, _)| k.span()).or_else(|| other.span());
            problems.at(span, "`agent` must be a list of tables, each starting with a [[agent]] line");
        }
    }
    if problems.found.is_empty() {
        Ok(agents)
    } else {
        Err(problems.found)
    }
}

/// One `[[agent]]` table, or `None` when it has problems (recorded).
fn agent(table: &Table, problems: &mut Problems<'_>) -> Option<Agent> {
    let before = problems.found.len();
    let header = table.span();
    for (key, _) in table.iter() {
        if !KEYS.contains(&key) {
            let span = table.get_key_value(key).and_then(|(k, _)| k.span());
            let hint = match did_you_mean(key, KEYS) {
                Some(near) => format!(" (did you mean `{near}`?)"),
                None => format!("; an agent has: {}", KEYS.join(", ")),
            };
            problems.at(span, format!("`{key}` is not a key of an agent{hint}"));
        }
    }
    let account = text(table, "account", problems);
    if let Some(account) = &account {
        if !is_account_name(account) {
            problems.at(
                value_span(table, "account"),
                format!(
                    "\"{account}\" is not an OS account name: letters, digits, `_`, `-` and `.`, not starting \
                     with `-`, at most {MAX_ACCOUNT_LEN} characters"
                ),
            );
        }
    }
    let id = text(table, "id", problems);
    let name = text(table, "name", problems);
    let roles = roles(table, problems);
    let office = match table.get("office") {
        None => None,
        Some(item) => match item.as_str().map(str::trim) {
            Some(office) if passerelle_protocol::ids::is_office_code(office) => Some(office.to_owned()),
            _ => {
                problems.at(
                    item.span(),
                    "`office` must be an office code in quotes: lowercase letters, digits, `-` and `_` \
                     (\"caf-13\"), at most 32 characters",
                );
                None
            }
        },
    };
    if let Some(roles) = &roles {
        let scoped: Vec<&str> = roles.iter().filter(|r| r.is_scoped()).map(|r| r.as_str()).collect();
        if !scoped.is_empty() && table.get("office").is_none() {
            problems.at(
                header.clone(),
                format!(
                    "this agent has no `office`, which the role {} needs (it acts for one office): add \
                     office = \"…\"",
                    scoped.join(", ")
                ),
            );
        }
    }
    if problems.found.len() > before {
        return None;
    }
    Some(Agent { account: account?, id: id?, name: name?, roles: roles?, office })
}

/// A required, non-empty text value.
fn text(table: &Table, key: &str, problems: &mut Problems<'_>) -> Option<String> {
    match table.get(key) {
        None => {
            problems.at(table.span(), format!("this agent has no `{key}`: it is required"));
            None
        }
        Some(item) => match item.as_str().map(str::trim) {
            Some(value) if !value.is_empty() => Some(value.to_owned()),
            Some(_) => {
                problems.at(item.span(), format!("`{key}` is empty"));
                None
            }
            None => {
                problems.at(item.span(), format!("`{key}` must be text in quotes"));
                None
            }
        },
    }
}

/// The `roles` list: at least one, each a role of DESIGN's table, none twice.
fn roles(table: &Table, problems: &mut Problems<'_>) -> Option<BTreeSet<Role>> {
    let Some(item) = table.get("roles") else {
        problems.at(table.span(), "this agent has no `roles`: it is required (e.g. roles = [\"operator\"])");
        return None;
    };
    let Some(array) = item.as_array() else {
        problems.at(item.span(), "`roles` must be a list of role names in brackets: [\"auditor\", \"operator\"]");
        return None;
    };
    if array.is_empty() {
        problems.at(item.span(), format!("`roles` is empty: an agent has at least one of {}", Role::names()));
        return None;
    }
    let mut roles = BTreeSet::new();
    let mut ok = true;
    for value in array.iter() {
        let role = match value.as_str() {
            Some(name) => name.parse::<Role>().map_err(|e| e.to_string()),
            None => Err("a role is a name in quotes (\"auditor\")".to_owned()),
        };
        match role {
            Ok(role) if !roles.insert(role) => {
                problems.at(value.span(), format!("the role {role} is listed twice"));
                ok = false;
            }
            Ok(_) => {}
            Err(message) => {
                problems.at(value.span(), message);
                ok = false;
            }
        }
    }
    ok.then_some(roles)
}

/// Where the value of `key` is.
fn value_span(table: &Table, key: &str) -> Option<Range<usize>> {
    table.get(key).and_then(Item::span)
}

/// ` (first at line N)`.
fn line_of(text: &str, span: Option<Range<usize>>) -> String {
    match span {
        Some(span) => format!(" (first at line {})", text[..span.start.min(text.len())].matches('\n').count() + 1),
        None => String::new(),
    }
}

/// Whether `name` is usable as an OS account name (the portable set `useradd` accepts).
fn is_account_name(name: &str) -> bool {
    name.len() <= MAX_ACCOUNT_LEN
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Registry, RegistryError};

    fn problems(text: &str) -> Vec<String> {
        match Registry::parse(text, Path::new("agents.toml")) {
            Ok(_) => panic!("accepted: {text}"),
            Err(RegistryError::Problems { problems, .. }) => problems.iter().map(ToString::to_string).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    const GOOD: &str = r#"
[[agent]]
account = "prev-a1"        # the OS account name
id = "agent-0042"
name = "Agent Bleu"
roles = ["prevention-agent"]
office = "caf-13"

[[agent]]
account = "audit.b2"
id = "agent-0043"
name = "Agent Vert"
roles = ["auditor", "operator"]
"#;

    #[test]
    fn a_good_file_gives_its_agents() {
        let registry = Registry::parse(GOOD, Path::new("agents.toml")).unwrap();
        assert_eq!(registry.len(), 2);
        let a = registry.agent("prev-a1").unwrap();
        assert_eq!((a.id.as_str(), a.name.as_str(), a.office.as_deref()), ("agent-0042", "Agent Bleu", Some("caf-13")));
        assert!(a.has(Role::PreventionAgent) && !a.has(Role::Auditor));
        assert!(registry.agent("audit.b2").unwrap().has(Role::Operator));
        assert!(registry.agent("root").is_none());
        assert!(Registry::parse("", Path::new("agents.toml")).unwrap().is_empty());
    }

    #[test]
    fn every_problem_is_listed_with_its_line_and_column() {
        let text = r#"[[agent]]
account = "a1"
id = "agent-1"
name = "Agent Bleu"
roles = ["prevntion-agent", "auditor", "auditor"]
ofice = "caf-13"

[[agent]]
account = "a1"
id = "agent-2"
name = "Agent Vert"
roles = ["operator"]

[[agent]]
account = "a3"
id = "agent-3"
name = "Agent Rouge"
roles = ["social-worker"]
"#;
        let found = problems(text);
        assert_eq!(
            found,
            [
                "agents.toml, line 6, column 1: `ofice` is not a key of an agent (did you mean `office`?)",
                "agents.toml, line 5, column 10: \"prevntion-agent\" is not a role (did you mean \"prevention-agent\"?); \
                 the roles are: observatory-agent, statistics-agent, operator, auditor, rights-officer, \
                 prevention-agent, requester-admin, responder-admin, social-service, social-worker, archive-reader, \
                 director-delegate, medical-officer",
                "agents.toml, line 5, column 40: the role auditor is listed twice",
                "agents.toml, line 14, column 1: this agent has no `office`, which the role social-worker needs (it \
                 acts for one office): add office = \"…\"",
            ],
            "{found:#?}"
        );
        // The first table had problems, so the second's account is not "given twice"; once the
        // first is fixed, it is.
        let fixed =
            text.replace("\"prevntion-agent\", \"auditor\", \"auditor\"", "\"auditor\"").replace("ofice", "office");
        let found = problems(&fixed);
        assert!(
            found[0]
                .starts_with("agents.toml, line 9, column 11: the account \"a1\" is already given (first at line 2)"),
            "{found:#?}"
        );
    }

    #[test]
    fn missing_values_wrong_types_and_stray_keys() {
        let found = problems("title = \"x\"\n[[agent]]\naccount = \"-x\"\nname = \"\"\nroles = \"auditor\"\n");
        assert_eq!(
            found,
            [
                "agents.toml, line 1, column 1: `title` is not a registry key: the file holds [[agent]] tables only",
                "agents.toml, line 3, column 11: \"-x\" is not an OS account name: letters, digits, `_`, `-` and `.`, \
                 not starting with `-`, at most 32 characters",
                "agents.toml, line 2, column 1: this agent has no `id`: it is required",
                "agents.toml, line 4, column 8: `name` is empty",
                "agents.toml, line 5, column 9: `roles` must be a list of role names in brackets: [\"auditor\", \"operator\"]",
            ],
            "{found:#?}"
        );
        let found = problems("[[agent]]\naccount = \"a\"\nid = \"b\"\nname = \"c\"\nroles = [\n");
        assert!(found[0].starts_with("agents.toml, line 6, column 1: not valid TOML"), "{found:#?}");
        let found = problems("agent = 3\n");
        assert!(found[0].contains("`agent` must be a list of tables"), "{found:#?}");
        let found = problems("[[agent]]\naccount = \"a\"\nid = \"b\"\nname = \"c\"\nroles = []\n");
        assert!(found[0].contains("`roles` is empty"), "{found:#?}");
    }
}
