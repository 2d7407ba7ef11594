//! What the `operator` role must never see (DESIGN §7.1): the synthetic persons of the stack as
//! its selection and extracts hold them — every NIR and former NIR, every name, address, e-mail
//! and phone, and every category value distinctive enough to be told apart from the page's own
//! words (a date, an amount, a word of the value lists; not `true`, `none` or a small number).

use std::collections::BTreeSet;
use std::path::Path;

/// The selection's columns naming the person (the others are categories, or the sex, the year
/// of birth and the commune, which alone name nobody).
const IDENTITY: [&str; 6] = ["family_name", "usage_name", "given_names", "postal_address", "email", "phone"];
/// Columns that are neither names nor category values.
const NEUTRAL: [&str; 5] = ["nir", "former_nirs", "sex", "birth_year", "commune_code"];
/// Values too common to be a person's.
const COMMON: [&str; 8] = ["true", "false", "none", "yes", "no", "other", "unknown", "oui"];

/// What to look for in a page.
#[derive(Debug, Default)]
pub struct Needles {
    /// NIRs (15 characters), looked for in the text with its spaces removed.
    pub nirs: BTreeSet<String>,
    /// Names and contact data, and category values, looked for as whole words.
    pub words: BTreeSet<String>,
}

impl Needles {
    /// From the selection and the extracts of a population folder.
    pub fn of_population(dir: &Path) -> Needles {
        let mut needles = Needles::default();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "csv") {
                needles.add_file(&path);
            }
        }
        assert!(!needles.nirs.is_empty(), "no person in {}", dir.display());
        needles
    }

    fn add_file(&mut self, path: &Path) {
        let mut reader = csv::Reader::from_path(path).unwrap();
        let headers = reader.headers().unwrap().clone();
        for record in reader.records() {
            let record = record.unwrap();
            for (header, value) in headers.iter().zip(record.iter()) {
                let value = value.trim();
                if value.is_empty() {
                    continue;
                }
                match header.trim() {
                    "nir" | "former_nirs" => {
                        self.nirs.extend(value.split('|').map(|n| n.replace(' ', "")).filter(|n| n.len() == 15));
                    }
                    h if IDENTITY.contains(&h) => {
                        self.words.insert(value.to_owned());
                        if h.ends_with("names") || h.ends_with("_name") {
                            self.words
                                .extend(value.split([' ', '-']).filter(|w| w.chars().count() >= 4).map(str::to_owned));
                        }
                    }
                    h if NEUTRAL.contains(&h) => {}
                    _ if distinctive(value) => {
                        self.words.insert(value.to_owned());
                    }
                    _ => {}
                }
            }
        }
    }

    /// What of the needles `text` holds (a page's HTML, entities decoded, or its rendered text).
    pub fn found_in(&self, text: &str) -> Vec<String> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let mut found: Vec<String> = self.nirs.iter().filter(|n| compact.contains(n.as_str())).cloned().collect();
        found.extend(self.words.iter().filter(|w| has_word(text, w)).cloned());
        found
    }
}

/// A category value that cannot be mistaken for a page's own words: a date, an amount, a long
/// number, a word of a value list.
fn distinctive(value: &str) -> bool {
    if COMMON.contains(&value.to_ascii_lowercase().as_str()) {
        return false;
    }
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let letters = value.chars().filter(|c| c.is_alphabetic()).count();
    (letters >= 5) || (letters == 0 && digits >= 5)
}

/// Whether `text` holds `word` with no letter or digit just before or after it.
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[test]
fn needles_are_found_as_whole_words_and_nirs_across_spaces() {
    let needles = Needles {
        nirs: ["267028568236015".to_owned()].into(),
        words: ["Dubois".to_owned(), "1996-12-01".to_owned()].into(),
    };
    assert!(needles.found_in("Personne 2 67 02 85 682 360 15").len() == 1);
    assert!(needles.found_in("M. Dubois, né").len() == 1);
    assert!(needles.found_in("Duboisier 21996-12-015").is_empty());
    assert!(distinctive("1996-12-01") && distinctive("14250.50") && distinctive("married"));
    assert!(!distinctive("true") && !distinctive("130") && !distinctive("none"));
}
