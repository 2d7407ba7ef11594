//! A synthetic file as one JSON object (a line of `social-files.jsonl`): the case file keyed by
//! catalogue path (`care.gir_level`), each value in the JSON form `passerelle_social_file`'s
//! updates read (codes as text, dates `YYYY-MM-DD`, records as objects keyed by protobuf field
//! names), so a line can be replayed as updates; then its actions and offers in the same forms.

use passerelle_protocol::v1;
use serde_json::{json, Map, Value};

use super::SyntheticFile;

/// The JSON object of a synthetic file: `file_id`, `departement`, `file` (catalogue path →
/// value, present fields only), `actions` and `offers`.
pub fn to_json(f: &SyntheticFile) -> Value {
    json!({
        "file_id": f.file_id,
        "departement": f.departement,
        "file": file_fields(&f.file),
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

macro_rules! codes {
    ($ty:ident, $list:expr, $prefix:literal) => {
        Value::Array($list.iter().map(|n| code!($ty, *n, $prefix)).collect())
    };
}

fn date(d: Option<&v1::Date>) -> Value {
    d.map_or(Value::Null, |d| Value::String(format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)))
}

/// An object without its null members: absent values are left out, as in the file.
fn object(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.to_owned(), v)).collect())
}

fn file_fields(file: &v1::SocialFile) -> Value {
    let mut m = Map::new();
    let mut put = |path: &str, v: Value| {
        let empty_list = v.as_array().is_some_and(Vec::is_empty);
        if !v.is_null() && !empty_list {
            m.insert(path.to_owned(), v);
        }
    };
    if let Some(i) = &file.identity {
        put("identity.nir", json!(i.nir));
        put(
            "identity.number_kind",
            i.number_kind.map_or(Value::Null, |n| code!(RegistrationNumberKind, n, "REGISTRATION_NUMBER_KIND_")),
        );
        put("identity.nia_attribution_date", date(i.nia_attribution_date.as_ref()));
        put("identity.family_name", json!(i.family_name));
        put("identity.usage_name", json!(i.usage_name));
        put("identity.given_names", json!(i.given_names));
        put("identity.sex", i.sex.map_or(Value::Null, |n| code!(Sex, n, "SEX_")));
        put("identity.birth_date", date(i.birth_date.as_ref()));
        put("identity.birth_place", json!(i.birth_place));
    }
    if let Some(c) = &file.contacts {
        put("contacts.postal_address", json!(c.postal_address));
        put("contacts.phones", json!(c.phones));
        put("contacts.email", json!(c.email));
    }
    if let Some(f) = &file.family {
        put("family.situation", f.situation.map_or(Value::Null, |n| code!(FamilySituation, n, "FAMILY_SITUATION_")));
        put(
            "family.household_members",
            f.household_members
                .iter()
                .map(|m| {
                    object(vec![
                        ("member", json!(m.member)),
                        ("family_name", json!(m.family_name)),
                        ("usage_name", json!(m.usage_name)),
                        ("given_names", json!(m.given_names)),
                        ("birth_year", json!(m.birth_year)),
                        ("relationship", code!(Relationship, m.relationship, "RELATIONSHIP_")),
                    ])
                })
                .collect(),
        );
    }
    if let Some(s) = &file.social_situation {
        put("social_situation.difficulties", codes!(SocialDifficulty, s.difficulties, "SOCIAL_DIFFICULTY_"));
        put("social_situation.assessment", json!(s.assessment));
        put(
            "social_situation.relations",
            s.relations
                .iter()
                .map(|r| {
                    object(vec![
                        ("kind", code!(RelationKind, r.kind, "RELATION_KIND_")),
                        ("concern", code!(RelationConcern, r.concern, "RELATION_CONCERN_")),
                        ("family_name", json!(r.family_name)),
                        ("given_names", json!(r.given_names)),
                        ("postal_address", json!(r.postal_address)),
                        ("phone", json!(r.phone)),
                        ("email", json!(r.email)),
                    ])
                })
                .collect(),
        );
    }
    if let Some(b) = &file.budget {
        put(
            "budget.lines",
            b.lines
                .iter()
                .map(|l| {
                    object(vec![
                        ("member", json!(l.member)),
                        ("kind", code!(BudgetKind, l.kind, "BUDGET_KIND_")),
                        ("item", code!(BudgetItem, l.item, "BUDGET_ITEM_")),
                        ("amount_cents", json!(l.amount_cents)),
                        ("period", code!(AmountPeriod, l.period, "AMOUNT_PERIOD_")),
                    ])
                })
                .collect(),
        );
    }
    if let Some(c) = &file.care {
        put("care.care_pathway", json!(c.care_pathway));
        put("care.pch_eligible", json!(c.pch_eligible));
        put("care.gir_level", json!(c.gir_level));
        put("care.ipp_rate", json!(c.ipp_rate));
        put("care.ticket_moderateur_exemption", json!(c.ticket_moderateur_exemption));
        put("care.declared_gp", json!(c.declared_gp));
    }
    if let Some(md) = &file.medical {
        put(
            "medical.opinions",
            md.opinions
                .iter()
                .map(|o| {
                    object(vec![
                        ("kind", code!(MedicalOpinionKind, o.kind, "MEDICAL_OPINION_KIND_")),
                        ("date", date(o.date.as_ref())),
                    ])
                })
                .collect(),
        );
    }
    if let Some(o) = &file.occupation {
        put(
            "occupation.employment",
            o.employment.map_or(Value::Null, |n| code!(EmploymentSituation, n, "EMPLOYMENT_SITUATION_")),
        );
        put(
            "occupation.professional_status",
            o.professional_status.map_or(Value::Null, |n| code!(ProfessionalStatus, n, "PROFESSIONAL_STATUS_")),
        );
    }
    if let Some(r) = &file.risk {
        put("risk.risks", codes!(Risk, r.risks, "RISK_"));
    }
    if let Some(a) = &file.affiliation {
        put(
            "affiliation.bodies",
            a.bodies
                .iter()
                .map(|b| {
                    object(vec![
                        ("scheme", code!(Scheme, b.scheme, "SCHEME_")),
                        ("body_code", json!(b.body_code)),
                        ("member_number", json!(b.member_number)),
                        ("postal_address", json!(b.postal_address)),
                        ("phone", json!(b.phone)),
                        ("email", json!(b.email)),
                    ])
                })
                .collect(),
        );
    }
    if let Some(r) = &file.rights {
        put(
            "rights.benefits",
            r.benefits
                .iter()
                .map(|b| {
                    object(vec![
                        ("kind", code!(BenefitKind, b.kind, "BENEFIT_KIND_")),
                        ("status", code!(BenefitStatus, b.status, "BENEFIT_STATUS_")),
                        ("body_code", json!(b.body_code)),
                        ("since", date(b.since.as_ref())),
                    ])
                })
                .collect(),
        );
    }
    if let Some(h) = &file.health_cover {
        put("health_cover.cover", h.cover.map_or(Value::Null, |n| code!(LowIncomeCover, n, "LOW_INCOME_COVER_")));
    }
    if let Some(p) = &file.prevention {
        put("prevention.housing_type", p.housing_type.map_or(Value::Null, |n| code!(HousingType, n, "HOUSING_TYPE_")));
        put("prevention.housing_conditions", codes!(HousingCondition, p.housing_conditions, "HOUSING_CONDITION_"));
        put(
            "prevention.aids",
            p.aids
                .iter()
                .map(|a| {
                    object(vec![
                        ("kind", code!(AidKind, a.kind, "AID_KIND_")),
                        ("status", code!(BenefitStatus, a.status, "BENEFIT_STATUS_")),
                        ("start", date(a.start.as_ref())),
                        ("end", date(a.end.as_ref())),
                        ("amount_cents", json!(a.amount_cents)),
                    ])
                })
                .collect(),
        );
    }
    if let Some(c) = &file.compensation {
        put(
            "compensation.sick_leaves",
            c.sick_leaves
                .iter()
                .map(|s| {
                    object(vec![
                        ("risk", code!(AllowanceRisk, s.risk, "ALLOWANCE_RISK_")),
                        ("start", date(s.start.as_ref())),
                        ("end", date(s.end.as_ref())),
                        ("daily_allowance_cents", json!(s.daily_allowance_cents)),
                    ])
                })
                .collect(),
        );
        put(
            "compensation.pensions",
            c.pensions
                .iter()
                .map(|p| {
                    object(vec![
                        ("kind", code!(PensionKind, p.kind, "PENSION_KIND_")),
                        ("start", date(p.start.as_ref())),
                        ("amount_cents", json!(p.amount_cents)),
                        ("period", code!(AmountPeriod, p.period, "AMOUNT_PERIOD_")),
                    ])
                })
                .collect(),
        );
    }
    if let Some(p) = &file.partners {
        put(
            "partners.legal_persons",
            p.legal_persons
                .iter()
                .map(|l| {
                    object(vec![("nature", code!(PartnerNature, l.nature, "PARTNER_NATURE_")), ("name", json!(l.name))])
                })
                .collect(),
        );
        put(
            "partners.physical_persons",
            p.physical_persons
                .iter()
                .map(|p| {
                    object(vec![
                        ("family_name", json!(p.family_name)),
                        ("given_names", json!(p.given_names)),
                        ("function", json!(p.function)),
                        ("postal_address", json!(p.postal_address)),
                        ("phone", json!(p.phone)),
                        ("email", json!(p.email)),
                    ])
                })
                .collect(),
        );
    }
    Value::Object(m)
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
