//! Changing one field of a case file: a field path of the catalogue and a typed value read from
//! JSON. The new value replaces the old one (norm 43 and the 1978 law's art. 40: a rectified
//! value is not kept); the history entry says who changed which field when, never a value.

use chrono::{DateTime, Utc};
use passerelle_protocol::v1::{self, SocialFile};
use serde_json::Value;

use crate::catalogue::{self, FieldPath};
use crate::json::{self, shown};
use crate::text::TextKind;
use crate::validate::{validate, FieldProblem};

/// A typed value of one field, or [`FieldValue::Absent`] to clear it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Absent,
    Bool(bool),
    Date(v1::Date),
    /// A GIR level or a percentage.
    Number(u32),
    /// A NIR or any text of one shape.
    Text(String),
    TextList(Vec<String>),
    /// A code's wire number.
    Enum(i32),
    EnumList(Vec<i32>),
    HouseholdMembers(Vec<v1::HouseholdMember>),
    Relations(Vec<v1::Relation>),
    BudgetLines(Vec<v1::BudgetLine>),
    MedicalOpinions(Vec<v1::MedicalOpinion>),
    AttachedBodies(Vec<v1::AttachedBody>),
    Benefits(Vec<v1::Benefit>),
    PreventionAids(Vec<v1::PreventionAid>),
    SickLeaves(Vec<v1::SickLeave>),
    Pensions(Vec<v1::PensionPayment>),
    LegalPartners(Vec<v1::LegalPartner>),
    PhysicalPartners(Vec<v1::PhysicalPartner>),
}

/// Why an update is refused. The file is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// A path that is no field of the file: the norm lists nothing by that name.
    #[error(
        "unknown field `{path}`: a case file holds only the categories of norm 43 (I.1 to I.17, II.1 and II.2){}",
        .suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
    )]
    UnknownField { path: String, suggestion: Option<String> },
    /// A value of another type than the field's.
    #[error("`{path}` expects {expected}")]
    WrongType { path: String, expected: String },
    /// A value of the right type that breaks a rule (GIR 7, a date in 1850…).
    #[error("{}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid { problems: Vec<FieldProblem> },
    /// The agent id is not an agent code of the registry.
    #[error("the agent id is not {}", TextKind::Code.describe())]
    AgentId,
}

/// One change of a case file's history: which field, by whom, when — on purpose no value, old
/// or new (a rectified value must not survive in the history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEntry {
    /// The catalogue path of the field changed.
    pub field: FieldPath,
    /// The agent's id in the registry.
    pub agent_id: String,
    pub at: DateTime<Utc>,
}

/// A change of one field of a case file, checked against the catalogue and typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub field: FieldPath,
    pub value: FieldValue,
}

impl Update {
    /// Reads an update from a field path and its value as JSON (`null` clears the field).
    pub fn parse(path: &str, value: &Value) -> Result<Update, UpdateError> {
        let Some(field) = FieldPath::parse(path) else {
            return Err(UpdateError::UnknownField {
                path: shown(path),
                suggestion: catalogue::did_you_mean(path).map(str::to_owned),
            });
        };
        Ok(Update { field, value: json::decode(field.info(), value)? })
    }

    /// Reads an update from a JSON object `{"field": "care.gir_level", "value": 4}`.
    pub fn from_json(text: &str) -> Result<Update, UpdateError> {
        let wrong = || UpdateError::WrongType {
            path: "update".to_owned(),
            expected: "an object {\"field\": PATH, \"value\": VALUE}".to_owned(),
        };
        let json: Value = serde_json::from_str(text).map_err(|_| wrong())?;
        let object = json.as_object().ok_or_else(wrong)?;
        if let Some(key) = object.keys().find(|k| !matches!(k.as_str(), "field" | "value")) {
            let suggestion = catalogue::closest(key, &["field", "value"]).map(str::to_owned);
            return Err(UpdateError::UnknownField { path: shown(key), suggestion });
        }
        let path = object.get("field").and_then(Value::as_str).ok_or_else(wrong)?;
        let null = Value::Null;
        Update::parse(path, object.get("value").unwrap_or(&null))
    }

