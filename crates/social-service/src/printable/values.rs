//! The values of the case file as a person reads them on paper: each closed list's code by its
//! French label (`widowed` → `veuf·ve`), each record of a list as one readable line (a budget
//! line "Ressource — retraite : 1 604,00 € par mois"), amounts in euros from cents, booleans
//! as Oui/Non, dates `jj/mm/aaaa` — a stored timestamp by its day in the body's legal time zone
//! (`[trails] time_zone`), a stored day as it is. No record key and no code reaches the page.

use chrono::DateTime;
use passerelle_pages::{euros, NBSP};
use passerelle_protocol::calendar::LegalCalendar;
use passerelle_social_file::{field, EnumKind, FieldType, RecordKind};
use serde_json::{Map, Value};

use super::escape;

/// Whether a text is a day `YYYY-MM-DD`.
fn is_day(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// A stored day (`YYYY-MM-DD`) or RFC 3339 timestamp as `jj/mm/aaaa`: a timestamp by its day in
/// the legal time zone (23:30 UTC on 31 December is 1 January in Paris); anything else as it is.
pub fn fr_date(text: &str, calendar: &LegalCalendar) -> String {
    if is_day(text) {
        return format!("{}/{}/{}", &text[8..10], &text[5..7], &text[..4]);
    }
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&calendar.zone()).format("%d/%m/%Y").to_string(),
        Err(_) => text.to_owned(),
    }
}

/// A text that must not break across lines (a date, an agent id: Chromium breaks at hyphens).
pub fn nowrap(text: &str) -> String {
    format!("<span class=\"nw\">{}</span>", escape(text))
}

/// A code by its French label (an unknown code as it is, escaped).
pub fn label(kind: &EnumKind, code: &str) -> String {
    escape(kind.label_fr(code).unwrap_or(code))
}

/// A value of the file, at its catalogue path, in words.
pub fn field_html(path: &str, value: &Value, calendar: &LegalCalendar) -> String {
    let Some(info) = field(path) else { return plain(value, calendar) };
    match (info.field_type, value) {
        (FieldType::Enum(kind), Value::String(code)) => label(kind, code),
        (FieldType::EnumList(kind), Value::Array(codes)) => {
            list(codes.iter().map(|c| c.as_str().map_or_else(|| plain(c, calendar), |c| label(kind, c))))
        }
        (FieldType::Percent, Value::Number(n)) => format!("{n}{NBSP}%"),
        (FieldType::Records(kind), Value::Array(items)) => list(items.iter().map(|item| match item {
            Value::Object(record) => record_line(kind, record, calendar),
            other => plain(other, calendar),
        })),
        _ => plain(value, calendar),
    }
}

/// A value of no known shape: texts as they are, lists one item a line.
fn plain(value: &Value, calendar: &LegalCalendar) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(true) => "Oui".to_owned(),
        Value::Bool(false) => "Non".to_owned(),
        Value::String(s) if is_day(s) => nowrap(&fr_date(s, calendar)),
        Value::String(s) => escape(s).replace('\n', "<br>"),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => list(items.iter().map(|i| plain(i, calendar))),
        Value::Object(map) => map.values().map(|v| plain(v, calendar)).collect::<Vec<_>>().join(" ; "),
    }
}

fn list(items: impl Iterator<Item = String>) -> String {
    let lis: String = items.map(|i| format!("<li>{i}</li>")).collect();
    format!("<ul>{lis}</ul>")
}

/// The first letter in capitals ("ressource" → "Ressource").
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A period in words: "du 30/08/2024 au 25/06/2025", "depuis le …", "jusqu'au …".
fn span(start: Option<String>, end: Option<String>) -> Option<String> {
    match (start, end) {
        (Some(start), Some(end)) => Some(format!("du {start} au {end}")),
        (Some(start), None) => Some(format!("depuis le {start}")),
        (None, Some(end)) => Some(format!("jusqu'au {end}")),
        (None, None) => None,
    }
}

