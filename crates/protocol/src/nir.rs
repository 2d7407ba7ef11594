//! NIR / NIA validation (art. 2, 1° a: "numéro d'inscription au répertoire national
//! d'identification des personnes physiques ou numéro identifiant d'attente").
//!
//! A NIR has 13 characters and a 2-digit control key:
//!
//! | positions | meaning | accepted values |
//! |---|---|---|
//! | 1 | sex | `1`, `2`; `3`, `4` (being registered) and `7`, `8` (provisional numbers) |
//! | 2–3 | last two digits of the birth year | `00`–`99` |
//! | 4–5 | birth month | `01`–`12`, `20`–`42` (fictitious and pseudo-fictitious), `50`–`99` |
//! | 6–10 | birth place | `dd` + commune `001`–`999` (including `20`, Corsica before 1976), `2A`/`2B` + `001`–`999`, `97x`/`98x` + `01`–`99`, `99` + country `001`–`999` |
//! | 11–13 | order number | `001`–`999` |
//! | 14–15 | key | 97 − (N mod 97), N the 13 characters with `2A`→`19` and `2B`→`18` |
//!
//! Sources: `domain-facts.md` §1 and §4 (python-stdnum `stdnum.fr.nir`, CNAM's `nir-validation`,
//! gip-inclusion/les-emplois). A sex or birth year that disagrees with the one declared next to
//! the NIR is *not* an error: NIAs and provisional numbers differ from the civil status.
//!
//! A NIR is personal data. [`Nir`]'s `Debug` is redacted and it has no `Display`, and no
//! [`NirError`] message ever contains the whole number, so neither can reach a log by accident.

use std::fmt;
use std::str::FromStr;

use crate::v1::Sex;

/// The number of characters of a NIR, key included.
pub const NIR_LEN: usize = 15;

/// The number of characters the key is computed from.
const BODY_LEN: usize = 13;

/// The modulus of the control key.
const KEY_MODULUS: u64 = 97;

/// The flags [`Nir::as_u64`] sets for the Corsican forms, above every 15-digit number
/// (10^15 < 2^50), so that `2A…` and `19…` (or `2B…` and `18…`) never share a value.
const CORSICA_2A_FLAG: u64 = 1 << 50;
const CORSICA_2B_FLAG: u64 = 1 << 51;

/// A valid NIR or NIA: 15 characters, no spaces, `2A`/`2B` in upper case.
///
/// `Debug` is redacted (it prints `Nir(…)`) and there is no `Display`: a NIR is written out only
/// through [`Nir::as_str`], on purpose, so that formatting a struct that holds one never leaks it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nir(String);

impl Nir {
    /// Validates a NIR or NIA. Whitespace anywhere is removed first (`1 84 12 75 123 456 78`) and
    /// a lower-case `2a`/`2b` is accepted. The first rule broken is reported, in the order
    /// length, characters, sex, month, place, order, key.
    pub fn parse(text: &str) -> Result<Nir, NirError> {
        let mut chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
        if chars.len() != NIR_LEN {
            return Err(NirError::Length { found: chars.len() });
        }
        if chars[5] == '2' && matches!(chars[6], 'a' | 'b') {
            chars[6] = chars[6].to_ascii_uppercase();
        }
        let corsican = chars[5] == '2' && matches!(chars[6], 'A' | 'B');
        for (index, &c) in chars.iter().enumerate() {
            if c.is_ascii_digit() || (index == 6 && corsican) {
                continue;
            }
            if index == 6 && chars[5] == '2' && c.is_alphabetic() {
                return Err(NirError::CorsicanDepartement { letter: c });
            }
            return Err(NirError::NotDigit { position: index + 1, character: c });
        }
        let nir: String = chars.into_iter().collect();
        let b = nir.as_bytes();

        if !matches!(b[0], b'1' | b'2' | b'3' | b'4' | b'7' | b'8') {
            return Err(NirError::SexDigit { digit: b[0] as char });
        }
        let month = two_digits(&b[3..5]);
        if !is_valid_month(month) {
            return Err(NirError::Month { month });
        }
        check_place(&nir[5..10])?;
        if &nir[10..13] == "000" {
            return Err(NirError::Order);
        }
        let key = two_digits(&b[13..15]);
        let expected = compute_key(&nir[..BODY_LEN]).expect("the 13 characters were checked above");
        if !(1..=97).contains(&key) {
            return Err(NirError::KeyOutOfRange { key, expected });
        }
        if key != expected {
            return Err(NirError::Key { key, expected });
        }
        Ok(Nir(nir))
    }

