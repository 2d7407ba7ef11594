//! The field catalogue of the case file: the one list of what a norm-43 file may hold, by field
//! path, with its norm item and its type. The update, the validation, the decree mapping, the
//! README and the daemons read it; nothing else lists the file's fields. A test checks it
//! against `proto/passerelle/v1/social_file.proto` both ways.
//!
//! A path is the protobuf field names from `SocialFile` down, joined by a dot:
//! `care.gir_level`, `family.household_members`. A list of records (household members,
//! benefits…) is one field: an update replaces the whole list.

use crate::enums::{self, EnumKind};
use crate::text::TextKind;

/// The type of a field's value, which fixes its JSON form in an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// The NIR, NIA or temporary number: 15 characters with a valid key.
    Nir,
    /// `true` or `false`.
    Bool,
    /// `"YYYY-MM-DD"`.
    Date,
    /// The AGGIR grid's GIR level, a whole number from 1 to 6.
    GirLevel,
    /// A whole percentage, 0 to 100.
    Percent,
    /// A text of one shape.
    Text(TextKind),
    /// A list of texts of one shape.
    TextList(TextKind),
    /// One code of a closed list.
    Enum(&'static EnumKind),
    /// A list of codes of a closed list.
    EnumList(&'static EnumKind),
    /// A list of records (JSON objects).
    Records(RecordKind),
}

impl FieldType {
    /// What the type accepts, in words: "expected …" in a refusal.
    pub fn expected(self) -> String {
        match self {
            FieldType::Nir => "a NIR or NIA, 15 characters (text)".to_owned(),
            FieldType::Bool => "a boolean (true or false)".to_owned(),
            FieldType::Date => "a date \"YYYY-MM-DD\"".to_owned(),
            FieldType::GirLevel => "a GIR level, a whole number from 1 to 6".to_owned(),
            FieldType::Percent => "a whole percentage from 0 to 100".to_owned(),
            FieldType::Text(kind) => format!("a text: {}", kind.describe()),
            FieldType::TextList(kind) => format!("a list of texts, each {}", kind.describe()),
            FieldType::Enum(kind) => format!("a text code, {}", kind.expected()),
            FieldType::EnumList(kind) => format!("a list of text codes, each {}", kind.expected()),
            FieldType::Records(kind) => {
                format!("a list of {} (objects with {})", kind.plural(), kind.keys().join(", "))
            }
        }
    }

    /// A short name of the type, for the README and reports.
    pub fn name(self) -> String {
        match self {
            FieldType::Nir => "NIR".to_owned(),
            FieldType::Bool => "boolean".to_owned(),
            FieldType::Date => "date".to_owned(),
            FieldType::GirLevel => "GIR level 1-6".to_owned(),
            FieldType::Percent => "percentage 0-100".to_owned(),
            FieldType::Text(kind) => format!("text {}", kind.marker()),
            FieldType::TextList(kind) => format!("list of text {}", kind.marker()),
            FieldType::Enum(kind) => format!("code of {}", kind.proto_name),
            FieldType::EnumList(kind) => format!("list of codes of {}", kind.proto_name),
            FieldType::Records(kind) => format!("list of {}", kind.proto_name()),
        }
    }
}

/// The records a list field holds, each a protobuf message of `social_file.proto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    HouseholdMember,
    Relation,
    BudgetLine,
    MedicalOpinion,
    AttachedBody,
    Benefit,
    PreventionAid,
    SickLeave,
    PensionPayment,
    LegalPartner,
    PhysicalPartner,
}

