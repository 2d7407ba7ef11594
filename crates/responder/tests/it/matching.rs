//! The matching rule exactly as docs/PARTNERS.md ("The matching rule") states it, on the extract
//! index: the person's candidate NIRs are tried in order (current, then former as given), each
//! first against the body's current NIRs and then against its former NIRs; the first record that
//! agrees (sex and birth year, where both sides know them) is the person; a record whose identity
//! disagrees is skipped and the search goes on.

use passerelle_protocol::nir::{self, Nir};
use passerelle_protocol::v1::{self, Category, CategoryValues, Sex};
use passerelle_responder::index::{IndexBuilder, IndexReader};
use passerelle_responder::{Subject, INDEX_FILE};

fn nir(order: u32) -> Nir {
    nir::with_key(&format!("1550375056{order:03}")).unwrap()
}

/// A record whose quarters contributed say which record answered.
fn record(mark: u32) -> CategoryValues {
    CategoryValues { quarters_contributed: Some(mark), ..Default::default() }
}

fn person(current: u32, former: &[u32], sex: Sex, birth_year: u32) -> Subject {
    Subject::from(&v1::SolicitedPerson {
        person_ref: 0,
        nir: nir(current).as_str().into(),
        former_nirs: former.iter().map(|f| nir(*f).as_str().to_owned()).collect(),
        sex: sex as i32,
        birth_year,
    })
}

#[test]
fn candidates_in_order_body_current_before_body_former_and_a_mismatch_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = IndexBuilder::create(dir.path(), "cnav", &[Category::QuartersContributed]).unwrap();
    let m = Some(Sex::Male);
    // Record 1: current NIR 1, former NIR 2.   Record 3: current NIR 2 (the person's former one).
    b.add(&nir(1), &[], m, Some(1955), &record(1)).unwrap();
    b.add(&nir(5), &[nir(2)], m, Some(1955), &record(5)).unwrap();
    b.add(&nir(2), &[], m, Some(1955), &record(2)).unwrap();
    // Record 7 holds NIR 7 but is a woman; record 8 lists NIR 7 as its former NIR, and agrees.
    b.add(&nir(7), &[], Some(Sex::Female), Some(1955), &record(7)).unwrap();
    b.add(&nir(8), &[nir(7)], m, Some(1955), &record(8)).unwrap();
    // Record 9: NIR 9, born 1950; record 10: NIR 10, the person's former NIR, born 1955.
    b.add(&nir(9), &[], m, Some(1950), &record(9)).unwrap();
    b.add(&nir(10), &[], m, Some(1955), &record(10)).unwrap();
    // Record 11 lists NIR 12 as its former NIR; record 13 holds NIR 13.
    b.add(&nir(11), &[nir(12)], m, Some(1955), &record(11)).unwrap();
    b.add(&nir(13), &[], m, Some(1955), &record(13)).unwrap();
    b.commit().unwrap();
    let reader = IndexReader::new(dir.path().join(INDEX_FILE), "cnav");
    let subjects = [
        // The person's current NIR 1 is record 1's current NIR: record 1, not record 2 (which
        // holds the person's former NIR 2 as its current one).
        person(1, &[2], Sex::Male, 1955),
        // NIR 6 is nobody's; the former NIR 2 is record 2's current NIR (tried before record 5,
        // which holds it as a former NIR).
        person(6, &[2], Sex::Male, 1955),
        // NIR 7's current holder disagrees (sex): the same NIR as record 8's former NIR agrees.
        person(7, &[], Sex::Male, 1955),
        // NIR 9's holder disagrees (birth year): the next candidate, NIR 10, agrees.
        person(9, &[10], Sex::Male, 1955),
        // NIR 9's holder disagrees and no other candidate: not found, never record 9.
        person(9, &[], Sex::Male, 1955),
        // The person's current NIR 12, a former NIR of record 11, goes before their former NIR 13,
        // the current NIR of record 13.
        person(12, &[13], Sex::Male, 1955),
        // Unknown on the solicitation's side (sex unspecified, year 0): nothing can disagree.
        person(9, &[], Sex::Unspecified, 0),
    ];
    let answer = reader.lookup(&subjects, &[Category::QuartersContributed]).unwrap();
    let found: Vec<Option<u32>> =
        answer.persons.iter().map(|p| p.as_ref().and_then(|v| v.quarters_contributed)).collect();
    assert_eq!(found, [Some(1), Some(2), Some(8), Some(10), None, Some(11), Some(9)]);
}
