//! The shapes a text of the case file may have. Every `string` field of `social_file.proto`
//! carries one marker (`[name]`, `[phone]`…) and is checked against its shape here, so a name,
//! a phone number or an identifier cannot carry prose; the one `[free-text]` is the social
//! worker's assessment (norm 43, I.7), bounded too.

use passerelle_protocol::{ids, untrusted};

/// The shape of a text field. See `social_file.proto` for the markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextKind {
    /// A person's family, usage or given names: letters, spaces, `-`, `'`, `.`.
    Name,
    /// A partner's trade name or a function: one short line.
    Label,
    /// A birth place (a commune and département, or a country): one short line.
    Place,
    /// A postal address: up to 6 lines.
    Address,
    /// A phone number: digits, an optional leading `+`, spaces, dots, hyphens.
    Phone,
    /// An e-mail address.
    Email,
    /// A file, action or offer id, or a person's number at an attached body: letters, digits,
    /// `.`, `-`, `_`, `:`, and never NIR-shaped (the NIR has its own field).
    Identifier,
    /// A body or agent code: lower-case letters, digits, `-`, `_`.
    Code,
    /// The social worker's assessment (norm 43, I.7): the file's one free text.
    FreeText,
}

/// The most characters the assessment holds: a page, not a diary. Longer notes are a sign that
/// data the norm does not list are being recorded.
pub const MAX_ASSESSMENT_CHARS: usize = 4_000;

/// The most lines of a postal address (the postal standard's six lines).
const MAX_ADDRESS_LINES: usize = 6;

impl TextKind {
    /// The marker of the kind in `social_file.proto`.
    pub fn marker(self) -> &'static str {
        match self {
            TextKind::Name => "[name]",
            TextKind::Label => "[label]",
            TextKind::Place => "[place]",
            TextKind::Address => "[address]",
            TextKind::Phone => "[phone]",
            TextKind::Email => "[email]",
            TextKind::Identifier => "[identifier]",
            TextKind::Code => "[code]",
            TextKind::FreeText => "[free-text]",
        }
    }

    /// The most characters the kind holds.
    pub fn max_chars(self) -> usize {
        match self {
            TextKind::Name | TextKind::Place => 100,
            TextKind::Label => 120,
            TextKind::Address => 300,
            TextKind::Phone => 20,
            TextKind::Email => 254,
            TextKind::Identifier | TextKind::Code => 64,
            TextKind::FreeText => MAX_ASSESSMENT_CHARS,
        }
    }

    /// What the kind accepts, in words, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            TextKind::Name => "a name (letters, spaces, - ' ., at most 100 characters)",
            TextKind::Label => "one line of at most 120 characters",
            TextKind::Place => "a birth place, one line of at most 100 characters",
            TextKind::Address => "a postal address, at most 6 lines and 300 characters",
            TextKind::Phone => "a phone number (digits, a leading +, spaces, dots or hyphens)",
            TextKind::Email => "an e-mail address",
            TextKind::Identifier => "an identifier (letters, digits, . - _ :, at most 64 characters)",
            TextKind::Code => "a code (lower-case letters, digits, - and _, at most 64 characters)",
            TextKind::FreeText => "the assessment, at most 4,000 characters",
        }
    }

    /// Checks a text against the kind. The reason never repeats the text (it may be personal
    /// data): it says what is wrong.
    pub fn check(self, text: &str) -> Result<(), String> {
        if text.trim().is_empty() {
            return Err("is empty (leave the field out instead)".to_owned());
        }
        let chars = text.chars().count();
        if chars > self.max_chars() {
            return Err(format!("has {chars} characters, at most {} allowed", self.max_chars()));
        }
        let multi_line = matches!(self, TextKind::Address | TextKind::FreeText);
        if text
            .chars()
            .any(|c| c.is_control() && !(multi_line && (c == '\n' || (c == '\t' && self == TextKind::FreeText))))
        {
            return Err(if multi_line { "holds a control character" } else { "must be one line" }.to_owned());
        }
        let shaped = match self {
            TextKind::Name => text.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '’' | '.')),
            TextKind::Address => text.lines().count() <= MAX_ADDRESS_LINES,
            TextKind::Phone => is_phone(text),
            TextKind::Email => is_email(text),
            TextKind::Identifier => {
                text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
            }
            TextKind::Code => ids::is_party_code(text),
            TextKind::Label | TextKind::Place | TextKind::FreeText => true,
        };
        if !shaped {
            return Err(format!("is not {}", self.describe()));
        }
        if self != TextKind::Phone && untrusted::has_nir_run(text) {
            return Err("holds what looks like a NIR: the NIR has its own field, identity.nir".to_owned());
        }
        Ok(())
    }
}

fn is_phone(text: &str) -> bool {
    let body = text.strip_prefix('+').unwrap_or(text);
    let digits = body.chars().filter(char::is_ascii_digit).count();
    (6..=15).contains(&digits) && body.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-'))
}

fn is_email(text: &str) -> bool {
    let mut parts = text.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_accepts_its_shape_and_refuses_prose() {
        assert!(TextKind::Name.check("Dupont-Martin").is_ok());
        assert!(TextKind::Name.check("Jean-Éloïse d'Arc").is_ok());
        assert!(TextKind::Name.check("Dupont, suivi pour dépression").is_err(), "a comma is not in a name");
        assert!(TextKind::Name.check("Line\nbreak").is_err());
        assert!(TextKind::Phone.check("+33 6 12 34 56 78").is_ok());
        assert!(TextKind::Phone.check("call after 6pm").is_err());
        assert!(TextKind::Email.check("a.b@example.invalid").is_ok());
        assert!(TextKind::Email.check("a b@example").is_err());
        assert!(TextKind::Code.check("cpam-75").is_ok());
        assert!(TextKind::Code.check("CPAM 75").is_err());
        assert!(TextKind::Identifier.check("MSA-0042:7").is_ok());
        assert!(TextKind::Identifier.check("184057512345625").is_err(), "a NIR-shaped identifier");
        assert!(TextKind::Address.check("12 rue des Lilas\n75020 Paris").is_ok());
        assert!(TextKind::Address.check(&"a\n".repeat(7)).is_err());
        assert!(TextKind::Label.check("SSIAD du 13e").is_ok());
        assert!(TextKind::FreeText.check("Vit seule.\n\tIsolement marqué.").is_ok());
        assert!(TextKind::FreeText.check(&"x".repeat(MAX_ASSESSMENT_CHARS + 1)).is_err());
        assert!(TextKind::FreeText.check("NIR 1 84 05 75 123 456 25").is_err(), "no NIR in the assessment");
        assert!(TextKind::Label.check("   ").is_err());
    }

    #[test]
    fn a_refusal_never_repeats_the_text() {
        let secret = "Madame Untel, 3 rue X";
        let reason = TextKind::Name.check(secret).unwrap_err();
        assert!(!reason.contains("Untel"), "{reason}");
    }
}