impl RecordKind {
    /// The protobuf message's name.
    pub fn proto_name(self) -> &'static str {
        match self {
            RecordKind::HouseholdMember => "HouseholdMember",
            RecordKind::Relation => "Relation",
            RecordKind::BudgetLine => "BudgetLine",
            RecordKind::MedicalOpinion => "MedicalOpinion",
            RecordKind::AttachedBody => "AttachedBody",
            RecordKind::Benefit => "Benefit",
            RecordKind::PreventionAid => "PreventionAid",
            RecordKind::SickLeave => "SickLeave",
            RecordKind::PensionPayment => "PensionPayment",
            RecordKind::LegalPartner => "LegalPartner",
            RecordKind::PhysicalPartner => "PhysicalPartner",
        }
    }

    /// In words, plural.
    pub fn plural(self) -> &'static str {
        match self {
            RecordKind::HouseholdMember => "household members",
            RecordKind::Relation => "relations",
            RecordKind::BudgetLine => "budget lines",
            RecordKind::MedicalOpinion => "medical service opinions",
            RecordKind::AttachedBody => "attached bodies",
            RecordKind::Benefit => "rights and benefits",
            RecordKind::PreventionAid => "prevention aids",
            RecordKind::SickLeave => "sick leaves",
            RecordKind::PensionPayment => "pensions, annuities or death capitals",
            RecordKind::LegalPartner => "partner legal persons",
            RecordKind::PhysicalPartner => "partner physical persons",
        }
    }

    /// The closed list of a key of the record's JSON object (`"relationship"` of a household
    /// member → `Relationship`); `None` for a key that holds no code.
    pub fn code_kind(self, key: &str) -> Option<&'static EnumKind> {
        Some(match (self, key) {
            (RecordKind::HouseholdMember, "relationship") => &enums::RELATIONSHIP,
            (RecordKind::Relation, "kind") => &enums::RELATION_KIND,
            (RecordKind::Relation, "concern") => &enums::RELATION_CONCERN,
            (RecordKind::BudgetLine, "kind") => &enums::BUDGET_KIND,
            (RecordKind::BudgetLine, "item") => &enums::BUDGET_ITEM,
            (RecordKind::BudgetLine | RecordKind::PensionPayment, "period") => &enums::AMOUNT_PERIOD,
            (RecordKind::MedicalOpinion, "kind") => &enums::MEDICAL_OPINION_KIND,
            (RecordKind::AttachedBody, "scheme") => &enums::SCHEME,
            (RecordKind::Benefit, "kind") => &enums::BENEFIT_KIND,
            (RecordKind::Benefit | RecordKind::PreventionAid, "status") => &enums::BENEFIT_STATUS,
            (RecordKind::PreventionAid, "kind") => &enums::AID_KIND,
            (RecordKind::SickLeave, "risk") => &enums::ALLOWANCE_RISK,
            (RecordKind::PensionPayment, "kind") => &enums::PENSION_KIND,
            (RecordKind::LegalPartner, "nature") => &enums::PARTNER_NATURE,
            _ => return None,
        })
    }

    /// The keys of the record's JSON object: its protobuf field names.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            RecordKind::HouseholdMember => {
                &["member", "family_name", "usage_name", "given_names", "birth_year", "relationship"]
            }
            RecordKind::Relation => {
                &["kind", "concern", "family_name", "given_names", "postal_address", "phone", "email"]
            }
            RecordKind::BudgetLine => &["member", "kind", "item", "amount_cents", "period"],
            RecordKind::MedicalOpinion => &["kind", "date"],
            RecordKind::AttachedBody => &["scheme", "body_code", "member_number", "postal_address", "phone", "email"],
            RecordKind::Benefit => &["kind", "status", "body_code", "since"],
            RecordKind::PreventionAid => &["kind", "status", "start", "end", "amount_cents"],
            RecordKind::SickLeave => &["risk", "start", "end", "daily_allowance_cents"],
            RecordKind::PensionPayment => &["kind", "start", "amount_cents", "period"],
            RecordKind::LegalPartner => &["nature", "name"],
            RecordKind::PhysicalPartner => {
                &["family_name", "given_names", "function", "postal_address", "phone", "email"]
            }
        }
    }
}

/// What the catalogue knows of one field of the case file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldInfo {
    /// The field path, e.g. `care.gir_level`.
    pub path: &'static str,
    /// The norm's item, e.g. `I.9` (norm 43, "données personnelles concernées").
    pub norm_ref: &'static str,
    pub field_type: FieldType,
    /// A short English label for reports and the README.
    pub label: &'static str,
}

use FieldType as T;
use RecordKind as R;
use TextKind as K;

const fn f(path: &'static str, norm_ref: &'static str, field_type: FieldType, label: &'static str) -> FieldInfo {
    FieldInfo { path, norm_ref, field_type, label }
}

