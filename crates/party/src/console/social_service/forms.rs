//! The form widgets of the social service's pages: each input with its `<label for>`, each
//! value escaped, each closed list's options from the list itself (code and French label).

use passerelle_console::html::text;
use passerelle_social_file::EnumKind;

/// A `POST` form to `action`: the session's CSRF field (`csrf`), then `inner`.
pub(super) fn post(action: &str, class: &str, csrf: &str, inner: &str) -> String {
    format!(r#"<form class="{class}" method="post" action="{}">{csrf}{inner}</form>"#, text(action))
}

/// A hidden field.
pub(super) fn hidden(name: &str, value: &str) -> String {
    format!(r#"<input type="hidden" name="{}" value="{}">"#, text(name), text(value))
}

/// A submit button (`secondary` for a lesser one).
pub(super) fn submit(label: &str, secondary: bool) -> String {
    let class = if secondary { r#" class="secondary""# } else { "" };
    format!(r#"<button type="submit"{class}>{}</button>"#, text(label))
}

/// A labelled `<input>` of `kind` (`text`, `date`, `number`…), its value `value`.
pub(super) fn input(kind: &str, id: &str, name: &str, label: &str, value: &str, required: bool) -> String {
    let required = if required { " required" } else { "" };
    format!(
        r#"<div><label for="{id}">{}</label><input type="{kind}" id="{id}" name="{}" value="{}"{required}></div>"#,
        text(label),
        text(name),
        text(value),
        id = text(id),
    )
}

/// A labelled checkbox sending `value` when checked.
pub(super) fn checkbox(id: &str, name: &str, label: &str, value: &str, checked: bool) -> String {
    let checked = if checked { " checked" } else { "" };
    format!(
        r#"<div><input type="checkbox" id="{id}" name="{}" value="{}"{checked}> <label for="{id}">{}</label></div>"#,
        text(name),
        text(value),
        text(label),
        id = text(id),
    )
}

/// A labelled `<textarea>`.
pub(super) fn textarea(id: &str, name: &str, label: &str, hint: &str, value: &str) -> String {
    let hint = if hint.is_empty() { String::new() } else { format!(r#"<span class="hint">{}</span>"#, text(hint)) };
    format!(
        r#"<div><label for="{id}">{}{hint}</label><textarea id="{id}" name="{}">{}</textarea></div>"#,
        text(label),
        text(name),
        text(value),
        id = text(id),
    )
}

/// A labelled `<select>` of `(value, label)` options, `selected` chosen; `empty` adds a first
/// option with no value and that label.
pub(super) fn select(
    id: &str,
    name: &str,
    label: &str,
    options: &[(String, String)],
    selected: Option<&str>,
    empty: Option<&str>,
) -> String {
    let mut out = format!(
        r#"<div><label for="{id}">{}</label><select id="{id}" name="{}">"#,
        text(label),
        text(name),
        id = text(id)
    );
    if let Some(empty) = empty {
        out.push_str(&format!(r#"<option value="">{}</option>"#, text(empty)));
    }
    for (value, shown) in options {
        let chosen = if selected == Some(value.as_str()) { " selected" } else { "" };
        out.push_str(&format!(r#"<option value="{}"{chosen}>{}</option>"#, text(value), text(shown)));
    }
    out.push_str("</select></div>");
    out
}

/// A closed list's options: each code with its French label.
pub(super) fn options_of(kind: &EnumKind) -> Vec<(String, String)> {
    kind.codes()
        .into_iter()
        .map(|code| {
            let label = kind.label_fr(&code).unwrap_or(&code).to_owned();
            (code, label)
        })
        .collect()
}
