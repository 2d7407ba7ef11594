//! An extract index written by an earlier build (`tests/fixtures/extract-index.sqlite`, made by
//! `passerelle responder load` from `tests/fixtures/extract-cnam.csv`, synthetic NIRs only)
//! still opens and answers as it did: a responder upgraded in place keeps answering from the
//! extract it had loaded, without a reload.

use std::path::PathBuf;

use passerelle_protocol::nir::{self, Nir};
use passerelle_protocol::v1::{Category, Sex};
use passerelle_responder::index::IndexReader;
use passerelle_responder::{Subject, INDEX_FILE};

/// The index as `responder load` wrote it, copied to a folder of its own (a reader never
/// writes, but a test must not be able to change the committed file).
fn fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(INDEX_FILE);
    std::fs::copy(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(INDEX_FILE), &path).unwrap();
    // Git checks files out 0644; an index must be 0600 to be opened.
    passerelle_sqlite::private::restrict(&path).unwrap();
    (dir, path)
}

/// The fixture's men born in 1955 in March in the Aisne: order numbers 1, 2, 4, 5 (and the
/// former NIRs 11, 44 and 55).
fn man(order: u32) -> Nir {
    nir::with_key(&format!("1550375056{order:03}")).unwrap()
}

/// The fixture's woman born in 1948: order number 3 (former NIR 33).
fn woman(order: u32) -> Nir {
    nir::with_key(&format!("2480313055{order:03}")).unwrap()
}

fn subject(nirs: &[Nir], sex: Option<Sex>, birth_year: Option<u32>) -> Subject {
    Subject { nirs: nirs.to_vec(), sex, birth_year }
}

#[test]
fn an_index_written_by_an_earlier_build_still_answers() {
    let (_dir, path) = fixture();
    let reader = IndexReader::new(path, "cnam");
    let info = reader.info().unwrap();
    assert_eq!(
        (info.body.as_str(), info.extract_id.as_str(), info.persons),
        ("cnam", "01a24d78-5f3d-77a9-bf20-1d679e440fd2", 5)
    );
    assert_eq!(info.held.len(), 9, "cnam's default holdings when it was loaded: {:?}", info.held);
    assert!(info.held.contains(&Category::LongTermCondition));

    let asked = [Category::Css, Category::LongTermCondition, Category::ComplementaryCover];
    let subjects = [
        subject(&[man(1)], Some(Sex::Male), Some(1955)),      // by NIR
        subject(&[man(11)], None, None),                      // by the extract's former NIR
        subject(&[man(99), man(2)], Some(Sex::Female), None), // the extract knows no identity
        subject(&[woman(3)], Some(Sex::Female), Some(1948)),  // by NIR
        subject(&[woman(33)], Some(Sex::Male), None),         // sex disagrees
        subject(&[man(44)], None, None),                      // claimed by two persons: nobody
        subject(&[man(55)], None, None),                      // person 5's second former NIR
        subject(&[man(77)], None, None),                      // unknown
    ];
    let answer = reader.lookup(&subjects, &asked).unwrap();
    assert_eq!(answer.generation.as_deref(), Some("01a24d78-5f3d-77a9-bf20-1d679e440fd2"));
    // Per person found: (css, long_term_condition, complementary_cover).
    type Flags = (Option<bool>, Option<bool>, Option<bool>);
    let found: Vec<Option<Flags>> = answer
        .persons
        .iter()
        .map(|p| p.as_ref().map(|v| (v.css, v.long_term_condition, v.complementary_cover)))
        .collect();
    assert_eq!(
        found,
        vec![
            Some((Some(false), Some(true), Some(true))),
            Some((Some(false), Some(true), Some(true))),
            Some((Some(true), Some(false), None)),
            Some((Some(true), Some(true), Some(true))),
            None,
            None,
            Some((Some(true), Some(true), Some(false))),
            None,
        ]
    );
    // Only what was asked comes back.
    let only_css = reader.lookup(&subjects[..1], &[Category::Css]).unwrap();
    let values = only_css.persons[0].as_ref().unwrap();
    assert_eq!((values.css, values.long_term_condition), (Some(false), None));
}
