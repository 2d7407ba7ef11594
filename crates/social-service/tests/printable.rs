//! The rights-access page as a person receives it (norm 43): a synthetic file with many
//! categories, changed by a social worker and rectified at the person's request, answered by
//! `rights_access`, rendered by `printable::access_page`, opened in a real headless Chromium and
//! printed to PDF — and the printed text read as the person reads it: their name, who holds the
//! file and since when, a value of every filled field, the history with agent and date but no
//! value, their rights and where to exercise them, accents intact, and nothing of what is
//! meant for the screen only. Every value as a person reads it: the closed lists' codes by their
//! French labels, amounts in euros, no code and no record key on the paper.

use std::sync::Arc;
use std::time::SystemTime;

use passerelle_protocol::rules::SystemClock;
use passerelle_social_file::enums::FAMILY_SITUATION;
use passerelle_social_file::{field, file_json, FieldType, RecordKind, ENUM_KINDS};
use passerelle_social_service::printable::{access_page, euros};
use passerelle_social_service::service::views::{ContactRequest, FieldUpdate};
use passerelle_social_service::store::NewFile;
use passerelle_social_service::{SocialService, SocialServiceSettings};
use passerelle_synth::social::{files, SyntheticFile};
use passerelle_test_support::browser::Browser;
use serde_json::{json, Value};

const WORKER: &str = "as-13-01";
const RIGHTS_OFFICER: &str = "dr-13-01";
const NEW_EMAIL: &str = "nouvelle.adresse@example.org";
const NEW_ADDRESS: &str = "12 place de l'Église\n13001 Marseille";

/// The synthetic file with the most fields filled among the first hundred (one with an
/// e-mail and a postal address, which the test replaces, a family situation and budget lines).
fn rich_file() -> SyntheticFile {
    files(43, 100)
        .filter(|f| {
            let fields = file_json(&f.file);
            ["contacts.email", "contacts.postal_address", "family.situation", "budget.lines"]
                .iter()
                .all(|path| fields.contains_key(*path))
        })
        .max_by_key(|f| file_json(&f.file).len())
        .expect("a synthetic file with an e-mail and an address")
}

/// What a person would find of a field's value on paper: the longest run of letters and digits
/// of its texts (a long value may wrap, a word does not), the French label of each of its codes
/// and each of its amounts in euros — each a phrase whose words are printed in order.
fn phrases_of(path: &str, value: &Value) -> (Vec<String>, Option<String>) {
    let mut words = Vec::new();
    let mut phrases = Vec::new();
    match (field(path).map(|f| f.field_type), value) {
        (Some(FieldType::Enum(kind) | FieldType::EnumList(kind)), _) => {
            let codes = value.as_array().cloned().unwrap_or_else(|| vec![value.clone()]);
            phrases.extend(codes.iter().map(|c| kind.label_fr(c.as_str().unwrap()).expect("a label").to_owned()));
        }
        (Some(FieldType::Records(kind)), Value::Array(records)) => {
            for (key, v) in records.iter().flat_map(|r| r.as_object().unwrap()) {
                record_value(kind, key, v, &mut words, &mut phrases);
            }
        }
        _ => words_of(value, &mut words),
    }
    (phrases, words.into_iter().max_by_key(|w| w.chars().count()))
}

fn record_value(kind: RecordKind, key: &str, value: &Value, words: &mut Vec<String>, phrases: &mut Vec<String>) {
    if let Some(list) = kind.code_kind(key) {
        phrases.push(list.label_fr(value.as_str().unwrap()).expect("a label").to_owned());
    } else if key.ends_with("_cents") {
        phrases.push(euros(value.as_i64().unwrap()));
    } else if value.is_string() {
        words_of(value, words);
    }
}

fn words_of(value: &Value, out: &mut Vec<String>) {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => (if *b { "Oui" } else { "Non" }).to_owned(),
        Value::Array(items) => return items.iter().for_each(|i| words_of(i, out)),
        Value::Object(map) => return map.values().for_each(|v| words_of(v, out)),
        Value::Null => return,
    };
    out.extend(text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned));
}

/// Whether the words of `phrase` appear in `text` in that order, punctuation around a word and
/// case aside (a label ends a clause: "accordé,"; begins a line: "Régime général").
fn printed(text: &str, phrase: &str) -> bool {
    let bare = |w: &str| w.trim_matches(|c: char| ",;:()".contains(c)).to_lowercase();
    let mut words = text.split_whitespace().map(bare);
    phrase.split_whitespace().map(bare).all(|wanted| words.any(|w| w == wanted))
}