    /// The 15 characters, the only way to write a NIR out.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the sex digit marks a number that is not (yet) a definitive NIR: `3`/`4` (being
    /// registered) or `7`/`8` (provisional). Information for the caller, never an error.
    pub fn is_provisional(&self) -> bool {
        matches!(self.0.as_bytes()[0], b'3' | b'4' | b'7' | b'8')
    }

    /// The sex the number encodes: `1`, `3`, `7` male; `2`, `4`, `8` female. It may disagree with
    /// the declared sex (NIAs, provisional numbers); that is not an error.
    pub fn sex(&self) -> Sex {
        match self.0.as_bytes()[0] {
            b'1' | b'3' | b'7' => Sex::Male,
            _ => Sex::Female,
        }
    }

    /// The last two digits of the birth year (positions 2–3). The century cannot be recovered.
    pub fn year_digits(&self) -> u8 {
        two_digits(&self.0.as_bytes()[1..3])
    }

    /// The birth month field (positions 4–5) as written: `01`–`12`, or a fictitious month.
    pub fn month_digits(&self) -> u8 {
        two_digits(&self.0.as_bytes()[3..5])
    }

    /// The birth month the NIR gives (1–12): the month field itself for `01`–`12`, the field
    /// minus 30 for the pseudo-fictitious `31`–`42` (an incomplete civil-status record that still
    /// gives the month); `None` for the fictitious `20`–`30` and `50`–`99` (no month known).
    pub fn birth_month(&self) -> Option<u8> {
        match self.month_digits() {
            m @ 1..=12 => Some(m),
            m @ 31..=42 => Some(m - 30),
            _ => None,
        }
    }

    /// The NIR as one number, for duplicate detection in bounded memory (8 bytes a person).
    ///
    /// The 15 characters are read as a decimal number with `2A` → `19` and `2B` → `18`, as for
    /// the key; since a Corsican NIR would then collide with a NIR born in département 19 or 18
    /// with the same digits, a flag bit above every 15-digit number (bit 50 for `2A`, 51 for
    /// `2B`) is added. The mapping is therefore injective over valid NIRs.
    pub fn as_u64(&self) -> u64 {
        let b = self.0.as_bytes();
        let flag = match b[6] {
            b'A' => CORSICA_2A_FLAG,
            b'B' => CORSICA_2B_FLAG,
            _ => 0,
        };
        digits_value(b).expect("a valid NIR has only digits besides 2A/2B") + flag
    }
}

impl fmt::Debug for Nir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nir(…)")
    }
}

impl FromStr for Nir {
    type Err = NirError;

    fn from_str(text: &str) -> Result<Nir, NirError> {
        Nir::parse(text)
    }
}

/// The control key of the first 13 characters of a NIR: 97 − (N mod 97), N read with `2A` →
/// `19` and `2B` → `18` at positions 6–7 (a lower-case letter is accepted). `None` if the text
/// is not 13 digits (or 13 characters with `2A`/`2B` at positions 6–7). Only the characters are
/// checked, not the other rules (month, place…): see [`Nir::parse`].
pub fn compute_key(first13: &str) -> Option<u8> {
    let b = first13.as_bytes();
    if b.len() != BODY_LEN {
        return None;
    }
    let n = digits_value(b)?;
    Some((KEY_MODULUS - n % KEY_MODULUS) as u8)
}

