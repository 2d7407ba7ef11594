//! The case file against its sources: the catalogue against `social_file.proto` (both ways), each
//! category accepted with its type and refused with another, unknown fields refused by name,
//! values out of the norm's range refused, the history without values, the decree mapping and
//! the README's copy of it. Synthetic data only.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{TimeZone, Utc};
use passerelle_protocol::nir::{self, Nir};
use passerelle_protocol::v1::{self, Category, CategoryValues, SocialFile};
use passerelle_protocol::value::Value as DecreeValue;
use passerelle_social_file::mapping::decree_codes;
use passerelle_social_file::{
    file_json, is_present, mapping_markdown, mapping_table, open_from_decree, validate, DecreeIdentity, FieldType,
    RecordKind, TextKind, Update, UpdateError, FIELDS,
};
use serde_json::{json, Value};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn proto() -> String {
    std::fs::read_to_string(root().join("proto/passerelle/v1/social_file.proto")).unwrap()
}

/// The obviously synthetic NIR the other tests use, with its key.
fn synthetic_nir() -> Nir {
    nir::with_key("1840575123456").unwrap()
}

fn message_body<'a>(proto: &'a str, name: &str) -> &'a str {
    let start = proto.split(&format!("\nmessage {name} {{")).nth(1).unwrap_or_else(|| panic!("no message {name}"));
    start.split("\n}").next().unwrap()
}

/// The fields of a message body: (name, type, repeated, whole line).
fn fields(body: &str) -> Vec<(String, String, bool, String)> {
    body.lines()
        .filter_map(|line| {
            let code = line.split("//").next().unwrap();
            let tokens: Vec<&str> = code.split_whitespace().collect();
            let eq = tokens.iter().position(|t| *t == "=")?;
            (eq >= 2).then(|| {
                (tokens[eq - 1].to_owned(), tokens[eq - 2].to_owned(), tokens[0] == "repeated", line.to_owned())
            })
        })
        .collect()
}

