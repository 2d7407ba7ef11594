//! A case file as JSON keyed by catalogue path — the reverse of [`crate::Update::parse`]: each
//! field present is written in the form an update reads (`"care.gir_level": 4`,
//! `"family.situation": "widowed"`, a list of records as objects with the protobuf field
//! names), so that what `show` and a rights access give can be sent back as updates.

use passerelle_protocol::v1::{self, SocialFile};
use passerelle_protocol::value::format_date;
use serde_json::{json, Map, Value};

use crate::catalogue::{FieldType, FIELDS};
use crate::enums::{self, EnumKind};
use crate::update::{is_present, FieldValue};

/// Every field present in the file, by catalogue path (sorted by path).
pub fn file_json(file: &SocialFile) -> Map<String, Value> {
    let mut out = Map::new();
    for info in FIELDS.iter().filter(|f| is_present(file, f.path)) {
        out.insert(info.path.to_owned(), encode(info.field_type, get(file, info.path)));
    }
    out
}

fn date(d: &v1::Date) -> Value {
    Value::String(format_date(d))
}

fn code(kind: &EnumKind, number: i32) -> Value {
    kind.code(number).map_or(Value::Null, Value::String)
}

/// An object of the keys whose value is not null.
fn object(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.to_owned(), v)).collect())
}

fn opt<T: Into<Value>>(v: Option<T>) -> Value {
    v.map_or(Value::Null, Into::into)
}

fn opt_date(d: &Option<v1::Date>) -> Value {
    d.as_ref().map_or(Value::Null, date)
}

fn encode(field_type: FieldType, value: FieldValue) -> Value {
    use FieldValue as V;
    let list = |items: Vec<Value>| Value::Array(items);
    match (field_type, value) {
        (_, V::Absent) => Value::Null,
        (_, V::Bool(b)) => Value::Bool(b),
        (_, V::Date(d)) => date(&d),
        (_, V::Number(n)) => json!(n),
        (_, V::Text(t)) => Value::String(t),
        (_, V::TextList(t)) => json!(t),
        (FieldType::Enum(kind), V::Enum(n)) => code(kind, n),
        (FieldType::EnumList(kind), V::EnumList(ns)) => list(ns.into_iter().map(|n| code(kind, n)).collect()),
        (_, V::HouseholdMembers(items)) => list(
            items
                .into_iter()
                .map(|m| {
                    object(vec![
                        ("member", json!(m.member)),
                        ("family_name", opt(m.family_name)),
                        ("usage_name", opt(m.usage_name)),
                        ("given_names", opt(m.given_names)),
                        ("birth_year", opt(m.birth_year)),
                        ("relationship", code(&enums::RELATIONSHIP, m.relationship)),
                    ])
                })
                .collect(),
        ),
        (_, V::Relations(items)) => list(
            items
                .into_iter()
                .map(|r| {
                    object(vec![
                        ("kind", code(&enums::RELATION_KIND, r.kind)),
                        ("concern", code(&enums::RELATION_CONCERN, r.concern)),
                        ("family_name", opt(r.family_name)),
                        ("given_names", opt(r.given_names)),
                        ("postal_address", opt(r.postal_address)),
                        ("phone", opt(r.phone)),
                        ("email", opt(r.email)),
                    ])
                })
                .collect(),
        ),
        (_, V::BudgetLines(items)) => list(
            items
                .into_iter()
                .map(|b| {
                    object(vec![
                        ("member", opt(b.member)),
                        ("kind", code(&enums::BUDGET_KIND, b.kind)),
                        ("item", code(&enums::BUDGET_ITEM, b.item)),
                        ("amount_cents", json!(b.amount_cents)),
                        ("period", code(&enums::AMOUNT_PERIOD, b.period)),
                    ])
                })
                .collect(),
        ),
        (_, V::MedicalOpinions(items)) => list(
            items
                .into_iter()
                .map(|m| {
                    object(vec![("kind", code(&enums::MEDICAL_OPINION_KIND, m.kind)), ("date", opt_date(&m.date))])
                })
                .collect(),
        ),
        (_, V::AttachedBodies(items)) => list(
            items
                .into_iter()
                .map(|a| {
                    object(vec![
                        ("scheme", code(&enums::SCHEME, a.scheme)),
                        ("body_code", opt(a.body_code)),
                        ("member_number", opt(a.member_number)),
                        ("postal_address", opt(a.postal_address)),
                        ("phone", opt(a.phone)),
                        ("email", opt(a.email)),
                    ])
                })
                .collect(),
        ),
        (_, V::Benefits(items)) => list(
            items
                .into_iter()
                .map(|b| {
                    object(vec![
                        ("kind", code(&enums::BENEFIT_KIND, b.kind)),
                        ("status", code(&enums::BENEFIT_STATUS, b.status)),
                        ("body_code", opt(b.body_code)),
                        ("since", opt_date(&b.since)),
                    ])
                })
                .collect(),
        ),
        (_, V::PreventionAids(items)) => list(
            items
                .into_iter()
                .map(|a| {
                    object(vec![
                        ("kind", code(&enums::AID_KIND, a.kind)),
                        ("status", code(&enums::BENEFIT_STATUS, a.status)),
                        ("start", opt_date(&a.start)),
                        ("end", opt_date(&a.end)),
                        ("amount_cents", opt(a.amount_cents)),
                    ])
                })
                .collect(),
        ),
        (_, V::SickLeaves(items)) => list(
            items
                .into_iter()
                .map(|s| {
                    object(vec![
                        ("risk", code(&enums::ALLOWANCE_RISK, s.risk)),
                        ("start", opt_date(&s.start)),
                        ("end", opt_date(&s.end)),
                        ("daily_allowance_cents", opt(s.daily_allowance_cents)),
                    ])
                })
                .collect(),
        ),
        (_, V::Pensions(items)) => list(
            items
                .into_iter()
                .map(|p| {
                    object(vec![
                        ("kind", code(&enums::PENSION_KIND, p.kind)),
                        ("start", opt_date(&p.start)),
                        ("amount_cents", opt(p.amount_cents)),
                        ("period", code(&enums::AMOUNT_PERIOD, p.period)),
                    ])
                })
                .collect(),
        ),
        (_, V::LegalPartners(items)) => list(
            items
                .into_iter()
                .map(|p| object(vec![("nature", code(&enums::PARTNER_NATURE, p.nature)), ("name", opt(p.name))]))
                .collect(),
        ),
        (_, V::PhysicalPartners(items)) => list(
            items
                .into_iter()
                .map(|p| {
                    object(vec![
                        ("family_name", opt(p.family_name)),
                        ("given_names", opt(p.given_names)),
                        ("function", opt(p.function)),
                        ("postal_address", opt(p.postal_address)),
                        ("phone", opt(p.phone)),
                        ("email", opt(p.email)),
                    ])
                })
                .collect(),
        ),
        (_, other) => {
            debug_assert!(false, "{other:?} does not match {field_type:?}");
            Value::Null
        }
    }
}

