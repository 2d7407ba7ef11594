//! The rules of the actions and offers (norm 43, A.1 and A.2): an action has a purpose, a start
//! and, once closed, an end not before it, and dated contacts by one of the norm's channels,
//! each by an agent; an individual offer has one participant and no session, a collective one
//! has participants and sessions whose attendees are among them.

use std::collections::HashSet;

use passerelle_protocol::v1;

use crate::enums;
use crate::text::TextKind;
use crate::validate::{Check, FieldProblem};

/// Checks an action. Paths start at the action: `contacts[0].date`.
pub fn validate_action(action: &v1::Action) -> Result<(), Vec<FieldProblem>> {
    let mut c = Check::default();
    c.required_text("action_id", &action.action_id, TextKind::Identifier);
    c.required_text("file_id", &action.file_id, TextKind::Identifier);
    c.code("purpose", action.purpose, &enums::ACTION_PURPOSE);
    c.required_date("start", action.start.as_ref());
    c.date("end", action.end.as_ref());
    c.period("end", action.start.as_ref(), action.end.as_ref());
    for (i, contact) in action.contacts.iter().enumerate() {
        let p = format!("contacts[{i}]");
        c.code(&format!("{p}.channel"), contact.channel, &enums::CONTACT_CHANNEL);
        c.required_date(&format!("{p}.date"), contact.date.as_ref());
        c.period(&format!("{p}.date"), action.start.as_ref(), contact.date.as_ref());
        if let (Some(end), Some(date)) = (&action.end, &contact.date) {
            if (date.year, date.month, date.day) > (end.year, end.month, end.day) {
                c.problem(format!("{p}.date"), "is after the action's end");
            }
        }
        c.required_text(&format!("{p}.agent_id"), &contact.agent_id, TextKind::Code);
    }
    for (i, offer) in action.offer_ids.iter().enumerate() {
        c.required_text(&format!("offer_ids[{i}]"), offer, TextKind::Identifier);
    }
    c.finish()
}

/// Checks an offer. Paths start at the offer: `sessions[1].attendee_file_ids[0]`.
pub fn validate_offer(offer: &v1::Offer) -> Result<(), Vec<FieldProblem>> {
    let mut c = Check::default();
    c.required_text("offer_id", &offer.offer_id, TextKind::Identifier);
    c.code("kind", offer.kind, &enums::OFFER_KIND);
    c.code("theme", offer.theme, &enums::OFFER_THEME);
    for (i, id) in offer.participant_file_ids.iter().enumerate() {
        c.required_text(&format!("participant_file_ids[{i}]"), id, TextKind::Identifier);
    }
    let participants: HashSet<&String> = offer.participant_file_ids.iter().collect();
    if participants.len() != offer.participant_file_ids.len() {
        c.problem("participant_file_ids", "lists a file twice");
    }
    match v1::OfferKind::try_from(offer.kind) {
        Ok(v1::OfferKind::Individual) => {
            if offer.participant_file_ids.len() != 1 {
                c.problem("participant_file_ids", "must name exactly one file for an individual offer");
            }
            if !offer.sessions.is_empty() {
                c.problem("sessions", "are for collective offers: an individual offer has none");
            }
        }
        Ok(v1::OfferKind::Collective) if offer.sessions.is_empty() => {
            c.problem("sessions", "are missing: a collective offer has at least one session");
        }
        _ => {}
    }
    for (i, session) in offer.sessions.iter().enumerate() {
        let p = format!("sessions[{i}]");
        c.required_date(&format!("{p}.date"), session.date.as_ref());
        let mut attended = HashSet::new();
        for (j, id) in session.attendee_file_ids.iter().enumerate() {
            let q = format!("{p}.attendee_file_ids[{j}]");
            if !participants.contains(id) {
                c.problem(&q, "is not a participant of the offer");
            } else if !attended.insert(id) {
                c.problem(&q, "is listed twice");
            }
        }
    }
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: u32, month: u32, day: u32) -> Option<v1::Date> {
        Some(v1::Date { year, month, day })
    }

    fn collective() -> v1::Offer {
        v1::Offer {
            offer_id: "atelier-chutes-2026".into(),
            kind: v1::OfferKind::Collective as i32,
            theme: v1::OfferTheme::FallsPrevention as i32,
            participant_file_ids: vec!["file-a".into(), "file-b".into(), "file-c".into()],
            sessions: vec![
                v1::OfferSession { date: date(2026, 3, 2), attendee_file_ids: vec!["file-a".into(), "file-b".into()] },
                v1::OfferSession { date: date(2026, 3, 9), attendee_file_ids: vec!["file-a".into(), "file-c".into()] },
            ],
        }
    }

    #[test]
    fn a_collective_offer_has_sessions_whose_attendees_are_participants() {
        assert_eq!(validate_offer(&collective()), Ok(()));
        let mut stranger = collective();
        stranger.sessions[1].attendee_file_ids.push("file-z".into());
        let problems = validate_offer(&stranger).unwrap_err();
        assert_eq!(problems[0].path, "sessions[1].attendee_file_ids[2]");
        let mut no_session = collective();
        no_session.sessions.clear();
        assert_eq!(validate_offer(&no_session).unwrap_err()[0].path, "sessions");
    }

    #[test]
    fn an_individual_offer_has_one_participant_and_no_session() {
        let mut offer = collective();
        offer.kind = v1::OfferKind::Individual as i32;
        let paths: Vec<String> = validate_offer(&offer).unwrap_err().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["participant_file_ids", "sessions"]);
        offer.participant_file_ids.truncate(1);
        offer.sessions.clear();
        assert_eq!(validate_offer(&offer), Ok(()));
    }

    #[test]
    fn an_action_has_a_start_an_end_and_dated_contacts_by_an_agent() {
        let mut action = v1::Action {
            action_id: "act-1".into(),
            file_id: "file-a".into(),
            purpose: v1::ActionPurpose::PrecariousnessSupport as i32,
            start: date(2026, 1, 5),
            end: date(2026, 6, 30),
            contacts: vec![v1::Contact {
                channel: v1::ContactChannel::Visit as i32,
                date: date(2026, 2, 1),
                agent_id: "as-durand".into(),
            }],
            offer_ids: vec!["atelier-chutes-2026".into()],
        };
        assert_eq!(validate_action(&action), Ok(()));
        action.end = date(2026, 1, 4);
        action.contacts[0].agent_id = String::new();
        let paths: Vec<String> = validate_action(&action).unwrap_err().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["end", "contacts[0].date", "contacts[0].agent_id"]);
        action.end = None;
        action.contacts[0].agent_id = "as-durand".into();
        action.contacts[0].channel = 0;
        assert_eq!(validate_action(&action).unwrap_err()[0].path, "contacts[0].channel");
    }
}
