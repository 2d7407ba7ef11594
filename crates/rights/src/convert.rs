//! The wire's holdings as the consolidated answer writes them: each category by its catalogue
//! code, each value in the shared text syntax (`passerelle_protocol::value`), each time RFC 3339
//! UTC, each day `YYYY-MM-DD`. A category or kind this version does not know is left out, never
//! guessed.

use passerelle_protocol::{catalogue, v1, value};

use crate::{rfc3339, HeldValue, Holding, HoldingKind, RectifiedValue};

pub(crate) fn holding_kind(kind: i32) -> Option<HoldingKind> {
    Some(match v1::HoldingKind::try_from(kind).ok()? {
        v1::HoldingKind::Unspecified => return None,
        v1::HoldingKind::Selection => HoldingKind::Selection,
        v1::HoldingKind::ReceivedValues => HoldingKind::ReceivedValues,
        v1::HoldingKind::OfferOutcome => HoldingKind::OfferOutcome,
        v1::HoldingKind::CaseInFlight => HoldingKind::CaseInFlight,
        v1::HoldingKind::Statistics => HoldingKind::Statistics,
    })
}

/// A wire time, `None` when no calendar date can say it (a party's `i64::MAX` seconds is read,
/// not trusted: neither `SystemTime` nor chrono may panic on it).
fn time(t: &Option<prost_types::Timestamp>) -> Option<String> {
    let t = (*t)?;
    let t = std::time::SystemTime::try_from(t).ok()?;
    crate::checked_utc(t).map(|_| rfc3339(t))
}

/// The values of `values`, each given by `source`, in catalogue order.
pub(crate) fn held_values(source: &str, values: &v1::CategoryValues) -> Vec<HeldValue> {
    values
        .present()
        .filter_map(|(category, v)| {
            let info = catalogue::info(category)?;
            Some(HeldValue { category: info.code.to_owned(), source: source.to_owned(), value: value::format(&v) })
        })
        .collect()
}

/// A holding of the wire. A kind this version does not know reads as `received-values`: what a
/// party says it holds is never dropped from the person's answer.
pub(crate) fn holding(h: &v1::Holding) -> Holding {
    let outcome = match v1::OfferOutcome::try_from(h.outcome).ok() {
        Some(v1::OfferOutcome::Accepted) => Some("accepted".to_owned()),
        Some(v1::OfferOutcome::Declined) => Some("declined".to_owned()),
        Some(v1::OfferOutcome::NoReply) => Some("no_reply".to_owned()),
        _ => None,
    };
    Holding {
        kind: holding_kind(h.kind).unwrap_or(HoldingKind::ReceivedValues),
        case_id: h.case_id.clone(),
        requester: h.requester.clone(),
        since: time(&h.since),
        until: time(&h.until),
        values: h
            .values
            .iter()
            .flat_map(|s| s.values.as_ref().map(|v| held_values(&s.source, v)).unwrap_or_default())
            .collect(),
        outcome,
        outcome_date: h.outcome_date.as_ref().map(value::format_date),
    }
}

pub(crate) fn rectified(r: &v1::Rectified) -> Option<RectifiedValue> {
    let info = catalogue::by_number(r.category)?;
    Some(RectifiedValue {
        kind: holding_kind(r.kind).unwrap_or(HoldingKind::ReceivedValues),
        case_id: r.case_id.clone(),
        category: info.code.to_owned(),
    })
}
