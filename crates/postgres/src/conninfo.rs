//! Taking `sslmode` and `sslrootcert` out of a libpq conninfo, in its URL form
//! (`postgres://…?sslmode=verify-full`) or its key=value form (`host=db sslmode=verify-full`),
//! and giving back the rest for the driver, which knows neither `verify-full` nor `sslrootcert`.

use std::borrow::Cow;

/// Why a conninfo cannot be used (never quoting it: it may hold a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConninfoError(pub String);

/// The TLS parameters as written.
#[derive(Debug, Default)]
pub(crate) struct SslParameters {
    pub mode: Option<String>,
    pub root_cert: Option<String>,
}

impl SslParameters {
    /// Keeps `key`'s value when it is one of ours; `false` for the driver's parameters.
    fn take(&mut self, key: &str, value: Cow<'_, str>) -> bool {
        match key {
            "sslmode" => self.mode = Some(value.into_owned()),
            "sslrootcert" => self.root_cert = Some(value.into_owned()),
            _ => return false,
        }
        true
    }
}

/// The conninfo without `sslmode` and `sslrootcert`, and their values.
pub(crate) fn split_tls(text: &str) -> Result<(String, SslParameters), ConninfoError> {
    let mut ssl = SslParameters::default();
    let trimmed = text.trim();
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        let (base, query) = trimmed.split_once('?').unwrap_or((trimmed, ""));
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| ConninfoError("a URL parameter is not UTF-8 once decoded".into()))?;
            if !ssl.take(key, value) {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        return Ok((rest, ssl));
    }
    let mut kept = Vec::new();
    for (key, value) in key_values(trimmed)? {
        if !ssl.take(&key, Cow::Borrowed(&value)) {
            kept.push(format!("{key}='{}'", value.replace('\\', "\\\\").replace('\'', "\\'")));
        }
    }
    Ok((kept.join(" "), ssl))
}

/// The `key = value` pairs of libpq's key=value form: values bare or in single quotes, `\`
/// escaping the next character in either.
fn key_values(text: &str) -> Result<Vec<(String, String)>, ConninfoError> {
    let malformed = || ConninfoError("not a PostgreSQL connection string (libpq's URL or key=value form)".into());
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') || key.is_empty() {
            return Err(malformed());
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let quoted = chars.next_if_eq(&'\'').is_some();
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => value.push(chars.next().ok_or_else(malformed)?),
                Some('\'') if quoted => break,
                Some(c) if !quoted && c.is_whitespace() => break,
                Some(c) => value.push(c),
                None if quoted => return Err(malformed()),
                None => break,
            }
        }
        pairs.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_form_keeps_every_other_parameter_as_written() {
        let (rest, ssl) =
            split_tls("postgres://u:p%40ss@db/x?application_name=a%20b&sslmode=verify-full&sslrootcert=%2Fca.pem")
                .unwrap();
        assert_eq!(rest, "postgres://u:p%40ss@db/x?application_name=a%20b");
        assert_eq!((ssl.mode.as_deref(), ssl.root_cert.as_deref()), (Some("verify-full"), Some("/ca.pem")));
        let (rest, ssl) = split_tls("postgresql://db/x").unwrap();
        assert_eq!((rest.as_str(), ssl.mode), ("postgresql://db/x", None));
    }

    #[test]
    fn the_key_value_form_is_quoted_again_for_the_driver() {
        let (rest, ssl) =
            split_tls("host=db  port = 5433 dbname='a b' sslmode= verify-full sslrootcert='/my ca.pem'").unwrap();
        assert_eq!(rest, "host='db' port='5433' dbname='a b'");
        assert_eq!((ssl.mode.as_deref(), ssl.root_cert.as_deref()), (Some("verify-full"), Some("/my ca.pem")));
        let (rest, _) = split_tls(r"host=db password='a\'b\\c' sslmode=disable").unwrap();
        assert_eq!(rest, r"host='db' password='a\'b\\c'");
        let config: tokio_postgres::Config = rest.parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"a'b\\c"[..]));
        assert!(split_tls("host=db password='open").is_err());
        assert!(split_tls("host db").is_err());
    }
}