/// Every field of the case file, in the norm's order.
#[rustfmt::skip]
pub static FIELDS: [FieldInfo; 38] = [
    f("identity.nir", "I.1", T::Nir, "NIR, temporary number or NIA"),
    f("identity.number_kind", "I.1", T::Enum(&enums::REGISTRATION_NUMBER_KIND), "kind of number"),
    f("identity.nia_attribution_date", "I.1", T::Date, "NIA attribution date"),
    f("identity.family_name", "I.2", T::Text(K::Name), "family name"),
    f("identity.usage_name", "I.2", T::Text(K::Name), "usage name"),
    f("identity.given_names", "I.2", T::Text(K::Name), "given names"),
    f("identity.sex", "I.2", T::Enum(&enums::SEX), "sex"),
    f("identity.birth_date", "I.3", T::Date, "birth date"),
    f("identity.birth_place", "I.3", T::Text(K::Place), "birth place"),
    f("contacts.postal_address", "I.4", T::Text(K::Address), "postal address"),
    f("contacts.phones", "I.4", T::TextList(K::Phone), "phone numbers"),
    f("contacts.email", "I.4", T::Text(K::Email), "e-mail address"),
    f("family.situation", "I.5", T::Enum(&enums::FAMILY_SITUATION), "family situation"),
    f("family.household_members", "I.6", T::Records(R::HouseholdMember), "household members"),
    f("social_situation.difficulties", "I.7", T::EnumList(&enums::SOCIAL_DIFFICULTY), "social difficulties"),
    f("social_situation.assessment", "I.7", T::Text(K::FreeText), "the social worker's assessment"),
    f("social_situation.relations", "I.7", T::Records(R::Relation), "relations (autonomy, isolation)"),
    f("budget.lines", "I.8", T::Records(R::BudgetLine), "resources, charges, credits, debts"),
    f("care.care_pathway", "I.9", T::Bool, "enrolled in a care pathway"),
    f("care.pch_eligible", "I.9", T::Bool, "eligible to the PCH"),
    f("care.gir_level", "I.9", T::GirLevel, "GIR level (AGGIR grid)"),
    f("care.ipp_rate", "I.9", T::Percent, "permanent partial incapacity rate"),
    f("care.ticket_moderateur_exemption", "I.9", T::Bool, "exempt from the ticket modérateur"),
    f("care.declared_gp", "I.9", T::Bool, "a médecin traitant is declared"),
    f("medical.opinions", "I.10", T::Records(R::MedicalOpinion), "medical service opinions"),
    f("occupation.employment", "I.11", T::Enum(&enums::EMPLOYMENT_SITUATION), "training and employment"),
    f("occupation.professional_status", "I.11", T::Enum(&enums::PROFESSIONAL_STATUS), "professional status"),
    f("risk.risks", "I.12", T::EnumList(&enums::RISK), "risk concerned"),
    f("affiliation.bodies", "I.13", T::Records(R::AttachedBody), "attached bodies and schemes"),
    f("rights.benefits", "I.14", T::Records(R::Benefit), "rights, advantages and benefits"),
    f("health_cover.cover", "I.15", T::Enum(&enums::LOW_INCOME_COVER), "CMU, CMU-C, ACS or CSS"),
    f("prevention.housing_type", "I.16", T::Enum(&enums::HOUSING_TYPE), "type of housing"),
    f("prevention.housing_conditions", "I.16", T::EnumList(&enums::HOUSING_CONDITION), "housing conditions"),
    f("prevention.aids", "I.16", T::Records(R::PreventionAid), "preventive and compensatory aids"),
    f("compensation.sick_leaves", "I.17", T::Records(R::SickLeave), "sick leaves and daily allowances"),
    f("compensation.pensions", "I.17", T::Records(R::PensionPayment), "invalidity pensions, annuities, death capital"),
    f("partners.legal_persons", "II.1", T::Records(R::LegalPartner), "partner legal persons"),
    f("partners.physical_persons", "II.2", T::Records(R::PhysicalPartner), "partner physical persons"),
];

/// The catalogue as the README's Markdown table, in the norm's order (kept in step with the
/// README by a test).
pub fn fields_markdown() -> String {
    let mut out = String::from("| field | norm 43 | value | what |\n|---|---|---|---|\n");
    for f in FIELDS.iter() {
        out.push_str(&format!("| `{}` | {} | {} | {} |\n", f.path, f.norm_ref, f.field_type.name(), f.label));
    }
    out
}

