//! The synthetic case files checked over 10,000 files: every file, action and offer valid,
//! every offer named by an action emitted once, realistic mixes, texts from the fixed lists.

use std::collections::{HashMap, HashSet};

use passerelle_protocol::v1;
use passerelle_social_file::{validate, validate_action, validate_offer};

use super::{files, phrases};

const FILES: u64 = 10_000;

fn share(count: usize) -> f64 {
    count as f64 / FILES as f64
}

#[test]
fn ten_thousand_files_pass_the_validators_and_their_offers_close() {
    let mut named: HashMap<String, HashSet<String>> = HashMap::new();
    let mut emitted: HashMap<String, v1::Offer> = HashMap::new();
    let (mut gir, mut members, mut opinions, mut collective, mut open, mut budget, mut ipp) = (0, 0, 0, 0, 0, 0, 0);
    let mut file_ids = HashSet::new();
    let mut nirs = HashSet::new();
    for f in files(7, FILES) {
        assert_eq!(validate(&f.file), Ok(()), "{}", f.file_id);
        assert!(file_ids.insert(f.file_id.clone()));
        assert!(nirs.insert(f.file.identity.as_ref().and_then(|i| i.nir.clone()).expect("a NIR")));
        assert!(!f.actions.is_empty());
        for (i, action) in f.actions.iter().enumerate() {
            assert_eq!(validate_action(action), Ok(()), "{}", action.action_id);
            assert_eq!(action.file_id, f.file_id);
            assert!(action.end.is_some() || i + 1 == f.actions.len(), "only the last action is open");
            for id in &action.offer_ids {
                named.entry(id.clone()).or_default().insert(f.file_id.clone());
            }
        }
        open += usize::from(f.actions.last().is_some_and(|a| a.end.is_none()));
        for offer in f.offers {
            assert_eq!(validate_offer(&offer), Ok(()), "{}", offer.offer_id);
            collective += usize::from(offer.kind == v1::OfferKind::Collective as i32);
            assert!(emitted.insert(offer.offer_id.clone(), offer).is_none(), "an offer emitted twice");
        }
        let file = &f.file;
        gir += usize::from(file.care.as_ref().is_some_and(|c| c.gir_level.is_some()));
        ipp += usize::from(file.care.as_ref().is_some_and(|c| c.ipp_rate.is_some()));
        members += usize::from(file.family.as_ref().is_some_and(|m| !m.household_members.is_empty()));
        opinions += usize::from(file.medical.as_ref().is_some_and(|m| !m.opinions.is_empty()));
        budget += usize::from(file.budget.as_ref().is_some_and(|b| b.lines.len() >= 3));
        let assessment = file.social_situation.as_ref().and_then(|s| s.assessment.as_deref()).expect("an assessment");
        assert!(is_made_of_fixed_sentences(assessment), "{assessment}");
    }
    // Every offer an action names is emitted, and its participants are the files naming it.
    assert_eq!(named.keys().collect::<HashSet<_>>(), emitted.keys().collect::<HashSet<_>>());
    for (id, offer) in &emitted {
        let participants: HashSet<String> = offer.participant_file_ids.iter().cloned().collect();
        assert_eq!(&participants, &named[id], "{id}");
    }
    let shares = [("GIR", gir), ("household", members), ("opinions", opinions), ("open", open), ("IPP", ipp)];
    eprintln!("shares over {FILES} files: {shares:?}, collective offers {collective}");
    assert!((0.2..0.6).contains(&share(gir)), "GIR {gir}");
    assert!((0.3..0.8).contains(&share(members)), "household members {members}");
    assert!((0.05..0.4).contains(&share(opinions)), "medical opinions {opinions}");
    assert!((0.2..0.6).contains(&share(open)), "open last actions {open}");
    assert!((0.01..0.3).contains(&share(ipp)), "IPP {ipp}");
    assert_eq!(budget, FILES as usize, "every file has a budget");
    assert!(collective > 150, "collective offers {collective}");
}

fn is_made_of_fixed_sentences(text: &str) -> bool {
    let known: Vec<&str> = (1..=9)
        .flat_map(|n| phrases::assessment_sentences(v1::SocialDifficulty::try_from(n).unwrap()).iter().copied())
        .chain(phrases::NEXT_STEPS)
        .collect();
    let mut rest = text;
    while !rest.is_empty() {
        let Some(s) = known.iter().find(|s| rest.starts_with(**s)) else { return false };
        rest = rest[s.len()..].trim_start();
    }
    true
}

#[test]
fn the_same_seed_gives_the_same_files_and_another_seed_others() {
    let a: Vec<_> = files(1, 50).collect();
    assert_eq!(a, files(1, 50).collect::<Vec<_>>());
    assert_ne!(a, files(2, 50).collect::<Vec<_>>());
    assert_eq!(files(1, 50).len(), 50);
}

#[test]
fn the_last_file_closes_the_workshop_being_filled() {
    let all: Vec<_> = files(3, 40).collect();
    let named: HashSet<&String> = all.iter().flat_map(|f| &f.actions).flat_map(|a| &a.offer_ids).collect();
    let emitted: HashSet<&String> = all.iter().flat_map(|f| &f.offers).map(|o| &o.offer_id).collect();
    assert_eq!(named, emitted);
}
