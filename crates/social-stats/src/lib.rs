//! The social service's steering statistics (CNIL norm 43, B; DESIGN §7.2): a table of counts
//! of persons from data **anonymised beforehand**, and its disclosure control. No IO: the
//! daemon (`passerelle-social-service`, its `steering` module) gives the counts; this crate
//! makes, checks, merges and prints the table.
//!
//! ## Cells
//! A cell is (level, unit, month, measure, category): level `office`, `body` (the sum of its
//! offices) or `national` (the sum of the bodies, merged tables only); the unit's code; a month
//! `YYYY-MM` or `all` (the sum of the period's months); a [`Measure`] and one of its categories
//! or `total`. Every cell of the structure is in the table, zeros included, so the relations
//! are complete and an absent row never hints at anything.
//!
//! ## Measures
//! Persons are counted once per cell: a file counts at most once per measure and month, in one
//! category, so categories add up to `total`. `all` adds the months (a person in two months
//! counts in both: the months must add up).
//! - `files-opened`: files opened in the month, by age at opening ([`AGE_BANDS`]: under-40,
//!   40-54, 55-64, 65-74, 75-84, 85-plus, `age-unknown` when the worker has not recorded the
//!   birth date, I.3) and, as a second breakdown over the same total, by sex ([`SEXES`]:
//!   female, male, `sex-unknown`);
//! - `files-closed`: files closed in the month (the end of their last action), by the time
//!   they were open ([`DURATION_BANDS`]: under-3-months, 3-6, 6-12, 12-24, 24-months-plus);
//! - `actions-started`: persons whose action started in the month, by the file's risk
//!   concerned (I.12, [`RISKS`]: the one risk, `several`, or `none`);
//! - `actions-ended`: persons whose action ended in the month, by its duration (the band of
//!   the last one to end when two ended in the month);
//! - `offer-participants`: persons taking part in an offer made in the month, by its kind and
//!   whether they attended at least one session ([`PARTICIPATIONS`]; a person in several
//!   offers of a month counts once, in the first of these categories that applies);
//! - `offer-outcomes`: outcomes of the offer recorded at the worklist ([`OUTCOMES`]: accepted,
//!   declined, no-reply — the requester's outcome codes), counted when recorded: a person who
//!   declines never enters the live store, so this count is the one trace, with no link to
//!   the person.
//!
//! ## Suppression ([`suppress`])
//! Every cell from 1 to 10 persons is hidden (primary). **A zero is shown**: it says that
//! nobody of the unit had the event that month, which reveals nothing about any person,
//! whereas hiding zeros would hide most of a small office's table and, through the totals,
//! force far more complementary suppression for no protection. Then complementary
//! suppression hides more cells until no hidden cell can be recomputed from the additive
//! relations (categories to `total`, offices to their body, bodies to the nation, months to
//! `all`) — checked exactly by [`audit()`], which is public so that anyone can run it on any
//! published table. A hidden cell is published as unknown, without saying whether it was
//! hidden for its own count or for another's.
//!
//! ## National figures ([`merge()`])
//! Bodies' exports merged: national cell = the sum; when a part is hidden, a lower bound (the
//! sum of the known parts) shown as "at least N" from 11, hidden below; a lower bound is not
//! exact in the relations; the suppression is applied again on the merged table.
//!
//! ## Formats
//! JSON `passerelle.social-service-stats/1` ([`json`], docs/JSON.md) and plain text
//! ([`text::render`]).
//!
//! **Architecture invariant:** nothing here takes a person: counts in, counts out.
#![forbid(unsafe_code)]

mod audit;
pub mod json;
pub mod measure;
mod merge;
mod relations;
pub mod suppress;
mod table;
pub mod text;

pub use audit::{audit, Audit};
pub use measure::{Measure, AGE_BANDS, DURATION_BANDS, OUTCOMES, PARTICIPATIONS, RISKS, SEXES, TOTAL};
pub use merge::merge;
pub use table::{
    CellKey, Count, Level, Month, Slot, Structure, Table, TableError, Tabulation, Value, NATIONAL, THRESHOLD,
};