/// Completes 13 characters with their key and validates the result: for synthetic data and
/// tests. `None` if the 13 characters cannot form a valid NIR.
pub fn with_key(first13: &str) -> Option<Nir> {
    let key = compute_key(first13)?;
    Nir::parse(&format!("{first13}{key:02}")).ok()
}

/// Why a text is not a valid NIR. No message contains the whole number: at most the one field
/// at fault, so that an error can be logged or shown next to a line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NirError {
    /// Not 15 characters once whitespace is removed.
    #[error("the NIR must have 15 characters, found {found}")]
    Length {
        /// The number of characters found (whitespace excluded).
        found: usize,
    },
    /// A character that is not a digit, outside the `2A`/`2B` of Corsica.
    #[error("the NIR's character {character:?} at position {position} is not a digit")]
    NotDigit {
        /// 1-based position among the 15 characters.
        position: usize,
        /// The offending character (one character says nothing about the person).
        character: char,
    },
    /// `2` followed by a letter other than `A` or `B` at positions 6–7.
    #[error("the birth département 2{letter} is not valid (Corsica is 2A or 2B)")]
    CorsicanDepartement {
        /// The letter found after the `2`.
        letter: char,
    },
    /// A sex digit outside {1, 2, 3, 4, 7, 8}.
    #[error("sex digit {digit} is not valid (1, 2, 3, 4, 7 or 8)")]
    SexDigit {
        /// The first character.
        digit: char,
    },
    /// A birth month outside 01–12, 20–42 and 50–99.
    #[error("the birth month {month:02} is not valid (01-12, 20-42 or 50-99)")]
    Month {
        /// Positions 4–5.
        month: u8,
    },
    /// Birth département `00`.
    #[error("the birth département 00 is not valid (01-99, 2A or 2B)")]
    Departement,
    /// Birth commune `000` (`dd`/`2A`/`2B` form) or `00` (`97x`/`98x` form).
    #[error("the birth commune {commune} is not valid ({expected})")]
    Commune {
        /// The commune digits as written (3 or 2 of them).
        commune: String,
        /// The accepted range.
        expected: &'static str,
    },
    /// Country code `000` after département `99` (born abroad).
    #[error("the country of birth 000 is not valid (001-999 after département 99)")]
    Country,
    /// Order number `000`.
    #[error("the order number 000 is not valid (001-999)")]
    Order,
    /// A key of `00`, `98` or `99`, which the formula never gives.
    #[error("the NIR's key {key:02} is not valid (01-97); it should be {expected:02} for this number")]
    KeyOutOfRange {
        /// The key found.
        key: u8,
        /// The key of the first 13 characters.
        expected: u8,
    },
    /// A key that does not match the first 13 characters: usually a typing error.
    #[error("the NIR's key is {key:02} but should be {expected:02} for this number")]
    Key {
        /// The key found.
        key: u8,
        /// The key of the first 13 characters.
        expected: u8,
    },
}

/// Months 01–12, fictitious 20–30 and 50–99, pseudo-fictitious 31–42 (month + 30).
fn is_valid_month(month: u8) -> bool {
    matches!(month, 1..=12 | 20..=42 | 50..=99)
}

/// The 5 characters of the birth place, already known to be digits (or `2A`/`2B`).
fn check_place(place: &str) -> Result<(), NirError> {
    let (departement, rest) = place.split_at(2);
    match departement {
        "00" => Err(NirError::Departement),
        "97" | "98" => match &rest[1..] {
            "00" => Err(NirError::Commune { commune: "00".into(), expected: "01-99 after an overseas département" }),
            _ => Ok(()),
        },
        "99" if rest == "000" => Err(NirError::Country),
        _ if rest == "000" => Err(NirError::Commune { commune: "000".into(), expected: "001-999" }),
        _ => Ok(()),
    }
}

/// Two ASCII digits as a number.
fn two_digits(b: &[u8]) -> u8 {
    (b[0] - b'0') * 10 + (b[1] - b'0')
}

