//! Synthetic case files of the social service (CNIL norm 43), for the tests, the demo and the
//! benchmark: [`files`] streams `n` files, each a [`SyntheticFile`] with its `v1::SocialFile`,
//! its actions (contacts included) and the offers it completes.
//!
//! The persons are the population's (same model: ages 55 to 100, unique synthetic NIRs, names
//! from the short lists of common names, fictional phone range, `example.org`), each file opened
//! from their decree values through the documented mapping and then filled as a social worker
//! would. Every file, action and offer passes `passerelle_social_file`'s validators. The same
//! seed gives the same files; memory does not grow with `n` (one workshop is filled at a time).

mod activity;
mod file;
mod json;
mod phrases;
#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use passerelle_protocol::v1;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::Model;
use crate::residence::Residences;
pub use json::to_json;

use crate::{identity, TerritoryChoice, DEFAULT_TERRITORY, MAX_PERSONS};

/// The reference year of [`files`]: actions run over the two years before 1 January of it.
pub const REFERENCE_YEAR: i32 = 2026;
/// Share of the files that join a collective offer (a workshop).
const JOINS_WORKSHOP: f64 = 0.25;

/// One synthetic case file with its activity.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticFile {
    /// The file's id (`sf-0000001`): actions and offers name the file by it, never by identity.
    pub file_id: String,
    /// The person's residence département (`13`, `2A`): which office follows the file.
    pub departement: String,
    /// The case file, norm 43 I.1–I.17 and II.1–2.
    pub file: v1::SocialFile,
    /// Its actions in date order, each with its dated contacts; only the last may be open.
    pub actions: Vec<v1::Action>,
    /// The offers this file completes: its individual offers, and a collective offer when this
    /// file is its last participant (earlier participants' actions already name it). Every offer
    /// an action names is in exactly one file's `offers`.
    pub offers: Vec<v1::Offer>,
}

/// `n` case files from `seed`, as of 1 January [`REFERENCE_YEAR`], in the default territory.
///
/// # Panics
/// When `n` exceeds [`MAX_PERSONS`] (the NIR space of the synthetic population).
pub fn files(seed: u64, n: u64) -> Files {
    files_as_of(seed, n, REFERENCE_YEAR)
}

/// [`files`] with another reference year.
pub fn files_as_of(seed: u64, n: u64, reference_year: i32) -> Files {
    assert!(n <= MAX_PERSONS, "at most {MAX_PERSONS} synthetic files, {n} asked");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let model = Model::new(reference_year, &mut rng);
    let territory = TerritoryChoice::Observatory(DEFAULT_TERRITORY.to_owned());
    let residences = Residences::of(&territory).expect("the default territory is in the commune list");
    Files { rng, model, residences, index: 0, n, workshop: None, workshops: 0 }
}

/// The stream of [`files`].
#[derive(Debug)]
pub struct Files {
    rng: ChaCha8Rng,
    model: Model,
    residences: Residences,
    index: u64,
    n: u64,
    /// The collective offer being filled.
    workshop: Option<activity::Workshop>,
    workshops: u64,
}

impl Iterator for Files {
    type Item = SyntheticFile;

    fn next(&mut self) -> Option<SyntheticFile> {
        if self.index >= self.n {
            return None;
        }
        self.index += 1;
        let rng = &mut self.rng;
        let today: NaiveDate = self.model.as_of();
        let person = self.model.person(rng, &self.residences).expect("n is at most MAX_PERSONS");
        let situation = person.facts.family_situation.and_then(|s| v1::FamilySituation::try_from(s).ok());
        let identity = identity::draw(rng, person.sex, situation);
        let commune = &self.residences.communes[person.residence].code;
        let departement = departement_of(commune).to_owned();
        let file_id = format!("sf-{:07}", self.index);

        let cx = file::Context { person: &person, identity: &identity, departement: &departement, today };
        let file = file::case_file(rng, &cx);
        let difficulties = file.social_situation.as_ref().map(|s| s.difficulties.clone()).unwrap_or_default();
        let (mut actions, mut offers) = activity::actions(rng, &file_id, &departement, &difficulties, today);

        if rng.gen_bool(JOINS_WORKSHOP) {
            let workshops = &mut self.workshops;
            let workshop = self.workshop.get_or_insert_with(|| {
                *workshops += 1;
                activity::Workshop::new(rng, *workshops, today)
            });
            let offer_id = workshop.join(&file_id).to_owned();
            actions.last_mut().expect("a file has an action").offer_ids.push(offer_id);
        }
        let full = self.workshop.as_ref().is_some_and(activity::Workshop::is_full);
        if full || self.index == self.n {
            if let Some(workshop) = self.workshop.take() {
                offers.push(workshop.close(rng));
            }
        }
        Some(SyntheticFile { file_id, departement, file, actions, offers })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.n - self.index).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Files {}

/// The département of an INSEE commune code: `13` of `13055`, `2A` of `2A004`, `971` of `97105`.
fn departement_of(commune: &str) -> &str {
    let len = if commune.starts_with("97") { 3 } else { 2 };
    commune.get(..len).unwrap_or(commune)
}