/// The value of a field of the catalogue (the reverse of the update's setter).
fn get(file: &SocialFile, path: &str) -> FieldValue {
    use FieldValue as V;
    macro_rules! one {
        ($group:ident . $field:ident, $variant:ident) => {
            file.$group.as_ref().and_then(|g| g.$field.clone()).map_or(V::Absent, V::$variant)
        };
    }
    macro_rules! list {
        ($group:ident . $field:ident, $variant:ident) => {
            V::$variant(file.$group.as_ref().map(|g| g.$field.clone()).unwrap_or_default())
        };
    }
    match path {
        "identity.nir" => one!(identity.nir, Text),
        "identity.number_kind" => one!(identity.number_kind, Enum),
        "identity.nia_attribution_date" => one!(identity.nia_attribution_date, Date),
        "identity.family_name" => one!(identity.family_name, Text),
        "identity.usage_name" => one!(identity.usage_name, Text),
        "identity.given_names" => one!(identity.given_names, Text),
        "identity.sex" => one!(identity.sex, Enum),
        "identity.birth_date" => one!(identity.birth_date, Date),
        "identity.birth_place" => one!(identity.birth_place, Text),
        "contacts.postal_address" => one!(contacts.postal_address, Text),
        "contacts.phones" => list!(contacts.phones, TextList),
        "contacts.email" => one!(contacts.email, Text),
        "family.situation" => one!(family.situation, Enum),
        "family.household_members" => list!(family.household_members, HouseholdMembers),
        "social_situation.difficulties" => list!(social_situation.difficulties, EnumList),
        "social_situation.assessment" => one!(social_situation.assessment, Text),
        "social_situation.relations" => list!(social_situation.relations, Relations),
        "budget.lines" => list!(budget.lines, BudgetLines),
        "care.care_pathway" => one!(care.care_pathway, Bool),
        "care.pch_eligible" => one!(care.pch_eligible, Bool),
        "care.gir_level" => one!(care.gir_level, Number),
        "care.ipp_rate" => one!(care.ipp_rate, Number),
        "care.ticket_moderateur_exemption" => one!(care.ticket_moderateur_exemption, Bool),
        "care.declared_gp" => one!(care.declared_gp, Bool),
        "medical.opinions" => list!(medical.opinions, MedicalOpinions),
        "occupation.employment" => one!(occupation.employment, Enum),
        "occupation.professional_status" => one!(occupation.professional_status, Enum),
        "risk.risks" => list!(risk.risks, EnumList),
        "affiliation.bodies" => list!(affiliation.bodies, AttachedBodies),
        "rights.benefits" => list!(rights.benefits, Benefits),
        "health_cover.cover" => one!(health_cover.cover, Enum),
        "prevention.housing_type" => one!(prevention.housing_type, Enum),
        "prevention.housing_conditions" => list!(prevention.housing_conditions, EnumList),
        "prevention.aids" => list!(prevention.aids, PreventionAids),
        "compensation.sick_leaves" => list!(compensation.sick_leaves, SickLeaves),
        "compensation.pensions" => list!(compensation.pensions, Pensions),
        "partners.legal_persons" => list!(partners.legal_persons, LegalPartners),
        "partners.physical_persons" => list!(partners.physical_persons, PhysicalPartners),
        _ => V::Absent,
    }
}
