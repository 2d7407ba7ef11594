//! The case state machine, as code: where a case is in the decree's flow ([`CaseState`]), what
//! moves it ([`CaseEvent`]) and the one function that says where an event takes it ([`next`]).
//!
//! ```text
//! receiving ─SolicitationsQueued→ soliciting ─SolicitationsPublished→ collecting ─ResultBuilt→ returning
//!     │  └──────────NoBodyToAsk──────────────────────────────────────────↗   ↑ (soliciting too, at the deadline)
//!     └─Refuse→ refused                         returning ─ResultPublished→ returned
//! every state that holds payloads (receiving … returned) ─Purge→ purged
//! ```
//!
//! `purged` and `refused` are final. The store applies a transition only to a case still in the
//! state the caller read (`UPDATE … WHERE state = ?from`, [`crate::cases`]), so neither a bug nor
//! a race can move a case backwards.

/// Where a case is in the decree's flow. Stored as its text code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CaseState {
    /// Request chunks are arriving; persons are validated and stored as they come.
    Receiving,
    /// Every chunk is in; the solicitations are in the outbox, not all confirmed by the broker.
    Soliciting,
    /// Every solicitation is published; waiting for the bodies' responses or the deadline.
    Collecting,
    /// The result is built and in the outbox, not all confirmed by the broker.
    Returning,
    /// Every result chunk is published; waiting for the requester's receipt (or the cap).
    Returned,
    /// The payloads are gone (receipt or 30-day cap); the metadata stays for the audit trail.
    Purged,
    /// The whole case was refused (a refusal went back); it never held payloads past that point.
    Refused,
}

impl CaseState {
    /// Every state, in flow order.
    pub const ALL: [CaseState; 7] = [
        CaseState::Receiving,
        CaseState::Soliciting,
        CaseState::Collecting,
        CaseState::Returning,
        CaseState::Returned,
        CaseState::Purged,
        CaseState::Refused,
    ];

    /// The states in which the case still holds payloads.
    pub const HOLDING_PAYLOADS: [CaseState; 5] =
        [CaseState::Receiving, CaseState::Soliciting, CaseState::Collecting, CaseState::Returning, CaseState::Returned];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Receiving => "receiving",
            CaseState::Soliciting => "soliciting",
            CaseState::Collecting => "collecting",
            CaseState::Returning => "returning",
            CaseState::Returned => "returned",
            CaseState::Purged => "purged",
            CaseState::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<CaseState> {
        CaseState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether responses are still merged (before the result is built).
    pub fn is_collecting(self) -> bool {
        matches!(self, CaseState::Soliciting | CaseState::Collecting)
    }

    /// Whether the case still holds payloads.
    pub fn holds_payloads(self) -> bool {
        CaseState::HOLDING_PAYLOADS.contains(&self)
    }
}

impl std::fmt::Display for CaseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What moves a case from one state to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseEvent {
    /// Every request chunk is in and the solicitations are queued in the outbox.
    SolicitationsQueued,
    /// Every request chunk is in and no other body may hold what was asked: the result is
    /// built at once.
    NoBodyToAsk,
    /// The broker confirmed every solicitation of the case.
    SolicitationsPublished,
    /// The result (complete, or partial at the deadline) is built and queued.
    ResultBuilt,
    /// The broker confirmed every result chunk of the case.
    ResultPublished,
    /// The payloads were deleted (receipt or retention cap).
    Purge,
    /// The whole case was refused while it was arriving.
    Refuse,
}

impl CaseEvent {
    /// Every event.
    pub const ALL: [CaseEvent; 7] = [
        CaseEvent::SolicitationsQueued,
        CaseEvent::NoBodyToAsk,
        CaseEvent::SolicitationsPublished,
        CaseEvent::ResultBuilt,
        CaseEvent::ResultPublished,
        CaseEvent::Purge,
        CaseEvent::Refuse,
    ];
}

/// An event that cannot happen in a state: a bug, or a case another transaction moved on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a case {from} cannot take the event {event:?}")]
pub struct Refused {
    pub from: CaseState,
    pub event: CaseEvent,
}

/// Where `event` takes a case in state `from`.
pub fn next(from: CaseState, event: CaseEvent) -> Result<CaseState, Refused> {
    use CaseEvent as E;
    use CaseState as S;
    match (from, event) {
        (S::Receiving, E::SolicitationsQueued) => Ok(S::Soliciting),
        (S::Receiving, E::NoBodyToAsk) => Ok(S::Collecting),
        (S::Receiving, E::Refuse) => Ok(S::Refused),
        (S::Soliciting, E::SolicitationsPublished) => Ok(S::Collecting),
        // At the deadline a case still soliciting returns what it has, like one collecting.
        (S::Soliciting | S::Collecting, E::ResultBuilt) => Ok(S::Returning),
        (S::Returning, E::ResultPublished) => Ok(S::Returned),
        (S::Receiving | S::Soliciting | S::Collecting | S::Returning | S::Returned, E::Purge) => Ok(S::Purged),
        _ => Err(Refused { from, event }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CaseEvent as E;
    use CaseState as S;

    /// Every (state, event) pair and where it leads (`None`: refused), written out.
    const TABLE: [(CaseState, [Option<CaseState>; 7]); 7] = [
        // SolicitationsQueued, NoBodyToAsk, SolicitationsPublished, ResultBuilt, ResultPublished, Purge, Refuse
        (S::Receiving, [Some(S::Soliciting), Some(S::Collecting), None, None, None, Some(S::Purged), Some(S::Refused)]),
        (S::Soliciting, [None, None, Some(S::Collecting), Some(S::Returning), None, Some(S::Purged), None]),
        (S::Collecting, [None, None, None, Some(S::Returning), None, Some(S::Purged), None]),
        (S::Returning, [None, None, None, None, Some(S::Returned), Some(S::Purged), None]),
        (S::Returned, [None, None, None, None, None, Some(S::Purged), None]),
        (S::Purged, [None; 7]),
        (S::Refused, [None; 7]),
    ];

    #[test]
    fn every_state_and_event_pair_leads_where_the_table_says() {
        assert_eq!(TABLE.map(|(s, _)| s), CaseState::ALL, "the table covers every state");
        for (from, row) in TABLE {
            for (event, expected) in CaseEvent::ALL.into_iter().zip(row) {
                let got = next(from, event);
                match expected {
                    Some(to) => assert_eq!(got, Ok(to), "{from} + {event:?}"),
                    None => assert_eq!(got, Err(Refused { from, event }), "{from} + {event:?}"),
                }
            }
        }
    }

    #[test]
    fn final_states_are_final_and_nothing_goes_back() {
        let order = |s: CaseState| CaseState::ALL.iter().position(|x| *x == s).unwrap();
        for from in CaseState::ALL {
            for event in CaseEvent::ALL {
                if let Ok(to) = next(from, event) {
                    assert!(order(to) > order(from), "{from} + {event:?} → {to} goes backwards");
                    assert!(from.holds_payloads(), "{from} is final but moved to {to}");
                }
            }
        }
        assert!(next(S::Purged, E::SolicitationsPublished).is_err(), "purged never goes back to collecting");
    }

    #[test]
    fn states_round_trip_through_their_text() {
        for s in CaseState::ALL {
            assert_eq!(CaseState::parse(s.as_str()), Some(s));
        }
        assert_eq!(CaseState::parse("answered"), None);
    }
}
