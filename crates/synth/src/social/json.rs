//! A synthetic file as one JSON object (a line of `social-files.jsonl`): the case file keyed by
//! catalogue path (`care.gir_level`), written by `passerelle_social_file::file_json` — the one
//! writer of the form its updates read (codes as text, dates `YYYY-MM-DD`, records as objects
//! keyed by protobuf field names), so a line can be replayed as updates; then its actions and
//! offers in the same forms (the file's writer does not cover them: they are not file fields).

use passerelle_protocol::v1;
use passerelle_social_file::file_json;
use serde_json::{json, Value};

use super::SyntheticFile;

/// The JSON object of a synthetic file: `file_id`, `departement`, `file` (catalogue path →
/// value, present fields only), `actions` and `offers`.
pub fn to_json(f: &SyntheticFile) -> Value {
    json!({
        "file_id": f.file_id,
        "departement": f.departement,
        "file": file_json(&f.file),
        "actions": f.actions.iter().map(action).collect::<Vec<_>>(),
        "offers": f.offers.iter().map(offer).collect::<Vec<_>>(),
    })
}

/// A code's text form: the value name without its prefix, in lower case; the zero value is null.
fn code(name: Option<&str>, prefix: &str) -> Value {
    match name {
        Some(n) if !n.ends_with("_UNSPECIFIED") => Value::String(n.trim_start_matches(prefix).to_ascii_lowercase()),
        _ => Value::Null,
    }
}

macro_rules! code {
    ($ty:ident, $n:expr, $prefix:literal) => {
        code(v1::$ty::try_from($n).ok().map(|e| e.as_str_name()), $prefix)
    };
}

fn date(d: Option<&v1::Date>) -> Value {
    d.map_or(Value::Null, |d| Value::String(format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)))
}

/// An object without its null members: absent values are left out, as in the file.
fn object(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.to_owned(), v)).collect())
}

fn action(a: &v1::Action) -> Value {
    object(vec![
        ("action_id", json!(a.action_id)),
        ("file_id", json!(a.file_id)),
        ("purpose", code!(ActionPurpose, a.purpose, "ACTION_PURPOSE_")),
        ("start", date(a.start.as_ref())),
        ("end", date(a.end.as_ref())),
        (
            "contacts",
            a.contacts
                .iter()
                .map(|c| {
                    object(vec![
                        ("channel", code!(ContactChannel, c.channel, "CONTACT_CHANNEL_")),
                        ("date", date(c.date.as_ref())),
                        ("agent_id", json!(c.agent_id)),
                    ])
                })
                .collect(),
        ),
        ("offer_ids", json!(a.offer_ids)),
    ])
}

fn offer(o: &v1::Offer) -> Value {
    object(vec![
        ("offer_id", json!(o.offer_id)),
        ("kind", code!(OfferKind, o.kind, "OFFER_KIND_")),
        ("theme", code!(OfferTheme, o.theme, "OFFER_THEME_")),
        ("participant_file_ids", json!(o.participant_file_ids)),
        (
            "sessions",
            o.sessions
                .iter()
                .map(|s| {
                    object(vec![("date", date(s.date.as_ref())), ("attendee_file_ids", json!(s.attendee_file_ids))])
                })
                .collect(),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use passerelle_social_file::{Update, FIELDS};

    use super::*;
    use crate::social::files;

    /// Every line replayed as updates, field by field, onto an empty file gives the file back:
    /// the writer uses exactly the updates' JSON forms and the catalogue's paths.
    #[test]
    fn a_line_replayed_as_updates_gives_the_file_back() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        for f in files(11, 300) {
            let line = to_json(&f);
            let fields = line["file"].as_object().unwrap();
            let mut rebuilt = v1::SocialFile::default();
            // In catalogue order (a budget line cites household members set before it), the kind
            // of number first (a NIR without its kind is refused).
            let order = FIELDS.iter().map(|i| i.path).filter(|p| *p != "identity.number_kind");
            for path in std::iter::once("identity.number_kind").chain(order).filter(|p| fields.contains_key(*p)) {
                let update = Update::parse(path, &fields[path]).unwrap();
                update.apply(&mut rebuilt, "as-13-01", at).unwrap_or_else(|e| panic!("{path}: {e}"));
            }
            assert_eq!(fields.len(), FIELDS.iter().filter(|i| fields.contains_key(i.path)).count());
            assert_eq!(rebuilt, f.file, "{}", f.file_id);
            assert_eq!(line["actions"].as_array().unwrap().len(), f.actions.len());
        }
    }
}