    /// Applies the update: the new value replaces the old, the whole file is validated, and on
    /// success the history entry is returned. A problem the update brings (in the field itself
    /// or in another that depends on it, like a budget line citing a household member removed)
    /// refuses it and leaves the file unchanged.
    pub fn apply(self, file: &mut SocialFile, agent_id: &str, at: DateTime<Utc>) -> Result<ChangeEntry, UpdateError> {
        if TextKind::Code.check(agent_id).is_err() {
            return Err(UpdateError::AgentId);
        }
        let before = validate(file).err().unwrap_or_default();
        let mut changed = file.clone();
        set(&mut changed, self.field.as_str(), self.value);
        let brought: Vec<FieldProblem> =
            validate(&changed).err().unwrap_or_default().into_iter().filter(|p| !before.contains(p)).collect();
        if !brought.is_empty() {
            return Err(UpdateError::Invalid { problems: brought });
        }
        *file = changed;
        Ok(ChangeEntry { field: self.field, agent_id: agent_id.to_owned(), at })
    }
}

macro_rules! group {
    ($file:ident . $group:ident) => {
        $file.$group.get_or_insert_with(Default::default)
    };
}

/// Sets a field of the catalogue. The value's type was read by the catalogue's type, so a
/// mismatch is a bug of this crate: it panics in debug builds and is ignored otherwise.
fn set(file: &mut SocialFile, path: &'static str, value: FieldValue) {
    use FieldValue as V;
    macro_rules! one {
        ($slot:expr, $variant:ident) => {
            match value {
                V::Absent => $slot = None,
                V::$variant(v) => $slot = Some(v),
                other => debug_assert!(false, "{path} got {other:?}"),
            }
        };
    }
    macro_rules! list {
        ($slot:expr, $variant:ident) => {
            match value {
                V::Absent => $slot = Vec::new(),
                V::$variant(v) => $slot = v,
                other => debug_assert!(false, "{path} got {other:?}"),
            }
        };
    }
    match path {
        "identity.nir" => one!(group!(file.identity).nir, Text),
        "identity.number_kind" => one!(group!(file.identity).number_kind, Enum),
        "identity.nia_attribution_date" => one!(group!(file.identity).nia_attribution_date, Date),
        "identity.family_name" => one!(group!(file.identity).family_name, Text),
        "identity.usage_name" => one!(group!(file.identity).usage_name, Text),
        "identity.given_names" => one!(group!(file.identity).given_names, Text),
        "identity.sex" => one!(group!(file.identity).sex, Enum),
        "identity.birth_date" => one!(group!(file.identity).birth_date, Date),
        "identity.birth_place" => one!(group!(file.identity).birth_place, Text),
        "contacts.postal_address" => one!(group!(file.contacts).postal_address, Text),
        "contacts.phones" => list!(group!(file.contacts).phones, TextList),
        "contacts.email" => one!(group!(file.contacts).email, Text),
        "family.situation" => one!(group!(file.family).situation, Enum),
        "family.household_members" => list!(group!(file.family).household_members, HouseholdMembers),
        "social_situation.difficulties" => list!(group!(file.social_situation).difficulties, EnumList),
        "social_situation.assessment" => one!(group!(file.social_situation).assessment, Text),
        "social_situation.relations" => list!(group!(file.social_situation).relations, Relations),
        "budget.lines" => list!(group!(file.budget).lines, BudgetLines),
        "care.care_pathway" => one!(group!(file.care).care_pathway, Bool),
        "care.pch_eligible" => one!(group!(file.care).pch_eligible, Bool),
        "care.gir_level" => one!(group!(file.care).gir_level, Number),
        "care.ipp_rate" => one!(group!(file.care).ipp_rate, Number),
        "care.ticket_moderateur_exemption" => one!(group!(file.care).ticket_moderateur_exemption, Bool),
        "care.declared_gp" => one!(group!(file.care).declared_gp, Bool),
        "medical.opinions" => list!(group!(file.medical).opinions, MedicalOpinions),
        "occupation.employment" => one!(group!(file.occupation).employment, Enum),
        "occupation.professional_status" => one!(group!(file.occupation).professional_status, Enum),
        "risk.risks" => list!(group!(file.risk).risks, EnumList),
        "affiliation.bodies" => list!(group!(file.affiliation).bodies, AttachedBodies),
        "rights.benefits" => list!(group!(file.rights).benefits, Benefits),
        "health_cover.cover" => one!(group!(file.health_cover).cover, Enum),
        "prevention.housing_type" => one!(group!(file.prevention).housing_type, Enum),
        "prevention.housing_conditions" => list!(group!(file.prevention).housing_conditions, EnumList),
        "prevention.aids" => list!(group!(file.prevention).aids, PreventionAids),
        "compensation.sick_leaves" => list!(group!(file.compensation).sick_leaves, SickLeaves),
        "compensation.pensions" => list!(group!(file.compensation).pensions, Pensions),
        "partners.legal_persons" => list!(group!(file.partners).legal_persons, LegalPartners),
        "partners.physical_persons" => list!(group!(file.partners).physical_persons, PhysicalPartners),
        other => debug_assert!(false, "the catalogue's {other} has no setter"),
    }
}

