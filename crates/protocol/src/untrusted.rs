//! Text that came from outside — a message's headers and properties (queue names, message and
//! correlation ids, user ids, types, routing keys, exchanges), sender-written ids and reasons —
//! as logs, reasons and the operators' tools show it. [`Shown`] is the one way to print such a
//! value: the sender chooses its bytes, so printed as is it could forge log lines (newlines,
//! terminal escapes), fill a disk (a megabyte header) or put personal data in a log (a NIR or a
//! name written where an id belongs).
//!
//! [`Shown::text`] (free text) is bounded to [`SHOWN_CHARS`] characters with an ellipsis and the
//! original length, escapes control and invisible characters, and masks every NIR-shaped run of
//! digits: 13 digits or more, counting the Corsican `2A`/`2B` as digits and allowing up to three
//! separators (spaces, dots, dashes…) between them, so `1 84 05 2A 123 456 25` is masked as well
//! as `184052A12345625`. A run longer than a NIR is masked too: it may hold one. The dashes of a
//! UUID written in its canonical form (8-4-4-4-12 hexadecimal digits) end a run rather than
//! separate it: every message and case id of the exchange is such a UUID, one in fifty random
//! ones has 13 digits across its dashes, and a NIR split at exactly those places is no mistake
//! a sender makes. A UUID is therefore always shown whole.
//!
//! [`Shown::id`] (an identifier) shows the value only when it has the shape of one — a UUID, or
//! lower-case letters, digits, `.`, `-`, `_`, `:` (codes, queue names) — and no NIR-shaped run;
//! anything else is withheld with its length. A name written where an id belongs (capitals,
//! spaces, accents) is therefore never printed.

use std::fmt::{self, Write as _};

/// How many characters of an outside value a log line shows by default: enough for any id,
/// code or queue name of the deployment.
pub const SHOWN_CHARS: usize = 120;

/// How many characters of a reason a log line shows: a reason the daemon wrote may quote
/// outside ids and list several problems, so it gets more room than one value.
pub const REASON_CHARS: usize = 400;

/// The fewest digits a masked run has: a NIR without its key.
const NIR_RUN_DIGITS: usize = 13;

/// The most separator characters between two digits of one run (`1 - 84`).
const MAX_SEPARATORS: usize = 3;

/// How far past the shown part the masking looks, so that a run cut by the bound is still
/// counted whole: 13 digits each with its separators.
const LOOKAHEAD: usize = NIR_RUN_DIGITS * (MAX_SEPARATORS + 1);

/// An outside value ready to be logged; see the module documentation. `Display` and `Debug`
/// (quoted) both print the safe form, never the raw text.
#[derive(Clone, Copy)]
pub struct Shown<'a> {
    text: &'a str,
    form: Form,
    limit: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Text,
    Id,
}

impl<'a> Shown<'a> {
    /// Free text (a reason, a header): bounded, escaped, NIR-shaped runs masked.
    pub fn text(text: &'a str) -> Shown<'a> {
        Shown { text, form: Form::Text, limit: SHOWN_CHARS }
    }

    /// An identifier (message id, case id, queue, user, type): shown when it has the shape of
    /// one ([`is_identifier`]), withheld with its length otherwise.
    pub fn id(text: &'a str) -> Shown<'a> {
        Shown { text, form: Form::Id, limit: SHOWN_CHARS }
    }

    /// The same value bounded to `chars` characters instead of [`SHOWN_CHARS`] (a reason the
    /// daemon wrote itself may be longer than an id).
    pub fn at_most(self, chars: usize) -> Shown<'a> {
        Shown { limit: chars, ..self }
    }
}

/// Whether a text has the shape of an identifier of the exchange: a UUID (any case), or 1 to
/// [`SHOWN_CHARS`] lower-case ASCII letters, digits, `.`, `-`, `_` and `:` — and holds no
/// NIR-shaped run of digits.
pub fn is_identifier(text: &str) -> bool {
    let shaped = uuid::Uuid::try_parse(text).is_ok()
        || (!text.is_empty()
            && text.len() <= SHOWN_CHARS
            && text.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b':')));
    shaped && !has_nir_run(text)
}

