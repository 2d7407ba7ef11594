//! Writing a page's HTML: every value through [`text`] (which escapes it), and the few shapes
//! every console page uses — a table, a list of facts, a notice, a duration and a time in
//! French. No template engine: pages are small, and a `format!` reads as what it writes.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Paris;

pub use passerelle_pages::escape as text;

/// A link; `label` is escaped, `href` too (a console path the page built).
pub fn link(href: &str, label: &str) -> String {
    format!(r#"<a href="{}">{}</a>"#, text(href), text(label))
}

/// A table: `headers` escaped, each cell already HTML (build them with [`text`], [`link`]…). A
/// header starting with `#` is a number column (right-aligned, the `#` dropped). `empty` is said
/// instead of an empty table.
pub fn table(caption: &str, headers: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    if rows.is_empty() {
        return format!(r#"<p class="muted">{}</p>"#, text(empty));
    }
    let numeric: Vec<bool> = headers.iter().map(|h| h.starts_with('#')).collect();
    let mut out = String::from(r#"<div class="table-wrap"><table>"#);
    if !caption.is_empty() {
        out.push_str(&format!("<caption>{}</caption>", text(caption)));
    }
    out.push_str("<thead><tr>");
    for (h, num) in headers.iter().zip(&numeric) {
        let class = if *num { r#" class="num""# } else { "" };
        out.push_str(&format!(r#"<th scope="col"{class}>{}</th>"#, text(h.trim_start_matches('#'))));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if numeric.get(i).copied().unwrap_or(false) { r#" class="num""# } else { "" };
            out.push_str(&format!("<td{class}>{cell}</td>"));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// A list of facts, `(term, value as HTML)`.
pub fn facts(items: &[(&str, String)]) -> String {
    let mut out = String::from(r#"<dl class="facts">"#);
    for (term, value) in items {
        out.push_str(&format!("<dt>{}</dt><dd>{value}</dd>", text(term)));
    }
    out.push_str("</dl>");
    out
}

/// A highlighted sentence (escaped).
pub fn notice(sentence: &str) -> String {
    format!(r#"<p class="notice" role="status">{}</p>"#, text(sentence))
}

/// A count and its label as a card of a dashboard.
pub fn card(figure: &str, label: &str) -> String {
    format!(r#"<li><div class="figure">{}</div><div>{}</div></li>"#, text(figure), text(label))
}

/// A duration in seconds as French says it, to the two largest units: `3 j 4 h`, `12 min`,
/// `45 s`; a negative one with `-`.
pub fn duration(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3_600, (s % 3_600) / 60);
    let said = if d > 0 {
        if h > 0 {
            format!("{d} j {h} h")
        } else {
            format!("{d} j")
        }
    } else if h > 0 {
        if m > 0 {
            format!("{h} h {m} min")
        } else {
            format!("{h} h")
        }
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{s} s")
    };
    format!("{sign}{said}")
}

/// An RFC 3339 time as French writes it, in Paris time (`07/12/2026 22:15`); text that is no
/// such time is shown as it is, escaped.
pub fn when(rfc3339: &str) -> String {
    match DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t.with_timezone(&Paris).format("%d/%m/%Y %H:%M").to_string(),
        Err(_) => text(rfc3339),
    }
}

/// A time as [`when`] writes it.
pub fn at(t: DateTime<Utc>) -> String {
    t.with_timezone(&Paris).format("%d/%m/%Y %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_everywhere() {
        let hostile = r#"<script>alert("x")</script>"#;
        assert!(!link("/a?b=<x>", hostile).contains("<script>"));
        assert!(!notice(hostile).contains("<script>"));
        assert!(!card(hostile, hostile).contains("<script>"));
        assert!(!facts(&[(hostile, text(hostile))]).contains("<script>"));
        assert!(!table(hostile, &[hostile], &[vec![text(hostile)]], hostile).contains("<script>"));
        assert!(!when(hostile).contains("<script>"));
    }

    #[test]
    fn tables_mark_number_columns_and_say_when_empty() {
        let t = table("", &["Cas", "#Personnes"], &[vec!["a".into(), "3".into()]], "rien");
        assert!(t.contains(r#"<th scope="col" class="num">Personnes</th>"#));
        assert!(t.contains(r#"<td class="num">3</td>"#));
        assert_eq!(table("", &["Cas"], &[], "Aucun cas."), r#"<p class="muted">Aucun cas.</p>"#);
    }

    #[test]
    fn durations_and_times_read_in_french() {
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(12 * 60 + 5), "12 min");
        assert_eq!(duration(3 * 3600 + 60), "3 h 1 min");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 59), "3 j 4 h");
        assert_eq!(duration(-2 * 86_400), "-2 j");
        assert_eq!(when("2026-12-07T21:15:00Z"), "07/12/2026 22:15");
        assert_eq!(when("2026-07-01T10:00:00+00:00"), "01/07/2026 12:00");
    }
}