/// The catalogue entry of a field path, exact match.
pub fn field(path: &str) -> Option<&'static FieldInfo> {
    FIELDS.iter().find(|f| f.path == path)
}

/// A field path the catalogue lists (`family.household_members`): holding one proves the field
/// exists, so a history entry or an update can name no other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(&'static str);

impl FieldPath {
    /// The path of a catalogue field, exact match; `None` for anything else (see
    /// [`did_you_mean`] for the nearest).
    pub fn parse(path: &str) -> Option<FieldPath> {
        field(path).map(|f| FieldPath(f.path))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The field's catalogue entry.
    pub fn info(self) -> &'static FieldInfo {
        field(self.0).expect("a FieldPath is a catalogue path")
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl FieldInfo {
    /// The field's path as a [`FieldPath`].
    pub fn field_path(&'static self) -> FieldPath {
        FieldPath(self.path)
    }
}

/// The closest known path to an unknown one, if it is close enough to be a typo (or the
/// right leaf under a wrong group: `identity.situation` → `family.situation`).
pub fn did_you_mean(path: &str) -> Option<&'static str> {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    let best = FIELDS
        .iter()
        .map(|f| {
            let whole = edit_distance(path, f.path);
            let same_leaf = f.path.rsplit('.').next() == Some(leaf);
            (if same_leaf { whole.min(1) } else { whole }, f.path)
        })
        .min_by_key(|(d, _)| *d)?;
    (best.0 <= (path.chars().count() / 3).max(2)).then_some(best.1)
}

/// Levenshtein distance, by characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// The closest of `candidates` to `name`, for a key of a record: keys are short and few, so a
/// wider miss still gets a suggestion (`birth_date` → `birth_year`).
pub(crate) fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(name, c), *c))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, _)| *d <= (name.chars().count() / 2).max(2))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unique_grouped_and_cite_a_norm_item() {
        let mut seen = std::collections::HashSet::new();
        for f in &FIELDS {
            assert!(seen.insert(f.path), "{} twice", f.path);
            assert_eq!(f.path.split('.').count(), 2, "{}", f.path);
            assert!(f.norm_ref.starts_with("I.") || f.norm_ref.starts_with("II."), "{}", f.path);
        }
        assert_eq!(field("care.gir_level").unwrap().field_type, FieldType::GirLevel);
        assert!(field("care").is_none());
    }

    #[test]
    fn near_misses_get_a_suggestion_and_strangers_none() {
        assert_eq!(did_you_mean("care.gir_lvel"), Some("care.gir_level"));
        assert_eq!(did_you_mean("identity.situation"), Some("family.situation"));
        assert_eq!(did_you_mean("contacts.phone"), Some("contacts.phones"));
        assert_eq!(did_you_mean("religious_beliefs.denomination"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest("birth_date", RecordKind::HouseholdMember.keys()), Some("birth_year"));
    }

    #[test]
    fn the_code_keys_of_records_are_read_with_their_closed_list() {
        let kinds = FIELDS.iter().filter_map(|f| match f.field_type {
            FieldType::Records(kind) => Some(kind),
            _ => None,
        });
        let mut coded = 0;
        for kind in kinds {
            let code_keys: Vec<_> = kind.keys().iter().filter_map(|k| Some((*k, kind.code_kind(k)?))).collect();
            coded += code_keys.len();
            let good: serde_json::Map<_, _> =
                code_keys.iter().map(|(k, e)| (k.to_string(), serde_json::json!(e.codes()[0]))).collect();
            assert!(crate::records::decode("x", kind, &[good.into()]).is_ok(), "{kind:?}: its codes are read");
            for (key, _) in &code_keys {
                let bad = serde_json::json!({ *key: "not_a_code_of_any_list" });
                assert!(crate::records::decode("x", kind, &[bad]).is_err(), "{kind:?}.{key} holds a code");
            }
            assert_eq!(kind.code_kind("family_name"), None);
        }
        assert_eq!(coded, 16, "every code key of every record");
    }
}