/// Whether a text holds a NIR-shaped run of digits (see the module documentation).
pub fn has_nir_run(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    !masked_positions(&chars).is_empty()
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.form {
            Form::Id if is_identifier(self.text) => write_bounded(f, self.text, self.limit),
            Form::Id => {
                let head: String = self.text.chars().take(SHOWN_CHARS + LOOKAHEAD).collect();
                let what = if has_nir_run(&head) { "holds what looks like a NIR" } else { "not an identifier" };
                write!(f, "(withheld: {} characters, {what})", self.text.chars().count())
            }
            Form::Text => write_bounded(f, self.text, self.limit),
        }
    }
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Writes `text` masked and escaped, at most `limit` characters of output, then `…[N chars]`
/// if anything was left out.
fn write_bounded(f: &mut fmt::Formatter<'_>, text: &str, limit: usize) -> fmt::Result {
    let window: Vec<char> = text.chars().take(limit.saturating_add(LOOKAHEAD)).collect();
    let masked = masked_positions(&window);
    let mut written = 0;
    let mut piece = String::with_capacity(12);
    for (index, &c) in window.iter().enumerate() {
        piece.clear();
        if masked.binary_search(&index).is_ok() {
            piece.push('#');
        } else {
            escape(c, &mut piece);
        }
        let len = piece.chars().count();
        if written + len > limit {
            return write!(f, "…[{} chars]", text.chars().count());
        }
        f.write_str(&piece)?;
        written += len;
    }
    if window.len() < text.chars().count() {
        write!(f, "…[{} chars]", text.chars().count())?;
    }
    Ok(())
}

/// One character as a log shows it: backslash, control and invisible characters (line and
/// paragraph separators, bidirectional overrides, zero-width characters) escaped.
fn escape(c: char, out: &mut String) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() || is_invisible(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Format characters that change how a line reads without showing themselves.
fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x061C | 0x180E | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB)
}

/// The length of a canonical UUID (`8-4-4-4-12`).
const UUID_CHARS: usize = 36;

/// The positions of the dashes of every canonical UUID in `chars` (sorted): hard ends of a run.
fn uuid_dashes(chars: &[char]) -> Vec<usize> {
    let mut dashes = Vec::new();
    let mut i = 0;
    while i + UUID_CHARS <= chars.len() {
        let span = &chars[i..i + UUID_CHARS];
        let shaped = span.iter().enumerate().all(|(k, c)| match k {
            8 | 13 | 18 | 23 => *c == '-',
            _ => c.is_ascii_hexdigit(),
        });
        let alone = (i == 0 || !chars[i - 1].is_alphanumeric())
            && chars.get(i + UUID_CHARS).is_none_or(|c| !c.is_alphanumeric());
        if shaped && alone {
            dashes.extend([i + 8, i + 13, i + 18, i + 23]);
            i += UUID_CHARS;
        } else {
            i += 1;
        }
    }
    dashes
}

