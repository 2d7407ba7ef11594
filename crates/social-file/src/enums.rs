//! The closed lists of the case file (the protobuf enums of `social_file.proto`, and `Sex` and
//! `FamilySituation` reused from the decree's contract) with their text codes: the enum value's
//! name without its prefix, in lower case (`RELATIONSHIP_SPOUSE` → `spouse`), as the decree's
//! categories are coded. The zero value (`unspecified`) is never a value.

use std::fmt;

use passerelle_protocol::v1;

/// One closed list: its protobuf name, and the conversions between wire numbers and text codes.
#[derive(Clone, Copy)]
pub struct EnumKind {
    /// The protobuf enum's name, e.g. `Relationship`.
    pub proto_name: &'static str,
    /// The prefix of its value names, e.g. `RELATIONSHIP_`.
    prefix: &'static str,
    from_name: fn(&str) -> Option<i32>,
    to_name: fn(i32) -> Option<&'static str>,
}

/// The highest wire number a closed list of the file uses, so that the codes can be listed.
const MAX_NUMBER: i32 = 64;

impl EnumKind {
    /// The wire number of a text code (`spouse`), any case; `None` for an unknown code or for
    /// `unspecified`.
    pub fn number(&self, code: &str) -> Option<i32> {
        let name = format!("{}{}", self.prefix, code.trim().to_ascii_uppercase());
        (self.from_name)(&name).filter(|&n| n != 0)
    }

    /// The text code of a wire number; `None` for an unknown number or for the zero value.
    pub fn code(&self, number: i32) -> Option<String> {
        if number == 0 {
            return None;
        }
        (self.to_name)(number).map(|name| name.trim_start_matches(self.prefix).to_ascii_lowercase())
    }

    /// Every text code, in wire order.
    pub fn codes(&self) -> Vec<String> {
        (1..=MAX_NUMBER).filter_map(|n| self.code(n)).collect()
    }

    /// The code's French label, as a person reads it on paper (`widowed` → `veuf·ve`); `None`
    /// for a code not of this list. The code itself stays English: it is what the wire, the JSON
    /// and the updates carry.
    pub fn label_fr(&self, code: &str) -> Option<&'static str> {
        crate::labels::french(self.proto_name, code)
    }

    /// "one of a, b, c", for error messages.
    pub fn expected(&self) -> String {
        format!("one of {}", self.codes().join(", "))
    }
}

impl fmt::Debug for EnumKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnumKind({})", self.proto_name)
    }
}

impl PartialEq for EnumKind {
    fn eq(&self, other: &Self) -> bool {
        self.proto_name == other.proto_name
    }
}

impl Eq for EnumKind {}

macro_rules! enum_kinds {
    ($($konst:ident = $ty:ident, $prefix:literal;)*) => {
        $(
            #[doc = concat!("The closed list `", stringify!($ty), "`.")]
            pub static $konst: EnumKind = EnumKind {
                proto_name: stringify!($ty),
                prefix: $prefix,
                from_name: |name| v1::$ty::from_str_name(name).map(|v| v as i32),
                to_name: |n| v1::$ty::try_from(n).ok().map(|v| v.as_str_name()),
            };
        )*

        /// Every closed list of the case file.
        pub static ENUM_KINDS: &[&EnumKind] = &[$(&$konst),*];
    };
}

enum_kinds! {
    SEX = Sex, "SEX_";
    REGISTRATION_NUMBER_KIND = RegistrationNumberKind, "REGISTRATION_NUMBER_KIND_";
    FAMILY_SITUATION = FamilySituation, "FAMILY_SITUATION_";
    RELATIONSHIP = Relationship, "RELATIONSHIP_";
    SOCIAL_DIFFICULTY = SocialDifficulty, "SOCIAL_DIFFICULTY_";
    RELATION_KIND = RelationKind, "RELATION_KIND_";
    RELATION_CONCERN = RelationConcern, "RELATION_CONCERN_";
    BUDGET_KIND = BudgetKind, "BUDGET_KIND_";
    BUDGET_ITEM = BudgetItem, "BUDGET_ITEM_";
    AMOUNT_PERIOD = AmountPeriod, "AMOUNT_PERIOD_";
    MEDICAL_OPINION_KIND = MedicalOpinionKind, "MEDICAL_OPINION_KIND_";
    EMPLOYMENT_SITUATION = EmploymentSituation, "EMPLOYMENT_SITUATION_";
    PROFESSIONAL_STATUS = ProfessionalStatus, "PROFESSIONAL_STATUS_";
    RISK = Risk, "RISK_";
    SCHEME = Scheme, "SCHEME_";
    BENEFIT_KIND = BenefitKind, "BENEFIT_KIND_";
    BENEFIT_STATUS = BenefitStatus, "BENEFIT_STATUS_";
    LOW_INCOME_COVER = LowIncomeCover, "LOW_INCOME_COVER_";
    HOUSING_TYPE = HousingType, "HOUSING_TYPE_";
    HOUSING_CONDITION = HousingCondition, "HOUSING_CONDITION_";
    AID_KIND = AidKind, "AID_KIND_";
    ALLOWANCE_RISK = AllowanceRisk, "ALLOWANCE_RISK_";
    PENSION_KIND = PensionKind, "PENSION_KIND_";
    PARTNER_NATURE = PartnerNature, "PARTNER_NATURE_";
    CONTACT_CHANNEL = ContactChannel, "CONTACT_CHANNEL_";
    ACTION_PURPOSE = ActionPurpose, "ACTION_PURPOSE_";
    OFFER_KIND = OfferKind, "OFFER_KIND_";
    OFFER_THEME = OfferTheme, "OFFER_THEME_";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_value_names_without_prefix_and_round_trip() {
        assert_eq!(RELATIONSHIP.number("spouse"), Some(v1::Relationship::Spouse as i32));
        assert_eq!(RELATIONSHIP.number("SPOUSE"), Some(1));
        assert_eq!(RELATIONSHIP.number("unspecified"), None, "the zero value is no value");
        assert_eq!(RELATIONSHIP.number("cousin_twice_removed"), None);
        assert_eq!(
            FAMILY_SITUATION.code(v1::FamilySituation::CivilPartnership as i32).as_deref(),
            Some("civil_partnership")
        );
        assert_eq!(RISK.codes(), ["illness", "maternity", "work_accident", "occupational_disease", "invalidity"]);
        for kind in [&BUDGET_ITEM, &OFFER_THEME, &PARTNER_NATURE] {
            for code in kind.codes() {
                assert_eq!(kind.code(kind.number(&code).unwrap()), Some(code));
            }
        }
    }

    #[test]
    fn every_code_has_a_french_label_of_its_own() {
        assert_eq!(ENUM_KINDS.len(), 28, "every closed list is listed");
        for kind in ENUM_KINDS {
            let codes = kind.codes();
            assert!(!codes.is_empty(), "{kind:?} has codes");
            let mut seen = std::collections::HashMap::new();
            for code in codes {
                let label = kind.label_fr(&code).unwrap_or_else(|| panic!("{kind:?}: `{code}` has no French label"));
                assert!(!label.trim().is_empty(), "{kind:?}: `{code}` has an empty label");
                if let Some(other) = seen.insert(label, code.clone()) {
                    panic!("{kind:?}: `{code}` and `{other}` share the label `{label}`");
                }
            }
        }
        assert_eq!(FAMILY_SITUATION.label_fr("widowed"), Some("veuf·ve"));
        assert_eq!(AMOUNT_PERIOD.label_fr("monthly"), Some("par mois"));
        assert_eq!(SEX.label_fr("married"), None, "a code of another list");
    }
}