/// The codes of the closed lists and the record keys that must never reach the paper: every
/// code but those that are also a word of some French label (`association`, `rsa` of "RSA").
fn raw_codes() -> Vec<String> {
    let label_words: std::collections::HashSet<String> = ENUM_KINDS
        .iter()
        .flat_map(|k| k.codes().into_iter().map(move |c| k.label_fr(&c).unwrap()))
        .flat_map(|l| l.split(|c: char| !c.is_alphanumeric()).map(str::to_lowercase).collect::<Vec<_>>())
        .collect();
    let codes = ENUM_KINDS.iter().flat_map(|k| k.codes()).filter(|c| !label_words.contains(c));
    let keys = ["amount_cents", "daily_allowance_cents", "birth_year", "given_names", "family_name", "member"];
    codes.chain(keys.iter().map(|k| k.to_string())).collect()
}

/// The text with every run of white space as one space (lines of a paragraph joined).
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether the words of `phrase` appear in `text` in that order: a table's cell of several lines
/// is printed interleaved with its neighbours' lines (`pdftotext -layout`), each in its order.
fn in_order(text: &str, phrase: &str) -> bool {
    let mut words = text.split_whitespace();
    phrase.split_whitespace().all(|wanted| words.any(|w| w == wanted))
}

/// The part of `text` from the heading `from` to the heading `to` (to the end when `to` is empty).
fn section<'a>(text: &'a str, from: &str, to: &str) -> &'a str {
    let start = text.find(from).unwrap_or_else(|| panic!("`{from}` in {text}"));
    let end = if to.is_empty() { None } else { text[start..].find(to) };
    &text[start..end.map_or(text.len(), |e| start + e)]
}

#[test]
fn the_printed_rights_access_page_says_what_a_person_must_read() {
    let dir = tempfile::tempdir().unwrap();
    let settings =
        SocialServiceSettings::for_dir("carsat-sud-est", "ss-13", dir.path(), &dir.path().join("r.sock"), "cpam-13");
    let service = SocialService::build(settings, Arc::new(SystemClock)).unwrap();
    let synthetic = rich_file();
    let old = file_json(&synthetic.file);
    let old_email = old["contacts.email"].as_str().unwrap().to_owned();
    let id = "0190a3b4-0000-7000-8000-0000000000aa";
    let new = NewFile {
        id,
        office: "ss-13",
        at: SystemTime::now(),
        agent: WORKER,
        file: &synthetic.file,
        source_case: None,
        source_line: None,
        person: [7; 32],
    };
    assert!(service.store().insert_file(&new).unwrap());

    // A worker's update, a rectification at the person's request, a contact, an objection.
    service.update(WORKER, id, &[FieldUpdate { field: "contacts.email".into(), value: json!(NEW_EMAIL) }]).unwrap();
    let rectified = FieldUpdate { field: "contacts.postal_address".into(), value: json!(NEW_ADDRESS) };
    service.rights_rectify(RIGHTS_OFFICER, id, &[rectified]).unwrap();
    service.contact(WORKER, id, &ContactRequest { channel: "phone".into(), date: None }).unwrap();
    let reasons = "Je ne souhaite plus être suivie : motifs légitimes exposés dans ma lettre.";
    service.rights_object(RIGHTS_OFFICER, id, reasons).unwrap();
    let answer = service.rights_access(RIGHTS_OFFICER, id).unwrap();
    assert!(answer.fields.len() >= 20, "a file with many fields: {}", answer.fields.len());
    assert_eq!(answer.history.len(), 2, "the update and the rectification");

    let page = dir.path().join("droit-d-acces.html");
    std::fs::write(&page, access_page(&answer)).unwrap();
    let Some(browser) = Browser::start_or_skip() else { return };
    browser.goto(&format!("file://{}", page.display())).unwrap();
    let screen = squash(&browser.page_text().unwrap());
    assert!(screen.contains("Page à imprimer"), "the screen shows the agent what to do: {screen}");
    assert!(screen.contains("Droit d'accès : données détenues par le service social"), "{screen}");

    let printed = browser.print_text().unwrap();
    let text = squash(&printed);
    check_printed(&text, &answer.fields, &old_email);
}