/// The sorted positions of the digits (and Corsican letters) of every NIR-shaped run.
fn masked_positions(chars: &[char]) -> Vec<usize> {
    let uuid_dashes = uuid_dashes(chars);
    let mut masked = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_numeric() {
            i += 1;
            continue;
        }
        let mut digits = vec![i];
        let mut j = i + 1;
        loop {
            match chars.get(j) {
                Some(c) if c.is_numeric() => {
                    digits.push(j);
                    j += 1;
                }
                Some('A' | 'B' | 'a' | 'b')
                    if chars[j - 1] == '2' && !chars.get(j + 1).is_some_and(|c| c.is_alphabetic()) =>
                {
                    digits.push(j);
                    j += 1;
                }
                Some(_) => {
                    let gap = chars[j..].iter().take(MAX_SEPARATORS + 1).take_while(|c| !c.is_alphanumeric()).count();
                    if gap == 0
                        || gap > MAX_SEPARATORS
                        || !chars.get(j + gap).is_some_and(|c| c.is_numeric())
                        || (j..j + gap).any(|k| uuid_dashes.binary_search(&k).is_ok())
                    {
                        break;
                    }
                    j += gap;
                }
                None => break,
            }
        }
        if digits.len() >= NIR_RUN_DIGITS {
            masked.extend(digits);
        }
        i = j;
    }
    masked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nir::with_key;

    fn text(s: &str) -> String {
        Shown::text(s).to_string()
    }

    #[test]
    fn every_written_form_of_a_nir_is_masked() {
        let nir = with_key("1840575123456").unwrap();
        let corsican = with_key("184052A123456").unwrap();
        let n = nir.as_str();
        let c = corsican.as_str();
        let forms = [
            n.to_owned(),
            c.to_owned(),
            c.to_lowercase(),
            n[..13].to_owned(),
            format!("{} {} {} {} {} {} {}", &n[0..1], &n[1..3], &n[3..5], &n[5..7], &n[7..10], &n[10..13], &n[13..]),
            format!("{}.{}.{}.{}.{}.{}.{}", &c[0..1], &c[1..3], &c[3..5], &c[5..7], &c[7..10], &c[10..13], &c[13..]),
            format!("{} - {} - {}", &n[..5], &n[5..10], &n[10..]),
            format!("{}\n{}\u{7}\u{202e}{}", &n[..5], &n[5..10], &n[10..]),
            format!("{n}999"),
        ];
        for form in forms {
            let shown = text(&format!("Marie DUPONT {form} x"));
            // The digits of an escape (`\u{7}`) are the escape's, not the NIR's.
            let unescaped =
                shown.split("\\u{").map(|p| p.split_once('}').map_or(p, |(_, rest)| rest)).collect::<String>();
            let digits: String = unescaped.chars().filter(char::is_ascii_digit).collect();
            assert!(digits.is_empty(), "{form:?} shown as {shown:?}");
            assert!(shown.starts_with("Marie DUPONT #"), "{shown:?}");
            assert!(has_nir_run(&form), "{form:?}");
        }
        assert_eq!(text(n), "###############");
        assert_eq!(text(c), "###############");
    }

    proptest::proptest! {
        /// Any run of 13 to 15 digits, grouped by up to three separators of any kind, between
        /// words: none of its digits is shown, and the output stays within the bound.
        #[test]
        fn any_grouped_run_of_13_to_15_digits_is_masked(
            digits in "[0-9]{13,15}",
            cuts in proptest::collection::vec(1usize..15, 0..6),
            separator in "[ .\\-_/\n\t\u{a0}\u{202f}]{1,3}",
            before in "[a-zA-Zé ]{0,20}",
            after in "[a-zA-Zé ]{0,20}",
        ) {
            let mut grouped = String::new();
            for (i, d) in digits.chars().enumerate() {
                if i > 0 && cuts.contains(&i) {
                    grouped.push_str(&separator);
                }
                grouped.push(d);
            }
            let shown = text(&format!("{before}{grouped}{after}"));
            proptest::prop_assert!(!shown.chars().any(|c| c.is_ascii_digit()), "{:?} shown as {:?}", grouped, shown);
            proptest::prop_assert!(shown.chars().count() <= SHOWN_CHARS + 20);
        }
    }

    #[test]
    fn short_numbers_ids_and_counts_are_kept() {
        for kept in [
            "0190d5a0-7c2e-7aa1-9b1e-1234567890ab",
            "chunk 3 of 12",
            "oversized message: 16777217 bytes, more than the 16777216 a message may have",
            "123456789012",
            "case 2A 123",
        ] {
            assert_eq!(text(kept), kept);
            assert!(!has_nir_run(kept), "{kept}");
        }
    }

    #[test]
    fn control_and_invisible_characters_are_escaped() {
        assert_eq!(text("a\nINFO forged\r\tb"), "a\\nINFO forged\\r\\tb");
        assert_eq!(text("\u{1b}[31mred\u{1b}[0m"), "\\u{1b}[31mred\\u{1b}[0m");
        assert_eq!(text("a\u{202e}b\u{2028}c\u{200b}d\0"), "a\\u{202e}b\\u{2028}c\\u{200b}d\\u{0}");
        assert_eq!(text("back\\slash"), "back\\\\slash");
        assert_eq!(text("é ü ß 日本"), "é ü ß 日本");
        assert_eq!(format!("{:?}", Shown::text("a\nb")), "\"a\\nb\"");
    }

    #[test]
    fn length_is_bounded_with_the_original_length() {
        let huge = "x".repeat(1_000_000);
        let shown = text(&huge);
        assert_eq!(shown, format!("{}…[1000000 chars]", "x".repeat(SHOWN_CHARS)));
        assert_eq!(text(&"y".repeat(SHOWN_CHARS)), "y".repeat(SHOWN_CHARS));
        // Escapes count toward the bound: a line of newlines stays as short.
        let newlines = text(&"\n".repeat(10_000));
        assert!(newlines.chars().count() <= SHOWN_CHARS + 20, "{newlines}");
        assert!(newlines.ends_with("…[10000 chars]"));
        let short = Shown::text("abcdef").at_most(3).to_string();
        assert_eq!(short, "abc…[6 chars]");
        // A NIR cut by the bound is still masked in the part shown.
        let nir = with_key("1840575123456").unwrap();
        let cut = Shown::text(&format!("{}{}", "a".repeat(SHOWN_CHARS - 5), nir.as_str())).to_string();
        assert!(cut.contains("a#####…"), "{cut}");
    }

    #[test]
    fn identifiers_are_shown_only_when_they_have_the_shape_of_one() {
        let uuid = "0190D5A0-7C2E-7AA1-9B1E-1234567890AB";
        assert_eq!(Shown::id(uuid).to_string(), uuid);
        for id in ["passerelle.observatory.carsat-sud-est.requests", "cnaf", "user:u-cnaf", "case_1"] {
            assert_eq!(Shown::id(id).to_string(), id);
        }
        assert_eq!(Shown::id("passerelle.v1.Request").to_string(), "(withheld: 21 characters, not an identifier)");
        assert_eq!(Shown::id("Marie DUPONT").to_string(), "(withheld: 12 characters, not an identifier)");
        assert_eq!(Shown::id("a\nb").to_string(), "(withheld: 3 characters, not an identifier)");
        assert_eq!(Shown::id(&"a".repeat(500)).to_string(), "(withheld: 500 characters, not an identifier)");
        assert_eq!(Shown::id("").to_string(), "(withheld: 0 characters, not an identifier)");
        let nir = with_key("2840575123456").unwrap();
        assert_eq!(Shown::id(nir.as_str()).to_string(), "(withheld: 15 characters, holds what looks like a NIR)");
        assert!(!is_identifier(nir.as_str()));
        assert!(is_identifier("0190d5a0-7c2e-7aa1-9b1e-1234567890ab"));
    }

    #[test]
    fn a_uuid_with_thirteen_digits_across_its_dashes_is_still_shown() {
        // A message id a body refused in CI: 6611-7354-9500-5 is 13 digits across dashes.
        let id = "01a24ea9-6611-7354-9500-5b1269a0e1c7";
        assert_eq!(Shown::id(id).to_string(), id);
        assert_eq!(text(&format!("message {id} refused")), format!("message {id} refused"));
        // The same digits outside a UUID's shape are still a run.
        assert!(has_nir_run("6611-7354-9500-5"));
        assert!(has_nir_run("01a24ea9-6611-7354-9500-5b1269a0e1c"), "35 characters: not a UUID");
    }

    proptest::proptest! {
        /// Every UUID, whatever its digits, is an identifier and is shown whole in free text.
        #[test]
        fn every_uuid_is_shown(bytes in proptest::array::uniform16(proptest::num::u8::ANY), upper in proptest::bool::ANY) {
            let id = uuid::Uuid::from_bytes(bytes).hyphenated().to_string();
            let id = if upper { id.to_uppercase() } else { id };
            proptest::prop_assert_eq!(Shown::id(&id).to_string(), id.clone());
            proptest::prop_assert_eq!(text(&format!("case {id}")), format!("case {id}"));
        }
    }
}
