//! What every page a person reads shares, whichever daemon writes it: HTML escaping (every value
//! a page shows goes through [`escape`]) and the French writing of amounts ([`euros`]). The
//! printed answers to the persons' rights use it — the decree's (`crates/rights`) and the
//! norm's (`crates/social-service`). No IO, no dependency.

#![forbid(unsafe_code)]

/// The no-break space French puts between digit groups and before `€`.
pub const NBSP: char = '\u{a0}';

/// Escapes a text for HTML (element content and attribute values alike).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An amount in euro cents as French writes it: `1 604,00 €` (no-break spaces).
pub fn euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let (units, hundredths) = (cents.unsigned_abs() / 100, cents.unsigned_abs() % 100);
    let digits = units.to_string();
    let mut grouped = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(NBSP);
        }
        grouped.push(d);
    }
    format!("{sign}{grouped},{hundredths:02}{NBSP}€")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_markup_character_is_escaped() {
        assert_eq!(escape(r#"<a href="x">l'été & co</a>"#), "&lt;a href=&quot;x&quot;&gt;l&#39;été &amp; co&lt;/a&gt;");
    }

    #[test]
    fn amounts_are_grouped_by_thousands_with_no_break_spaces() {
        assert_eq!(euros(160_400), "1\u{a0}604,00\u{a0}€");
        assert_eq!(euros(-5), "-0,05\u{a0}€");
        assert_eq!(euros(123_456_789), "1\u{a0}234\u{a0}567,89\u{a0}€");
        assert_eq!(euros(i64::MIN), "-92\u{a0}233\u{a0}720\u{a0}368\u{a0}547\u{a0}758,08\u{a0}€");
    }
}