fn cites(line: &str, norm_ref: &str) -> bool {
    let needle = format!("norm 43, {norm_ref}");
    line.match_indices(&needle).any(|(i, _)| !line[i + needle.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

#[test]
fn the_catalogue_is_the_proto_s_case_file_field_for_field_with_type_and_norm_reference() {
    let proto = proto();
    let groups = fields(message_body(&proto, "SocialFile"));
    let mut in_proto = BTreeSet::new();
    for (group, message, _, _) in &groups {
        for (name, _, _, _) in fields(message_body(&proto, message)) {
            in_proto.insert(format!("{group}.{name}"));
        }
    }
    let in_catalogue: BTreeSet<String> = FIELDS.iter().map(|f| f.path.to_owned()).collect();
    assert_eq!(in_catalogue, in_proto, "the catalogue lists every field of the file, and nothing else");

    for info in &FIELDS {
        let (group, leaf) = info.path.split_once('.').unwrap();
        let message = &groups.iter().find(|g| g.0 == group).unwrap().1;
        let body = message_body(&proto, message);
        let (_, ty, repeated, line) = fields(body).into_iter().find(|f| f.0 == leaf).unwrap();
        assert!(cites(&line, info.norm_ref), "{} must cite norm 43, {}: {line}", info.path, info.norm_ref);
        let (want_ty, want_repeated, marker) = match info.field_type {
            FieldType::Nir => ("string".to_owned(), false, Some("[identifier]")),
            FieldType::Bool => ("bool".to_owned(), false, None),
            FieldType::Date => ("Date".to_owned(), false, None),
            FieldType::GirLevel | FieldType::Percent => ("uint32".to_owned(), false, None),
            FieldType::Text(k) => ("string".to_owned(), false, Some(k.marker())),
            FieldType::TextList(k) => ("string".to_owned(), true, Some(k.marker())),
            FieldType::Enum(k) => (k.proto_name.to_owned(), false, None),
            FieldType::EnumList(k) => (k.proto_name.to_owned(), true, None),
            FieldType::Records(r) => {
                let keys: Vec<String> = fields(message_body(&proto, r.proto_name())).into_iter().map(|f| f.0).collect();
                assert_eq!(keys, r.keys(), "{}: the record's keys are its proto fields", r.proto_name());
                (r.proto_name().to_owned(), true, None)
            }
        };
        assert_eq!((ty.as_str(), repeated), (want_ty.as_str(), want_repeated), "{}: {line}", info.path);
        if let Some(marker) = marker {
            assert!(line.contains(marker), "{} is marked {marker}: {line}", info.path);
        }
    }
}

#[test]
fn the_one_free_text_is_the_i_7_assessment() {
    let free: Vec<&str> =
        FIELDS.iter().filter(|f| f.field_type == FieldType::Text(TextKind::FreeText)).map(|f| f.path).collect();
    assert_eq!(free, ["social_situation.assessment"]);
    assert_eq!(passerelle_social_file::field(free[0]).unwrap().norm_ref, "I.7");
    // In the proto, every string field carries one marker and only one is [free-text] (the
    // protocol crate's contract test checks every line; here, the records too).
    let proto = proto();
    assert_eq!(proto.matches("[free-text]").count(), 2, "the header's explanation and the one field");
}

/// A valid value of each type, and one of another type.
fn sample(field: FieldType) -> (Value, Value) {
    match field {
        FieldType::Nir => (json!(synthetic_nir().as_str()), json!(184057512345625_u64)),
        FieldType::Bool => (json!(true), json!("yes")),
        FieldType::Date => (json!("2024-03-01"), json!(20240301)),
        FieldType::GirLevel => (json!(4), json!("4")),
        FieldType::Percent => (json!(30), json!(30.5)),
        FieldType::Text(kind) => (json!(text_sample(kind)), json!(true)),
        FieldType::TextList(kind) => (json!([text_sample(kind)]), json!(text_sample(kind))),
        FieldType::Enum(kind) => (json!(kind.codes()[0]), json!(1)),
        FieldType::EnumList(kind) => (json!([kind.codes()[0]]), json!(kind.codes()[0])),
        FieldType::Records(kind) => (json!([record_sample(kind)]), json!(record_sample(kind))),
    }
}

fn text_sample(kind: TextKind) -> &'static str {
    match kind {
        TextKind::Name => "Testard",
        TextKind::Label => "Association Test du 13e",
        TextKind::Place => "Lyon (69)",
        TextKind::Address => "3 rue des Essais\n69001 Lyon",
        TextKind::Phone => "04 72 00 00 00",
        TextKind::Email => "test@example.invalid",
        TextKind::Identifier => "file-0001",
        TextKind::Code => "cpam-69",
        TextKind::FreeText => "Vit seule, isolement depuis le décès du conjoint.",
    }
}

fn record_sample(kind: RecordKind) -> Value {
    match kind {
        RecordKind::HouseholdMember => {
            json!({"member": 1, "family_name": "Testard", "given_names": "Alix", "birth_year": 1950, "relationship": "spouse"})
        }
        RecordKind::Relation => {
            json!({"kind": "neighbour", "concern": "isolation", "family_name": "Essai", "phone": "06 00 00 00 00"})
        }
        RecordKind::BudgetLine => {
            json!({"member": 0, "kind": "resource", "item": "pension", "amount_cents": 120000, "period": "monthly"})
        }
        RecordKind::MedicalOpinion => json!({"kind": "consolidation", "date": "2025-11-02"}),
        RecordKind::AttachedBody => json!({"scheme": "general", "body_code": "cpam-69", "phone": "04 72 00 00 00"}),
        RecordKind::Benefit => json!({"kind": "apa", "status": "requested", "since": "2025-12-01"}),
        RecordKind::PreventionAid => {
            json!({"kind": "household_help", "status": "granted", "start": "2026-01-01", "end": "2026-06-30", "amount_cents": 45000})
        }
        RecordKind::SickLeave => {
            json!({"risk": "illness", "start": "2025-09-01", "end": "2025-12-31", "daily_allowance_cents": 3500})
        }
        RecordKind::PensionPayment => {
            json!({"kind": "invalidity_pension", "start": "2020-01-01", "amount_cents": 90000, "period": "monthly"})
        }
        RecordKind::LegalPartner => json!({"nature": "association", "name": "Association Test du 13e"}),
        RecordKind::PhysicalPartner => json!({"family_name": "Essai", "function": "infirmière coordinatrice"}),
    }
}

/// A file with its identity set; the NIA kind lets the attribution date be set too.
fn base_file() -> SocialFile {
    let mut file = SocialFile::default();
    let identity = file.identity.get_or_insert_with(Default::default);
    identity.nir = Some(synthetic_nir().as_str().to_owned());
    identity.number_kind = Some(v1::RegistrationNumberKind::Nia as i32);
    file
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap()
}

#[test]
fn each_category_is_accepted_with_its_type_and_refused_with_another() {
    for info in &FIELDS {
        let (good, bad) = sample(info.field_type);
        let mut file = base_file();
        if info.path == "identity.number_kind" {
            // With a NIR the kind cannot be cleared; on its own it can.
            file = SocialFile::default();
        }
        let entry = Update::parse(info.path, &good)
            .unwrap_or_else(|e| panic!("{}: {e}", info.path))
            .apply(&mut file, "as-test", at())
            .unwrap_or_else(|e| panic!("{}: {e}", info.path));
        assert_eq!(entry.field.as_str(), info.path);
        assert!(is_present(&file, info.path), "{} holds its value", info.path);

        let refused = Update::parse(info.path, &bad).unwrap_err();
        match &refused {
            UpdateError::WrongType { path, expected } => {
                assert!(path.starts_with(info.path), "{}: names {path}", info.path);
                assert!(!expected.is_empty());
            }
            other => panic!("{}: {other:?}", info.path),
        }
        assert!(refused.to_string().contains(info.path), "{refused}");

        // null clears it.
        Update::parse(info.path, &Value::Null).unwrap().apply(&mut file, "as-test", at()).unwrap();
        assert!(!is_present(&file, info.path), "{} cleared", info.path);
    }
}

#[test]
fn file_json_is_the_reverse_of_update_parse_for_every_field() {
    let mut full = base_file();
    for info in FIELDS.iter().filter(|f| f.path != "identity.number_kind" && f.path != "identity.nir") {
        let (good, _) = sample(info.field_type);
        Update::parse(info.path, &good).unwrap().apply(&mut full, "as-test", at()).unwrap();
    }
    let json = file_json(&full);
    let paths: BTreeSet<&str> = json.keys().map(String::as_str).collect();
    let all: BTreeSet<&str> = FIELDS.iter().map(|f| f.path).collect();
    assert_eq!(paths, all, "every field present");
    let mut again = base_file();
    for (path, value) in &json {
        let update = Update::parse(path, value).unwrap_or_else(|e| panic!("{path}: {e}"));
        update.apply(&mut again, "as-test", at()).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    assert_eq!(again, full, "the JSON read back as updates is the same file");
    assert_eq!(json["care.gir_level"], json!(4));
    assert!(file_json(&SocialFile::default()).is_empty());
}

#[test]
fn an_unknown_field_is_refused_by_name_with_the_nearest_one() {
    let err = Update::parse("identity.religion", &json!("none")).unwrap_err();
    assert!(matches!(&err, UpdateError::UnknownField { path, .. } if path == "identity.religion"));
    assert!(err.to_string().starts_with("unknown field `identity.religion`"), "{err}");

    let err = Update::parse("care.gir_levl", &json!(3)).unwrap_err();
    assert!(err.to_string().contains("did you mean `care.gir_level`?"), "{err}");
    let err = Update::parse("identity.situation", &json!("married")).unwrap_err();
    assert!(err.to_string().contains("`family.situation`"), "{err}");

    let member = json!([{"member": 1, "family_name": "Testard", "birth_date": "1950-01-01", "relationship": "child"}]);
    let err = Update::parse("family.household_members", &member).unwrap_err();
    assert_eq!(
        err,
        UpdateError::UnknownField {
            path: "family.household_members[0].birth_date".into(),
            suggestion: Some("family.household_members[0].birth_year".into()),
        }
    );
    let err = Update::from_json(r#"{"field": "care.gir_level", "valeur": 3}"#).unwrap_err();
    assert!(err.to_string().contains("did you mean `value`?"), "{err}");
    assert!(Update::from_json(r#"{"field": "care.gir_level", "value": 3}"#).is_ok());
}

#[test]
fn values_outside_the_norm_s_range_are_refused_naming_the_field() {
    let cases = [
        ("care.gir_level", json!(7), "care.gir_level"),
        ("care.gir_level", json!(0), "care.gir_level"),
        ("care.ipp_rate", json!(101), "care.ipp_rate"),
        ("identity.birth_date", json!("1850-01-01"), "identity.birth_date"),
        ("identity.nir", json!("184057512345699"), "identity.nir"),
        (
            "social_situation.assessment",
            json!("x".repeat(passerelle_social_file::MAX_ASSESSMENT_CHARS + 1)),
            "social_situation.assessment",
        ),
        ("identity.family_name", json!("Testard, suivie en psychiatrie"), "identity.family_name"),
        (
            "budget.lines",
            json!([{"member": 9, "kind": "debt", "item": "rent_arrears", "amount_cents": 100, "period": "one_off"}]),
            "budget.lines[0].member",
        ),
        (
            "budget.lines",
            json!([{"kind": "debt", "item": "pension", "amount_cents": 100, "period": "one_off"}]),
            "budget.lines[0].item",
        ),
        (
            "social_situation.relations",
            json!([{"kind": "friend", "family_name": "Essai"}]),
            "social_situation.relations[0].concern",
        ),
    ];
    for (path, value, named) in cases {
        let mut file = base_file();
        let before = file.clone();
        let err = Update::parse(path, &value).unwrap().apply(&mut file, "as-test", at()).unwrap_err();
        let UpdateError::Invalid { problems } = &err else { panic!("{path}: {err:?}") };
        assert!(problems.iter().any(|p| p.path == named), "{path}: {problems:?}");
        assert_eq!(file, before, "a refused update leaves the file as it was");
        assert!(!err.to_string().contains("suivie"), "a problem never repeats the value: {err}");
    }
}

#[test]
fn a_change_replaces_the_value_and_the_history_says_who_which_field_when_and_no_value() {
    let mut file = base_file();
    let first = Update::parse("social_situation.assessment", &json!("Première appréciation")).unwrap();
    first.apply(&mut file, "as-durand", at()).unwrap();
    let second = Update::parse("social_situation.assessment", &json!("Appréciation rectifiée")).unwrap();
    let entry = second.apply(&mut file, "as-martin", at()).unwrap();
    assert_eq!(file.social_situation.unwrap().assessment.as_deref(), Some("Appréciation rectifiée"));
    assert_eq!(
        (entry.field.as_str(), entry.agent_id.as_str(), entry.at),
        ("social_situation.assessment", "as-martin", at())
    );
    let shown = format!("{entry:?}");
    assert!(!shown.contains("Première") && !shown.contains("rectifiée"), "{shown}");
    let mut other = base_file();
    let update = Update::parse("care.gir_level", &json!(3)).unwrap();
    assert_eq!(update.apply(&mut other, "Agent Smith", at()), Err(UpdateError::AgentId));
}

fn decree_identity() -> DecreeIdentity {
    DecreeIdentity {
        nir: synthetic_nir(),
        former_nirs: vec![nir::with_key("2840575123456").unwrap()],
        family_name: "Testard".into(),
        usage_name: Some("Essai".into()),
        given_names: "Camille".into(),
        sex: v1::Sex::Male,
        birth_year: Some(1984),
        commune_code: Some("69123".into()),
        postal_address: Some("3 rue des Essais\n69001 Lyon".into()),
        email: Some("test@example.invalid".into()),
        phone: Some("04 72 00 00 00".into()),
    }
}

/// Every category present, each with a value the mapping carries when it can.
fn decree_values(flag: bool) -> CategoryValues {
    let mut values = CategoryValues::default();
    for info in &passerelle_protocol::catalogue::CATEGORIES {
        let value = match info.category {
            Category::FamilySituation => DecreeValue::FamilySituation(v1::FamilySituation::Widowed),
            Category::HospitalStays12m => DecreeValue::HospitalStays(vec![]),
            Category::QuartersContributed => DecreeValue::Count(160),
            Category::PensionStartDate | Category::PensionPaymentDate => {
                DecreeValue::Date(v1::Date { year: 2024, month: 7, day: 1 })
            }
            Category::HouseholdAnnualResources => DecreeValue::Amount(1_523_050),
            Category::ResourcesPerConsumptionUnit => DecreeValue::Amount(1_015_366),
            _ => DecreeValue::Bool(flag),
        };
        values.set(info.category, value).unwrap();
    }
    values
}

#[test]
fn the_mapping_carries_exactly_the_mapped_values_and_lists_the_ones_left_behind() {
    let (file, left) = open_from_decree(&decree_identity(), &decree_values(true));
    assert_eq!(validate(&file), Ok(()), "an opened file is valid");
    let behind: Vec<&str> = mapping_table().iter().filter(|r| r.norm_field.is_none()).map(|r| r.decree_code).collect();
    assert_eq!(left, behind, "every value with no norm home stays behind, and only those");
    assert!(left.contains(&"quarters_contributed"));

    let mapped: BTreeSet<&str> =
        mapping_table().iter().filter_map(|r| r.norm_field).chain(["identity.number_kind"]).collect();
    let present: BTreeSet<&str> = FIELDS.iter().map(|f| f.path).filter(|p| is_present(&file, p)).collect();
    assert_eq!(present, mapped, "the file holds the mapped fields and nothing else");

    let benefits: Vec<i32> = file.rights.as_ref().unwrap().benefits.iter().map(|b| b.kind).collect();
    assert_eq!(benefits.len(), 9, "eight granted flags and the retirement pension");
    assert!(benefits.contains(&(v1::BenefitKind::RetirementPension as i32)));
    assert_eq!(file.family.as_ref().unwrap().situation, Some(v1::FamilySituation::Widowed as i32));
    assert_eq!(file.care.as_ref().unwrap().declared_gp, Some(false), "no_declared_gp true: no GP declared");
    assert_eq!(file.health_cover.as_ref().unwrap().cover, Some(v1::LowIncomeCover::Css as i32));
    assert_eq!(file.budget.as_ref().unwrap().lines[0].amount_cents, 1_523_050);
    assert_eq!(file.identity.as_ref().unwrap().nir.as_deref(), Some(synthetic_nir().as_str()));

    // A false flag with no home of its own stays behind too; css and no_declared_gp still carry.
    let (file, left) = open_from_decree(&decree_identity(), &decree_values(false));
    assert_eq!(validate(&file), Ok(()));
    for code in ["rsa", "invalidity_pension", "work_incapacity", "home_return_aid", "job_seeker_registration"] {
        assert!(left.contains(&code), "{code} false stays behind: {left:?}");
    }
    assert!(!left.contains(&"css") && !left.contains(&"no_declared_gp"));
    assert_eq!(file.health_cover.unwrap().cover, Some(v1::LowIncomeCover::None as i32));
    assert_eq!(file.rights.unwrap().benefits.len(), 1, "only the pension start date");
}

#[test]
fn every_decree_value_has_exactly_one_row_and_each_row_a_catalogue_field() {
    let rows: Vec<&str> = mapping_table().iter().map(|r| r.decree_code).collect();
    assert_eq!(rows, decree_codes().collect::<Vec<_>>());
    for r in mapping_table() {
        assert!(!r.decree_ref().contains('?'), "{}", r.decree_code);
        if let Some(field) = r.norm_field {
            assert!(passerelle_social_file::field(field).is_some(), "{} maps to unknown {field}", r.decree_code);
        }
    }
}

/// The Markdown table under a README heading.
fn readme_table(heading: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme.split(heading).nth(1).unwrap_or_else(|| panic!("the README has no section \"{heading}\""));
    let section = section.split("\n#").next().unwrap();
    section.lines().filter(|l| l.starts_with('|')).map(|l| format!("{l}\n")).collect()
}

#[test]
fn the_readme_prints_the_mapping_table() {
    let table = readme_table("### From the decree's values to the case file");
    assert_eq!(table, mapping_markdown(), "README out of date: paste `mapping_markdown()` under the heading");
}

#[test]
fn the_readme_prints_the_case_files_fields() {
    let table = readme_table("### The case file's fields");
    assert_eq!(
        table,
        passerelle_social_file::fields_markdown(),
        "README out of date: paste `fields_markdown()` under the heading"
    );
}