/// The decimal value of digits, with `2A` → `19` and `2B` → `18` at positions 6–7 (a lower-case
/// letter accepted); `None` on any other character.
fn digits_value(b: &[u8]) -> Option<u64> {
    let corsica = b.len() > 6 && b[5] == b'2';
    let mut n: u64 = 0;
    for (index, &c) in b.iter().enumerate() {
        let digit = match c {
            b'0'..=b'9' => {
                if index == 5 && corsica && b[6].is_ascii_alphabetic() {
                    1
                } else {
                    u64::from(c - b'0')
                }
            }
            b'A' | b'a' if index == 6 && corsica => 9,
            b'B' | b'b' if index == 6 && corsica => 8,
            _ => return None,
        };
        n = n * 10 + digit;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A synthetic valid NIR: a man born in May 1984 in 75 (commune 123), order 456.
    fn sample() -> Nir {
        with_key("1840575123456").expect("valid")
    }

    /// The NIR of `sample()` with its two key characters replaced.
    fn with_key_text(key: &str) -> String {
        format!("1840575123456{key}")
    }

    #[test]
    fn key_formula_matches_a_hand_computation() {
        // 1840575123456 mod 97 = 72, so the key is 97 - 72 = 25 (python-stdnum's formula).
        assert_eq!(1_840_575_123_456u64 % 97, 72);
        assert_eq!(compute_key("1840575123456"), Some(25));
        assert_eq!(sample().as_str(), "184057512345625");
    }

    #[test]
    fn agrees_with_python_stdnum_documented_examples() {
        // The doctest examples of python-stdnum's `stdnum/fr/nir.py` (library examples, not
        // persons): three valid numbers, one of them 2A and one 2B, and a wrong check digit.
        for valid in ["2 95 10 99 126 111 93", "253072B07300470", "253072A07300443"] {
            assert!(Nir::parse(valid).is_ok(), "{valid}");
        }
        assert_eq!(Nir::parse("295109912611199"), Err(NirError::KeyOutOfRange { key: 99, expected: 93 }));
    }

    #[test]
    fn corsica_is_read_positionally() {
        // 2A → 19 and 2B → 18 at positions 6–7 only.
        assert_eq!(compute_key("28402A1230"), None, "13 characters needed");
        let a = compute_key("184052A123456").unwrap();
        assert_eq!(u64::from(a), 97 - 1_840_519_123_456 % 97);
        let b = compute_key("184052B123456").unwrap();
        assert_eq!(u64::from(b), 97 - 1_840_518_123_456 % 97);
        assert_eq!(compute_key("184052a123456"), Some(a));
        assert_eq!(compute_key("184052C123456"), None);
        assert_eq!(compute_key("1840A21234567"), None, "a letter elsewhere is malformed");
        assert!(with_key("184052A123456").is_some());
    }

    #[test]
    fn spaces_and_lower_case_corsica_are_accepted() {
        let nir = with_key("184052A123456").unwrap();
        let spaced = format!(
            "{} {} {} {} {} {}",
            &nir.as_str()[0..1],
            &nir.as_str()[1..3],
            &nir.as_str()[3..5],
            &nir.as_str()[5..7].to_lowercase(),
            &nir.as_str()[7..10],
            &nir.as_str()[10..]
        );
        assert_eq!(Nir::parse(&spaced), Ok(nir.clone()));
        assert_eq!(spaced.parse::<Nir>(), Ok(nir.clone()));
        assert!(nir.as_str().contains("2A"));
    }

    #[test]
    fn invalid_vectors_of_domain_facts() {
        assert_eq!(Nir::parse(&with_key_text("00")), Err(NirError::KeyOutOfRange { key: 0, expected: 25 }));
        assert_eq!(Nir::parse(&with_key_text("98")), Err(NirError::KeyOutOfRange { key: 98, expected: 25 }));
        assert_eq!(Nir::parse(&with_key_text("42")), Err(NirError::Key { key: 42, expected: 25 }));
        let sex9 = format!("9840575123456{:02}", compute_key("9840575123456").unwrap());
        assert_eq!(Nir::parse(&sex9), Err(NirError::SexDigit { digit: '9' }));
        let month13 = format!("1841375123456{:02}", compute_key("1841375123456").unwrap());
        assert_eq!(Nir::parse(&month13), Err(NirError::Month { month: 13 }));
        assert_eq!(Nir::parse("18405 2C123456 12"), Err(NirError::CorsicanDepartement { letter: 'C' }));
        assert_eq!(Nir::parse("18405751234561"), Err(NirError::Length { found: 14 }));
        assert_eq!(Nir::parse("1840575123456120"), Err(NirError::Length { found: 16 }));
    }

    #[test]
    fn other_invalid_fields() {
        let invalid = |first13: &str| {
            let key = compute_key(first13).unwrap();
            Nir::parse(&format!("{first13}{key:02}")).unwrap_err()
        };
        assert_eq!(invalid("5840575123456"), NirError::SexDigit { digit: '5' });
        assert_eq!(invalid("0840575123456"), NirError::SexDigit { digit: '0' });
        assert_eq!(invalid("1840075123456"), NirError::Month { month: 0 });
        assert_eq!(invalid("1844375123456"), NirError::Month { month: 43 });
        assert_eq!(invalid("1844975123456"), NirError::Month { month: 49 });
        assert_eq!(invalid("1840500123456"), NirError::Departement);
        assert_eq!(invalid("1840575000456"), NirError::Commune { commune: "000".into(), expected: "001-999" });
        assert!(matches!(invalid("1840597100456"), NirError::Commune { .. }));
        assert_eq!(invalid("1840599000456"), NirError::Country);
        assert_eq!(invalid("1840575123000"), NirError::Order);
        assert_eq!(Nir::parse("1840575X2345612"), Err(NirError::NotDigit { position: 8, character: 'X' }));
        assert_eq!(Nir::parse("184053A12345612"), Err(NirError::NotDigit { position: 7, character: 'A' }));
    }

    #[test]
    fn accepted_forms() {
        for first13 in [
            "1840520123456", // 20: Corsica before 1976
            "2842097312456", // fictitious month 20, overseas 973 + 12
            "3843198712456", // pseudo-fictitious month, COM 987
            "4845099352001", // month 50, born abroad (country 352)
            "7849996101999", // month 99, 96 (Tunisia before independence)
            "884122B001001", // 2B
        ] {
            let nir = with_key(first13).unwrap_or_else(|| panic!("{first13} should be valid"));
            assert_eq!(&nir.as_str()[..13], first13);
        }
    }

    #[test]
    fn the_birth_month_reads_pseudo_fictitious_months_and_not_fictitious_ones() {
        let month = |mm: &str| with_key(&format!("184{mm}75123456")).unwrap().birth_month();
        assert_eq!(month("01"), Some(1));
        assert_eq!(month("12"), Some(12));
        assert_eq!(month("31"), Some(1), "31 is January");
        assert_eq!(month("42"), Some(12), "42 is December");
        for fictitious in ["20", "30", "50", "99"] {
            assert_eq!(month(fictitious), None, "{fictitious}");
        }
    }

    #[test]
    fn accessors() {
        let nir = sample();
        assert_eq!(nir.sex(), Sex::Male);
        assert!(!nir.is_provisional());
        assert_eq!(nir.year_digits(), 84);
        assert_eq!(nir.month_digits(), 5);
        assert_eq!(nir.birth_month(), Some(5));
        let provisional = with_key("8840575123456").unwrap();
        assert_eq!(provisional.sex(), Sex::Female);
        assert!(provisional.is_provisional());
        assert_eq!(with_key("3840575123456").unwrap().sex(), Sex::Male);
        assert_eq!(with_key("4840575123456").unwrap().sex(), Sex::Female);
        assert_eq!(with_key("7840575123456").unwrap().sex(), Sex::Male);
    }

    #[test]
    fn debug_is_redacted_and_errors_never_hold_the_number() {
        let nir = sample();
        assert_eq!(format!("{nir:?}"), "Nir(…)");
        assert_eq!(format!("{:?}", Some(&nir)), "Some(Nir(…))");
        for text in [
            with_key_text("42"),
            with_key_text("98"),
            "18405751234561".to_string(),
            "1840575123456120".to_string(),
            "1840575X2345612".to_string(),
        ] {
            let error = Nir::parse(&text).unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains(&text[..13]), "{shown}");
        }
        assert_eq!(
            Nir::parse(&with_key_text("42")).unwrap_err().to_string(),
            "the NIR's key is 42 but should be 25 for this number"
        );
        assert_eq!(
            NirError::Month { month: 13 }.to_string(),
            "the birth month 13 is not valid (01-12, 20-42 or 50-99)"
        );
        assert_eq!(NirError::Length { found: 14 }.to_string(), "the NIR must have 15 characters, found 14");
    }

    #[test]
    fn as_u64_separates_corsica_from_18_and_19() {
        let a = with_key("184052A123456").unwrap();
        let b = with_key("184052B123456").unwrap();
        // The same digits with 19 and 18: valid NIRs whose keys equal the Corsican ones.
        let nineteen = Nir::parse(&format!("1840519123456{}", &a.as_str()[13..])).unwrap();
        let eighteen = Nir::parse(&format!("1840518123456{}", &b.as_str()[13..])).unwrap();
        let values = [a.as_u64(), b.as_u64(), nineteen.as_u64(), eighteen.as_u64()];
        for (i, x) in values.iter().enumerate() {
            for y in &values[i + 1..] {
                assert_ne!(x, y);
            }
        }
        assert_eq!(sample().as_u64(), 184_057_512_345_625);
    }

    /// Any valid NIR: every sex digit, month and place form of the rules.
    fn valid_first13() -> impl Strategy<Value = String> {
        let sex = prop::sample::select(vec!['1', '2', '3', '4', '7', '8']);
        let month = prop_oneof![1u8..=12, 20u8..=42, 50u8..=99];
        let place = prop_oneof![
            (1u8..=96, 1u16..=999).prop_map(|(d, c)| format!("{d:02}{c:03}")),
            (prop::sample::select(vec!["2A", "2B"]), 1u16..=999).prop_map(|(d, c)| format!("{d}{c:03}")),
            (970u16..=989, 1u8..=99).prop_map(|(d, c)| format!("{d}{c:02}")),
            (1u16..=999).prop_map(|c| format!("99{c:03}")),
        ];
        (sex, 0u8..=99, month, place, 1u16..=999).prop_map(|(s, y, m, p, o)| format!("{s}{y:02}{m:02}{p}{o:03}"))
    }

    proptest! {
        #[test]
        fn every_generated_valid_nir_parses(first13 in valid_first13()) {
            let key = compute_key(&first13).unwrap();
            prop_assert!((1..=97).contains(&key));
            let text = format!("{first13}{key:02}");
            let nir = Nir::parse(&text);
            prop_assert!(nir.is_ok(), "{:?}", nir);
            let nir = nir.unwrap();
            prop_assert_eq!(nir.as_str(), text.as_str());
        }

        #[test]
        fn changing_any_one_digit_fails(first13 in valid_first13(), position in 0usize..15, shift in 1u8..=9) {
            let text = format!("{first13}{:02}", compute_key(&first13).unwrap());
            let mut bytes = text.into_bytes();
            prop_assume!(bytes[position].is_ascii_digit());
            bytes[position] = b'0' + (bytes[position] - b'0' + shift) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(Nir::parse(&changed).is_err());
        }

        #[test]
        fn as_u64_is_injective(x in valid_first13(), y in valid_first13()) {
            let x = with_key(&x).unwrap();
            let y = with_key(&y).unwrap();
            prop_assert_eq!(x == y, x.as_u64() == y.as_u64());
        }
    }
}
