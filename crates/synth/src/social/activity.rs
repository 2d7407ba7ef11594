//! The actions and offers of a synthetic case file (norm 43, A.1, A.2): one to three actions in
//! a row over the two years before the reference date, the last one sometimes still open, each
//! with dated contacts by the office's social workers and sometimes an individual offer; and the
//! collective offers (workshops) the files join, with their sessions and who attended.

use chrono::{Duration, NaiveDate};
use passerelle_protocol::v1::{self, ContactChannel as C, OfferTheme as T, SocialDifficulty as D};
use rand::seq::SliceRandom;
use rand::Rng;

use crate::facts::to_v1;

/// Social workers per office: contacts name one of them (`as-13-04`).
const WORKERS_PER_OFFICE: u32 = 8;
/// Share of the files whose last action is still open at the reference date.
const OPEN_LAST_ACTION: f64 = 0.35;
/// Share of the actions that make an individual offer.
const INDIVIDUAL_OFFER: f64 = 0.5;
/// Participants of a collective offer: a workshop's group.
const GROUP_SIZE: std::ops::RangeInclusive<usize> = 6..=12;
/// Share of the participants at each session of a workshop.
const ATTENDANCE: f64 = 0.8;

/// The actions of one file and the individual offers made in them.
pub(crate) fn actions(
    rng: &mut impl Rng,
    file_id: &str,
    departement: &str,
    difficulties: &[i32],
    today: NaiveDate,
) -> (Vec<v1::Action>, Vec<v1::Offer>) {
    let count = match rng.gen_range(0..10) {
        0..6 => 1,
        6..9 => 2,
        _ => 3,
    };
    let mut start = today - Duration::days(rng.gen_range(30..=720));
    let (mut actions, mut offers) = (Vec::new(), Vec::new());
    for j in 1..=count {
        let last = j == count;
        let planned_end = start + Duration::days(rng.gen_range(30..=240));
        let open = planned_end > today || (last && rng.gen_bool(OPEN_LAST_ACTION));
        let end = (!open).then_some(planned_end);
        let purpose = if difficulties.contains(&(D::Financial as i32)) && rng.gen_bool(0.6) {
            v1::ActionPurpose::PrecariousnessSupport
        } else {
            v1::ActionPurpose::RelationshipAndOffers
        };
        let mut action = v1::Action {
            action_id: format!("{file_id}-a{j}"),
            file_id: file_id.to_owned(),
            purpose: purpose as i32,
            start: Some(to_v1(start)),
            end: end.map(to_v1),
            contacts: contacts(rng, departement, start, end.unwrap_or(today).max(start)),
            offer_ids: Vec::new(),
        };
        if rng.gen_bool(INDIVIDUAL_OFFER) {
            let offer_id = format!("{file_id}-o{j}");
            action.offer_ids.push(offer_id.clone());
            offers.push(v1::Offer {
                offer_id,
                kind: v1::OfferKind::Individual as i32,
                theme: theme(rng, difficulties) as i32,
                participant_file_ids: vec![file_id.to_owned()],
                sessions: Vec::new(),
            });
        }
        actions.push(action);
        let Some(end) = end else { break };
        start = end + Duration::days(rng.gen_range(1..=120));
        if start > today {
            break;
        }
    }
    (actions, offers)
}

/// One to five contacts between `from` and `to`, in date order.
fn contacts(rng: &mut impl Rng, departement: &str, from: NaiveDate, to: NaiveDate) -> Vec<v1::Contact> {
    let span = (to - from).num_days();
    let mut days: Vec<i64> = (0..rng.gen_range(1..=5)).map(|_| rng.gen_range(0..=span)).collect();
    days.sort_unstable();
    let channels =
        [C::Phone, C::Phone, C::Phone, C::Letter, C::Visit, C::Visit, C::Email, C::PhoneMessage, C::Teleservice];
    let dep = departement.to_ascii_lowercase();
    days.into_iter()
        .map(|d| v1::Contact {
            channel: *channels.choose(rng).expect("non-empty") as i32,
            date: Some(to_v1(from + Duration::days(d))),
            agent_id: format!("as-{dep}-{:02}", rng.gen_range(1..=WORKERS_PER_OFFICE)),
        })
        .collect()
}

/// The theme of an individual offer, from the person's difficulties.
fn theme(rng: &mut impl Rng, difficulties: &[i32]) -> T {
    let by_difficulty = |d: i32| match D::try_from(d) {
        Ok(D::LossOfAutonomy) => T::HomeHelp,
        Ok(D::Isolation) => T::AgeingWell,
        Ok(D::AccessToRights | D::Financial) => T::AccessToRights,
        Ok(D::AccessToCare) => T::AccessToCare,
        Ok(D::Housing) => T::HousingAdaptation,
        Ok(D::JobRetention) => T::JobRetention,
        Ok(D::CaregiverExhaustion | D::Family) => T::CaregiverSupport,
        _ => T::ReturnHomeAfterHospital,
    };
    difficulties.choose(rng).map_or(T::AccessToRights, |d| by_difficulty(*d))
}

/// A collective offer being filled with participants as the files are generated.
#[derive(Debug)]
pub(crate) struct Workshop {
    offer_id: String,
    theme: T,
    first_session: NaiveDate,
    size: usize,
    participants: Vec<String>,
}

impl Workshop {
    /// A new workshop; its sessions are weekly from a date in the six months before `today`.
    pub(crate) fn new(rng: &mut impl Rng, number: u64, today: NaiveDate) -> Workshop {
        let themes = [T::FallsPrevention, T::AgeingWell, T::CaregiverSupport, T::AccessToRights, T::HousingAdaptation];
        Workshop {
            offer_id: format!("atelier-{number:06}"),
            theme: *themes.choose(rng).expect("non-empty"),
            first_session: today - Duration::days(rng.gen_range(0..=180)),
            size: rng.gen_range(GROUP_SIZE),
            participants: Vec::new(),
        }
    }

    /// Adds a participant; the offer's id, for the participant's action.
    pub(crate) fn join(&mut self, file_id: &str) -> &str {
        self.participants.push(file_id.to_owned());
        &self.offer_id
    }

    pub(crate) fn is_full(&self) -> bool {
        self.participants.len() >= self.size
    }

    /// The offer with two to six weekly sessions, each attended by most participants.
    pub(crate) fn close(self, rng: &mut impl Rng) -> v1::Offer {
        let sessions = (0..rng.gen_range(2..=6i64))
            .map(|k| v1::OfferSession {
                date: Some(to_v1(self.first_session + Duration::weeks(k))),
                attendee_file_ids: self.participants.iter().filter(|_| rng.gen_bool(ATTENDANCE)).cloned().collect(),
            })
            .collect();
        v1::Offer {
            offer_id: self.offer_id,
            kind: v1::OfferKind::Collective as i32,
            theme: self.theme as i32,
            participant_file_ids: self.participants,
            sessions,
        }
    }
}
