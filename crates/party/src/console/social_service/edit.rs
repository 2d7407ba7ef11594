//! The edit forms of a file's data (norm 43, I.1 to II.2): one small form per field of the
//! catalogue (`passerelle_social_file::FIELDS`), grouped by the norm's item, each sending one
//! update (a worker's `POST /v1/files/{file}/update`, a rights officer's `…/rights/rectify`)
//! so that the history names only the field changed.
//! The widget follows the field's type: a date, a number, a closed list's codes by their
//! French labels, a list of texts one a line, a list of records as JSON with its keys named.

use passerelle_console::html::text;
use passerelle_console::PageError;
use passerelle_social_file::{FieldInfo, FieldType, TextKind, FIELDS};
use passerelle_social_service::printable::label;
use serde_json::{Map, Value};

use super::forms::{checkbox, hidden, input, options_of, post, select, submit, textarea};

/// Every field's form, in `<details>` by norm item, each posted to `action`.
pub(super) fn render(action: &str, fields: &Map<String, Value>, csrf: &str) -> String {
    let mut out = String::new();
    let mut items: Vec<&str> = FIELDS.iter().map(|f| f.norm_ref).collect();
    items.dedup();
    for item in items {
        let of_item: Vec<&FieldInfo> = FIELDS.iter().filter(|f| f.norm_ref == item).collect();
        let names: Vec<&str> = of_item.iter().map(|f| label(f.path)).collect();
        out.push_str(&format!("<details><summary>{} — {}</summary>", text(item), text(&names.join(", "))));
        for info in of_item {
            out.push_str(&field_form(action, info, fields.get(info.path), csrf));
        }
        out.push_str("</details>");
    }
    out
}

fn id_of(path: &str) -> String {
    format!("f-{}", path.replace('.', "-"))
}

/// One field's form, its current value filled in, posted to `action`.
pub(super) fn field_form(action: &str, info: &FieldInfo, current: Option<&Value>, csrf: &str) -> String {
    let id = id_of(info.path);
    let name = label(info.path);
    let as_text = current.and_then(Value::as_str).unwrap_or("");
    let widget = match info.field_type {
        FieldType::Date => input("date", &id, "value", name, as_text, false),
        FieldType::Text(TextKind::FreeText) => textarea(&id, "value", name, "", as_text),
        FieldType::Text(TextKind::Address) => textarea(&id, "value", name, "Jusqu'à 6 lignes.", as_text),
        FieldType::Nir | FieldType::Text(_) => input("text", &id, "value", name, as_text, false),
        FieldType::GirLevel | FieldType::Percent => {
            let number = current.and_then(Value::as_u64).map(|n| n.to_string()).unwrap_or_default();
            input("number", &id, "value", name, &number, false)
        }
        FieldType::Bool => {
            let options = [("true".to_owned(), "Oui".to_owned()), ("false".to_owned(), "Non".to_owned())];
            let chosen = current.and_then(Value::as_bool).map(|b| b.to_string());
            select(&id, "value", name, &options, chosen.as_deref(), Some("—"))
        }
        FieldType::Enum(kind) => {
            select(&id, "value", name, &options_of(kind), current.and_then(Value::as_str), Some("—"))
        }
        FieldType::EnumList(kind) => {
            let chosen: Vec<&str> = current
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let boxes: String = options_of(kind)
                .iter()
                .map(|(code, shown)| {
                    checkbox(&format!("{id}-{code}"), "value", shown, code, chosen.contains(&code.as_str()))
                })
                .collect();
            format!("<fieldset><legend>{}</legend>{boxes}</fieldset>", text(name))
        }
        FieldType::TextList(_) => {
            let lines: Vec<&str> = current
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            textarea(&id, "value", name, "Une valeur par ligne.", &lines.join("\n"))
        }
        FieldType::Records(kind) => {
            let json = current.map(|v| serde_json::to_string_pretty(v).unwrap_or_default()).unwrap_or_default();
            let codes: Vec<String> = kind
                .keys()
                .iter()
                .filter_map(|k| Some(format!("{k} : {}", kind.code_kind(k)?.codes().join(", "))))
                .collect();
            let hint = format!(
                "Une liste JSON d'objets aux clés {}.{}",
                kind.keys().join(", "),
                if codes.is_empty() { String::new() } else { format!(" Codes — {}.", codes.join(" ; ")) }
            );
            textarea(&id, "value", name, &hint, &json)
        }
    };
    let clear = checkbox(&format!("{id}-clear"), "clear", "Effacer cette donnée", "yes", false);
    let inner = format!("{}{widget}{clear}{}", hidden("field", info.path), submit("Enregistrer", false));
    post(action, "stack", csrf, &inner)
}

/// The JSON value of a field's form: its `value` entries read as the field's type wants, or
/// `null` to clear it (asked, or left empty).
pub(super) fn value_of(info: &FieldInfo, values: &[&str], clear: bool) -> Result<Value, PageError> {
    if clear {
        return Ok(Value::Null);
    }
    let first = values.first().map(|v| v.trim()).unwrap_or("");
    let strings = |items: Vec<&str>| {
        let items: Vec<Value> = items.into_iter().map(|s| Value::String(s.to_owned())).collect();
        if items.is_empty() {
            Value::Null
        } else {
            Value::Array(items)
        }
    };
    Ok(match info.field_type {
        _ if first.is_empty() && !matches!(info.field_type, FieldType::EnumList(_)) => Value::Null,
        FieldType::Bool => Value::Bool(first == "true"),
        FieldType::GirLevel | FieldType::Percent => Value::from(
            first
                .parse::<u64>()
                .map_err(|_| PageError::bad_request(format!("{} : un nombre entier.", label(info.path))))?,
        ),
        FieldType::EnumList(_) => strings(values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).collect()),
        FieldType::TextList(_) => strings(first.lines().map(str::trim).filter(|l| !l.is_empty()).collect()),
        FieldType::Records(_) => {
            let parsed: Value = serde_json::from_str(first).map_err(|e| {
                PageError::bad_request(format!("{} : une liste JSON d'objets ({e}).", label(info.path)))
            })?;
            if !parsed.is_array() {
                return Err(PageError::bad_request(format!("{} : une liste JSON d'objets.", label(info.path))));
            }
            parsed
        }
        FieldType::Text(TextKind::FreeText | TextKind::Address) => {
            Value::String(values[0].trim().replace("\r\n", "\n"))
        }
        FieldType::Nir | FieldType::Text(_) | FieldType::Date | FieldType::Enum(_) => Value::String(first.to_owned()),
    })
}