/// What the person reads on paper.
fn check_printed(text: &str, fields: &serde_json::Map<String, Value>, old_email: &str) {
    // The page dates in the body's legal time zone (Paris), a day ahead of UTC from 23:00 or 22:00.
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).format("%d/%m/%Y").to_string();
    let given = fields["identity.given_names"].as_str().unwrap();
    let family = fields["identity.family_name"].as_str().unwrap().to_uppercase();
    assert!(text.contains(&format!("Personne concernée : {given} {family}")), "their name first: {text}");

    for title in [
        "Droit d'accès : données détenues par le service social",
        "Qui détient ce dossier",
        "Données du dossier",
        "Actions et contacts",
        "Offres de service",
        "Historique des modifications",
        "Demandes d'exercice des droits",
        "Vos droits et où les exercer",
    ] {
        assert!(text.contains(title), "section `{title}` in {text}");
    }

    // Who holds it, since when, for how long.
    let holder = section(text, "Qui détient ce dossier", "Données du dossier");
    for words in ["service social (ss-13)", "carsat-sud-est", "son directeur", &format!("ouvert depuis le {today}")] {
        assert!(holder.contains(words), "`{words}` in {holder}");
    }
    assert!(holder.contains("dix-huit mois") && holder.contains("trois ans"), "how long it is kept: {holder}");

    // A value of every filled field, the changed ones with their new value; the old one nowhere.
    let data = section(text, "Données du dossier", "Actions et contacts");
    for (path, value) in fields {
        let (phrases, word) = phrases_of(path, value);
        assert!(!phrases.is_empty() || word.is_some(), "{path} has a value");
        if let Some(word) = word {
            assert!(data.contains(&word), "{path}: `{word}` printed in {data}");
        }
        for phrase in phrases {
            assert!(printed(data, &squash(&phrase)), "{path}: `{phrase}` printed in {data}");
        }
    }
    let situation = FAMILY_SITUATION.label_fr(fields["family.situation"].as_str().unwrap()).unwrap();
    assert!(data.contains(situation), "the family situation in French: `{situation}` in {data}");
    assert!(data.contains(" €"), "amounts in euros: {data}");
    assert!(data.contains(NEW_EMAIL) && data.contains("Église"), "the new values, accents intact: {data}");
    assert!(!text.contains(old_email), "a replaced value is not kept, nor printed");

    // The history: field, kind, agent and date — no value.
    let history = section(text, "Historique des modifications", "Demandes d'exercice des droits");
    for words in ["Adresse électronique", "mise à jour", WORKER, "Adresse postale", "rectification", RIGHTS_OFFICER] {
        assert!(history.contains(words), "`{words}` in {history}");
    }
    assert!(history.contains(&today), "dated: {history}");
    assert!(!history.contains("nouvelle") && !history.contains("Église"), "no value in the history: {history}");

    // The requests, and the rights explained with where to exercise them.
    let requests = section(text, "Demandes d'exercice des droits", "Vos droits et où les exercer");
    assert!(requests.contains("Opposition (art. 38)"), "{requests}");
    assert!(in_order(requests, "en attente de la décision du directeur"), "{requests}");
    assert!(in_order(requests, "Je ne souhaite plus être suivie"), "the person's reasons, accents intact: {requests}");
    assert!(text.contains("téléphone (agent as-13-01)"), "the contact, its channel in French: {text}");
    let rights = section(text, "Vos droits et où les exercer", "");
    for words in [
        "Droit d'accès (article 39",
        "Droit de rectification (article 40)",
        "la nouvelle valeur remplace l'ancienne",
        "Droit d'opposition (article 38)",
        "motifs légitimes",
        "Refus de l'archivage",
        "auprès du directeur de votre organisme de rattachement (carsat-sud-est)",
    ] {
        assert!(rights.contains(words), "`{words}` in {rights}");
    }

    assert!(!text.contains('Ã') && !text.contains('\u{fffd}'), "no mangled accent: {text}");
    assert!(!text.contains("Page à imprimer") && !text.contains("Ctrl+P"), "nothing of the screen only: {text}");
    for code in ["relationship_and_offers", "update", "pending"] {
        assert!(!text.contains(code), "`{code}`: the page speaks French");
    }
    let tokens: std::collections::HashSet<&str> =
        text.split(|c: char| !c.is_alphanumeric() && c != '_').filter(|t| !t.is_empty()).collect();
    let raw: Vec<String> = raw_codes().into_iter().filter(|c| tokens.contains(c.as_str())).collect();
    assert!(raw.is_empty(), "no code and no record key on paper, found {raw:?} in {text}");
}