/// Whether a field of the catalogue holds a value in the file (a list: at least one item).
pub fn is_present(file: &SocialFile, path: &str) -> bool {
    macro_rules! one {
        ($group:ident . $field:ident) => {
            file.$group.as_ref().is_some_and(|g| g.$field.is_some())
        };
    }
    macro_rules! list {
        ($group:ident . $field:ident) => {
            file.$group.as_ref().is_some_and(|g| !g.$field.is_empty())
        };
    }
    match path {
        "identity.nir" => one!(identity.nir),
        "identity.number_kind" => one!(identity.number_kind),
        "identity.nia_attribution_date" => one!(identity.nia_attribution_date),
        "identity.family_name" => one!(identity.family_name),
        "identity.usage_name" => one!(identity.usage_name),
        "identity.given_names" => one!(identity.given_names),
        "identity.sex" => one!(identity.sex),
        "identity.birth_date" => one!(identity.birth_date),
        "identity.birth_place" => one!(identity.birth_place),
        "contacts.postal_address" => one!(contacts.postal_address),
        "contacts.phones" => list!(contacts.phones),
        "contacts.email" => one!(contacts.email),
        "family.situation" => one!(family.situation),
        "family.household_members" => list!(family.household_members),
        "social_situation.difficulties" => list!(social_situation.difficulties),
        "social_situation.assessment" => one!(social_situation.assessment),
        "social_situation.relations" => list!(social_situation.relations),
        "budget.lines" => list!(budget.lines),
        "care.care_pathway" => one!(care.care_pathway),
        "care.pch_eligible" => one!(care.pch_eligible),
        "care.gir_level" => one!(care.gir_level),
        "care.ipp_rate" => one!(care.ipp_rate),
        "care.ticket_moderateur_exemption" => one!(care.ticket_moderateur_exemption),
        "care.declared_gp" => one!(care.declared_gp),
        "medical.opinions" => list!(medical.opinions),
        "occupation.employment" => one!(occupation.employment),
        "occupation.professional_status" => one!(occupation.professional_status),
        "risk.risks" => list!(risk.risks),
        "affiliation.bodies" => list!(affiliation.bodies),
        "rights.benefits" => list!(rights.benefits),
        "health_cover.cover" => one!(health_cover.cover),
        "prevention.housing_type" => one!(prevention.housing_type),
        "prevention.housing_conditions" => list!(prevention.housing_conditions),
        "prevention.aids" => list!(prevention.aids),
        "compensation.sick_leaves" => list!(compensation.sick_leaves),
        "compensation.pensions" => list!(compensation.pensions),
        "partners.legal_persons" => list!(partners.legal_persons),
        "partners.physical_persons" => list!(partners.physical_persons),
        _ => false,
    }
}