/// One record of a list as one line, its parts in the order a person reads them.
fn record_line(kind: RecordKind, record: &Map<String, Value>, calendar: &LegalCalendar) -> String {
    let text = |key: &str| record.get(key).and_then(Value::as_str).map(|t| escape(t.trim())).filter(|t| !t.is_empty());
    let code = |key: &str| {
        let code = record.get(key).and_then(Value::as_str)?;
        Some(kind.code_kind(key).map_or_else(|| escape(code), |k| label(k, code)))
    };
    let amount = |key: &str| record.get(key).and_then(Value::as_i64).map(euros);
    let day = |key: &str| record.get(key).and_then(Value::as_str).map(|d| nowrap(&fr_date(d, calendar)));
    let name = || {
        let name = [text("family_name"), text("given_names")].into_iter().flatten().collect::<Vec<_>>().join(" ");
        (!name.is_empty()).then_some(name)
    };
    let reach = || {
        let address = text("postal_address").map(|a| a.replace('\n', ", "));
        let phone = text("phone").map(|p| format!("tél. {p}"));
        [address, phone, text("email")].into_iter().flatten().collect::<Vec<_>>()
    };
    let parts: Vec<String> = match kind {
        RecordKind::HouseholdMember => {
            let member = record.get("member").and_then(Value::as_u64).map(|n| format!("membre n°{NBSP}{n} :"));
            let name = name().map(|n| match text("usage_name") {
                Some(usage) => format!("{n} (nom d'usage {usage})"),
                None => n,
            });
            let born = record.get("birth_year").and_then(Value::as_u64).map(|y| format!("né·e en {y}"));
            let first = [member, name].into_iter().flatten().collect::<Vec<_>>().join(" ");
            return [Some(first), born, code("relationship")].into_iter().flatten().collect::<Vec<_>>().join(", ");
        }
        RecordKind::BudgetLine => {
            let what = [code("kind").map(|k| capitalised(&k)), code("item")].into_iter().flatten().collect::<Vec<_>>();
            let how_much = [amount("amount_cents"), code("period")].into_iter().flatten().collect::<Vec<_>>();
            let whose = match record.get("member").and_then(Value::as_u64) {
                Some(0) => "la personne".to_owned(),
                Some(n) => format!("membre n°{NBSP}{n} du foyer"),
                None => "tout le foyer".to_owned(),
            };
            return format!("{} : {} ({whose})", what.join(" — "), how_much.join(" "));
        }
        RecordKind::Relation => {
            let concern = code("concern").map(|c| format!("pour {c}"));
            let who = [code("kind").map(|k| capitalised(&k)), name()].into_iter().flatten().collect::<Vec<_>>();
            [Some(who.join(" : ")), concern].into_iter().flatten().chain(reach()).collect()
        }
        RecordKind::MedicalOpinion => {
            vec![
                code("kind").map(|k| capitalised(&k)).unwrap_or_default(),
                day("date").map(|d| format!("avis du {d}")).unwrap_or_default(),
            ]
        }
        RecordKind::AttachedBody => {
            let body = text("body_code").map(|b| format!("organisme {b}"));
            let number = text("member_number").map(|n| format!("n° d'assuré·e {n}"));
            [code("scheme").map(|s| capitalised(&s)), body, number].into_iter().flatten().chain(reach()).collect()
        }
        RecordKind::Benefit => {
            let since = day("since").map(|d| format!("depuis le {d}"));
            let body = text("body_code").map(|b| format!("organisme {b}"));
            [code("kind").map(|k| capitalised(&k)), code("status"), since, body].into_iter().flatten().collect()
        }
        RecordKind::PreventionAid => {
            let when = span(day("start"), day("end"));
            [code("kind").map(|k| capitalised(&k)), code("status"), when, amount("amount_cents")]
                .into_iter()
                .flatten()
                .collect()
        }
        RecordKind::SickLeave => {
            let daily = amount("daily_allowance_cents").map(|a| format!("indemnité journalière {a}"));
            [code("risk").map(|r| capitalised(&r)), span(day("start"), day("end")), daily]
                .into_iter()
                .flatten()
                .collect()
        }
        RecordKind::PensionPayment => {
            let how_much = [amount("amount_cents"), code("period")].into_iter().flatten().collect::<Vec<_>>();
            let since = day("start").map(|d| format!("depuis le {d}"));
            let how_much = (!how_much.is_empty()).then(|| how_much.join(" "));
            [code("kind").map(|k| capitalised(&k)), how_much, since].into_iter().flatten().collect()
        }
        RecordKind::LegalPartner => {
            let nature = code("nature").map(|n| format!("({n})"));
            vec![[text("name"), nature].into_iter().flatten().collect::<Vec<_>>().join(" ")]
        }
        RecordKind::PhysicalPartner => [name(), text("function")].into_iter().flatten().chain(reach()).collect(),
    };
    parts.into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(kind: RecordKind, record: Value) -> String {
        record_line(kind, record.as_object().unwrap(), &LegalCalendar::default())
    }

    #[test]
    fn each_record_reads_as_a_line_of_labels_amounts_and_days() {
        let nw = |d: &str| format!("<span class=\"nw\">{d}</span>");
        let aid = json!({"kind": "home_care", "status": "requested", "start": "2024-08-30", "amount_cents": 52600});
        assert_eq!(
            line(RecordKind::PreventionAid, aid),
            format!("Soins à domicile, demandé, depuis le {}, 526,00\u{a0}€", nw("30/08/2024"))
        );
        let leave =
            json!({"risk": "work_accident", "start": "2025-01-02", "end": "2025-02-03", "daily_allowance_cents": 4512});
        assert_eq!(
            line(RecordKind::SickLeave, leave),
            format!(
                "Accident du travail, du {} au {}, indemnité journalière 45,12\u{a0}€",
                nw("02/01/2025"),
                nw("03/02/2025")
            )
        );
        let pension = json!({"kind": "death_capital", "amount_cents": 350000, "period": "one_off"});
        assert_eq!(line(RecordKind::PensionPayment, pension), "Capital décès, 3\u{a0}500,00\u{a0}€ en une fois");
        let partner = json!({"nature": "local_authority", "name": "Mairie de Gap"});
        assert_eq!(line(RecordKind::LegalPartner, partner), "Mairie de Gap (collectivité territoriale)");
        let relation =
            json!({"kind": "neighbour", "family_name": "Martin", "concern": "isolation", "phone": "01 99 00 00 01"});
        assert_eq!(line(RecordKind::Relation, relation), "Voisin·e : Martin, pour isolement, tél. 01 99 00 00 01");
        let opinion = json!({"kind": "unfit_for_post", "date": "2025-05-06"});
        assert_eq!(
            line(RecordKind::MedicalOpinion, opinion),
            format!("Inaptitude au poste, avis du {}", nw("06/05/2025"))
        );
    }
}
