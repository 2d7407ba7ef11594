//! The records of the case file's lists (household members, relations, budget lines…) read
//! from JSON objects, one reader a record kind, each key typed. Values are checked afterwards
//! by the validation, like every other value of the file.

use passerelle_protocol::v1;
use serde_json::Value;

use crate::catalogue::RecordKind;
use crate::enums;
use crate::json::Obj;
use crate::update::{FieldValue, UpdateError};

/// Reads the list of records of `kind` at `path`.
pub(crate) fn decode(path: &str, kind: RecordKind, items: &[Value]) -> Result<FieldValue, UpdateError> {
    let objects = items
        .iter()
        .enumerate()
        .map(|(i, item)| Obj::new(format!("{path}[{i}]"), item, kind))
        .collect::<Result<Vec<_>, _>>()?;
    fn all<T>(objects: &[Obj<'_>], read: fn(&Obj<'_>) -> Result<T, UpdateError>) -> Result<Vec<T>, UpdateError> {
        objects.iter().map(read).collect()
    }
    Ok(match kind {
        RecordKind::HouseholdMember => FieldValue::HouseholdMembers(all(&objects, household_member)?),
        RecordKind::Relation => FieldValue::Relations(all(&objects, relation)?),
        RecordKind::BudgetLine => FieldValue::BudgetLines(all(&objects, budget_line)?),
        RecordKind::MedicalOpinion => FieldValue::MedicalOpinions(all(&objects, medical_opinion)?),
        RecordKind::AttachedBody => FieldValue::AttachedBodies(all(&objects, attached_body)?),
        RecordKind::Benefit => FieldValue::Benefits(all(&objects, benefit)?),
        RecordKind::PreventionAid => FieldValue::PreventionAids(all(&objects, prevention_aid)?),
        RecordKind::SickLeave => FieldValue::SickLeaves(all(&objects, sick_leave)?),
        RecordKind::PensionPayment => FieldValue::Pensions(all(&objects, pension)?),
        RecordKind::LegalPartner => FieldValue::LegalPartners(all(&objects, legal_partner)?),
        RecordKind::PhysicalPartner => FieldValue::PhysicalPartners(all(&objects, physical_partner)?),
    })
}

fn household_member(o: &Obj<'_>) -> Result<v1::HouseholdMember, UpdateError> {
    Ok(v1::HouseholdMember {
        member: o.number("member")?.unwrap_or(0),
        family_name: o.text("family_name")?,
        usage_name: o.text("usage_name")?,
        given_names: o.text("given_names")?,
        birth_year: o.number("birth_year")?,
        relationship: o.code("relationship", &enums::RELATIONSHIP)?,
    })
}

fn relation(o: &Obj<'_>) -> Result<v1::Relation, UpdateError> {
    Ok(v1::Relation {
        kind: o.code("kind", &enums::RELATION_KIND)?,
        concern: o.code("concern", &enums::RELATION_CONCERN)?,
        family_name: o.text("family_name")?,
        given_names: o.text("given_names")?,
        postal_address: o.text("postal_address")?,
        phone: o.text("phone")?,
        email: o.text("email")?,
    })
}

fn budget_line(o: &Obj<'_>) -> Result<v1::BudgetLine, UpdateError> {
    Ok(v1::BudgetLine {
        member: o.number("member")?,
        kind: o.code("kind", &enums::BUDGET_KIND)?,
        item: o.code("item", &enums::BUDGET_ITEM)?,
        amount_cents: o.amount("amount_cents")?.unwrap_or(0),
        period: o.code("period", &enums::AMOUNT_PERIOD)?,
    })
}

fn medical_opinion(o: &Obj<'_>) -> Result<v1::MedicalOpinion, UpdateError> {
    Ok(v1::MedicalOpinion { kind: o.code("kind", &enums::MEDICAL_OPINION_KIND)?, date: o.date("date")? })
}

fn attached_body(o: &Obj<'_>) -> Result<v1::AttachedBody, UpdateError> {
    Ok(v1::AttachedBody {
        scheme: o.code("scheme", &enums::SCHEME)?,
        body_code: o.text("body_code")?,
        member_number: o.text("member_number")?,
        postal_address: o.text("postal_address")?,
        phone: o.text("phone")?,
        email: o.text("email")?,
    })
}

fn benefit(o: &Obj<'_>) -> Result<v1::Benefit, UpdateError> {
    Ok(v1::Benefit {
        kind: o.code("kind", &enums::BENEFIT_KIND)?,
        status: o.code("status", &enums::BENEFIT_STATUS)?,
        body_code: o.text("body_code")?,
        since: o.date("since")?,
    })
}

fn prevention_aid(o: &Obj<'_>) -> Result<v1::PreventionAid, UpdateError> {
    Ok(v1::PreventionAid {
        kind: o.code("kind", &enums::AID_KIND)?,
        status: o.code("status", &enums::BENEFIT_STATUS)?,
        start: o.date("start")?,
        end: o.date("end")?,
        amount_cents: o.amount("amount_cents")?,
    })
}

fn sick_leave(o: &Obj<'_>) -> Result<v1::SickLeave, UpdateError> {
    Ok(v1::SickLeave {
        risk: o.code("risk", &enums::ALLOWANCE_RISK)?,
        start: o.date("start")?,
        end: o.date("end")?,
        daily_allowance_cents: o.amount("daily_allowance_cents")?,
    })
}

fn pension(o: &Obj<'_>) -> Result<v1::PensionPayment, UpdateError> {
    Ok(v1::PensionPayment {
        kind: o.code("kind", &enums::PENSION_KIND)?,
        start: o.date("start")?,
        amount_cents: o.amount("amount_cents")?,
        period: o.code("period", &enums::AMOUNT_PERIOD)?,
    })
}

fn legal_partner(o: &Obj<'_>) -> Result<v1::LegalPartner, UpdateError> {
    Ok(v1::LegalPartner { nature: o.code("nature", &enums::PARTNER_NATURE)?, name: o.text("name")? })
}

fn physical_partner(o: &Obj<'_>) -> Result<v1::PhysicalPartner, UpdateError> {
    Ok(v1::PhysicalPartner {
        family_name: o.text("family_name")?,
        given_names: o.text("given_names")?,
        function: o.text("function")?,
        postal_address: o.text("postal_address")?,
        phone: o.text("phone")?,
        email: o.text("email")?,
    })
}
