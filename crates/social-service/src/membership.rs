//! Whether a person is attached to this office, for a received transfer (norm 43, A.3: the
//! receiving office confirms the person is attached to it before its agents see the file).
//! Without a source, a social worker of the office confirms each transfer.
//!
//! The source is `[transfers.membership]` in the social service's settings ([`MembershipSource`]),
//! one of two kinds, read the way the responder reads a body's data:
//!
//! ```toml
//! [transfers.membership]
//! kind = "extract"
//! path = "/var/lib/passerelle/ss-13-members.csv"
//! ```
//!
//! **`extract`**: a CSV file listing the office's attached insured, with a `nir` column; other
//! columns are ignored. As a body's extract: `,` or `;` (detected from the header row), a header
//! row whose names are matched without regard to case or surrounding blanks, RFC 4180 quoting,
//! UTF-8 (a byte-order mark is skipped) or Windows-1252 (only the ASCII `nir` field is read).
//! A NIR may be written with spaces (`1 84 12 75 123 456 78`). The file is read afresh at each
//! check, on a blocking thread, so the body's export job may replace it at any time (write the
//! new file beside it and rename it over). A row whose NIR is missing or malformed is skipped;
//! each check logs once how many it skipped and on which lines (never their content). `open`
//! refuses a missing or unreadable file, or one without a `nir` column.
//!
//! ```toml
//! [transfers.membership]
//! kind = "postgres"
//! url = "postgres://passerelle@db/members?sslmode=verify-full&sslrootcert=/etc/passerelle/pg-ca.pem"
//! query = "SELECT 1 FROM attached WHERE nir = $1 AND office = 'ss-13'"
//! ```
//!
//! **`postgres`**: a query on the body's PostgreSQL that returns at least one row when the person
//! whose NIR is `$1` is attached, none otherwise. `$1` is the NIR as 15 characters of text
//! (without spaces, `2A`/`2B` in upper case): compare it with a `text`, `varchar` or `char(15)`
//! column, or cast (`$1::text`). The connection is made **lazily**, at the first check, so the
//! social service starts while the body's database is down; `open` checks only that the URL
//! parses (and, under `sslmode=verify-full`, reads its `sslrootcert`) and that the query uses
//! `$1`. The URL is libpq's, TLS as the responder's source (passerelle_postgres): outside the
//! development profile the settings refuse a URL without `sslmode=verify-full`. When the query is prepared on a connection, it must take
//! exactly one parameter of a text type, or the check fails saying so. Queries run read-only,
//! with a statement timeout of [`STATEMENT_TIMEOUT_SECS`]. The URL may hold a password: it is
//! never logged nor quoted in an error.
//!
//! A source that cannot answer (a file gone or unreadable, the database down or the query
//! failing) gives a [`MembershipError`], never "not attached": the transfer waits and the check
//! is retried. Error messages name the file or the SQLSTATE, never a NIR.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use deadpool_postgres::Pool;
use passerelle_protocol::nir::Nir;
use passerelle_selection::Separator;
use tokio_postgres::types::Type;

use crate::settings::MembershipSource;

/// Why the source could not answer (unreadable extract, database down): the transfer waits and
/// the check is retried; never "not attached".
#[derive(Debug, thiserror::Error)]
#[error("membership source: {0}")]
pub struct MembershipError(pub String);

/// A membership source, opened from the settings.
#[async_trait::async_trait]
pub trait Membership: Send + Sync + std::fmt::Debug {
    /// Whether the person whose current NIR is `nir` is attached to this office (called from the
    /// transfers' consumer, an async task: a file is read on a blocking thread).
    async fn is_attached(&self, nir: &str) -> Result<bool, MembershipError>;
}

/// The source the settings name (checked: a missing extract is an error at start).
pub fn open(source: &MembershipSource) -> Result<Box<dyn Membership>, MembershipError> {
    match source {
        MembershipSource::Extract { path } => Ok(Box::new(ExtractMembership::open(path)?)),
        MembershipSource::Postgres { url, query } => Ok(Box::new(PostgresMembership::open(url, query)?)),
    }
}

/// The column of the extract that holds the NIRs.
const NIR_COLUMN: &str = "nir";

/// The longest header row read, in bytes: a header of a few column names is far shorter, and a
/// file without line ends (binary data) must not be read whole to find its first line.
const MAX_HEADER_BYTES: u64 = 64 * 1024;

/// The most line numbers of skipped rows one check logs: enough to find the rows in the file,
/// bounded so that a wholly broken extract does not log a line of a million numbers.
const MAX_LINES_LOGGED: usize = 20;

/// How long a membership query may run (the server's `statement_timeout`): a check is one
/// indexed lookup; a query that takes longer is a missing index or a locked table, and the
/// transfer is better retried than left holding the transfers' consumer.
pub const STATEMENT_TIMEOUT_SECS: u64 = 5;

/// How long connecting to the body's database may take before the check fails (and is retried).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections kept to the body's database: transfers are rare and a check is one query.
const MAX_CONNECTIONS: usize = 2;

/// The NIR asked about, normalised; `None` when it is not a NIR, so in no list: the received file
/// was validated before the check, so that is a caller's bug, logged (without the number) and
/// answered "not attached".
fn parse_asked(nir: &str) -> Option<Nir> {
    match Nir::parse(nir) {
        Ok(nir) => Some(nir),
        Err(e) => {
            // A `NirError` never quotes the number.
            tracing::warn!(error = %e, "membership check for a number that is not a NIR: answered not attached");
            None
        }
    }
}

/// The extract source (module docs).
#[derive(Debug)]
struct ExtractMembership {
    path: PathBuf,
}

impl ExtractMembership {
    /// Checks that the extract can be read and has a `nir` column.
    fn open(path: &Path) -> Result<Self, MembershipError> {
        ExtractReader::open(path)?;
        Ok(ExtractMembership { path: path.to_owned() })
    }
}

#[async_trait::async_trait]
impl Membership for ExtractMembership {
    async fn is_attached(&self, nir: &str) -> Result<bool, MembershipError> {
        let Some(nir) = parse_asked(nir) else { return Ok(false) };
        let path = self.path.clone();
        let scan = tokio::task::spawn_blocking(move || ExtractReader::open(&path)?.find(&nir))
            .await
            .map_err(|e| MembershipError(format!("the membership extract's check did not finish: {e}")))??;
        // Logged here rather than on the blocking thread, so that the caller's span and
        // subscriber see it.
        if scan.skipped > 0 {
            tracing::warn!(
                path = %self.path.display(),
                skipped = scan.skipped,
                lines = ?scan.skipped_lines,
                "rows of the membership extract without a valid NIR were skipped"
            );
        }
        Ok(scan.attached)
    }
}

/// What one check of the extract found.
#[derive(Debug)]
struct Scan {
    attached: bool,
    /// Rows skipped for a missing or malformed NIR (those read: the scan stops at a match).
    skipped: u64,
    /// The first [`MAX_LINES_LOGGED`] of their line numbers.
    skipped_lines: Vec<u64>,
}

/// The extract opened and its header read: the `nir` column located.
struct ExtractReader<'p> {
    path: &'p Path,
    csv: csv::Reader<std::io::Chain<Cursor<Vec<u8>>, BufReader<File>>>,
    nir_position: usize,
}

impl<'p> ExtractReader<'p> {
    fn open(path: &'p Path) -> Result<Self, MembershipError> {
        let shown = path.display();
        let file = File::open(path)
            .map_err(|e| MembershipError(format!("cannot open the membership extract {shown}: {e}")))?;
        let mut input = BufReader::new(file);
        let mut first_line = Vec::new();
        (&mut input)
            .take(MAX_HEADER_BYTES)
            .read_until(b'\n', &mut first_line)
            .map_err(|e| MembershipError(format!("cannot read the membership extract {shown}: {e}")))?;
        if first_line.starts_with(b"\xEF\xBB\xBF") {
            first_line.drain(..3);
        }
        let separator = Separator::detect(&first_line);
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(separator.as_byte())
            .has_headers(false)
            .flexible(true)
            .from_reader(Cursor::new(first_line).chain(input));
        let mut header = csv::ByteRecord::new();
        let read = csv.read_byte_record(&mut header).map_err(|e| {
            MembershipError(format!("cannot read the header row of the membership extract {shown}: {e}"))
        })?;
        if !read {
            header.clear();
        }
        // Names are not quoted back: a file without its header row has a person's data there.
        let named = |field: &[u8]| String::from_utf8_lossy(field).trim().eq_ignore_ascii_case(NIR_COLUMN);
        let mut positions = header.iter().enumerate().filter(|(_, f)| named(f)).map(|(i, _)| i);
        let Some(nir_position) = positions.next() else {
            return Err(MembershipError(format!(
                "the membership extract {shown} has no `{NIR_COLUMN}` column: its first line must be the header \
                 row, naming a `{NIR_COLUMN}` column"
            )));
        };
        if positions.next().is_some() {
            return Err(MembershipError(format!(
                "the membership extract {shown} has two `{NIR_COLUMN}` columns: which one lists the attached insured?"
            )));
        }
        Ok(ExtractReader { path, csv, nir_position })
    }

    /// Reads the rows until one holds `nir`, or to the end.
    fn find(mut self, nir: &Nir) -> Result<Scan, MembershipError> {
        let mut scan = Scan { attached: false, skipped: 0, skipped_lines: Vec::new() };
        let mut record = csv::ByteRecord::new();
        loop {
            let more = self.csv.read_byte_record(&mut record).map_err(|e| {
                MembershipError(format!("cannot read the membership extract {} to its end: {e}", self.path.display()))
            })?;
            if !more {
                return Ok(scan);
            }
            let field = record.get(self.nir_position).and_then(|f| std::str::from_utf8(f).ok());
            match field.map(Nir::parse) {
                Some(Ok(found)) if found == *nir => {
                    scan.attached = true;
                    return Ok(scan);
                }
                Some(Ok(_)) => {}
                // Missing (a short row), not text, empty or not a NIR.
                None | Some(Err(_)) => {
                    scan.skipped += 1;
                    if scan.skipped_lines.len() < MAX_LINES_LOGGED {
                        scan.skipped_lines.push(record.position().map_or(0, |p| p.line()));
                    }
                }
            }
        }
    }
}

/// The PostgreSQL source (module docs).
struct PostgresMembership {
    pool: Pool,
    query: String,
}

impl std::fmt::Debug for PostgresMembership {
    // The pool's configuration holds the URL's password: not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresMembership").finish_non_exhaustive()
    }
}

impl PostgresMembership {
    /// Builds the pool; no connection is made until the first check (module docs).
    fn open(url: &str, query: &str) -> Result<Self, MembershipError> {
        // The message never quotes the string, which may hold a password.
        let mut conninfo = passerelle_postgres::Conninfo::parse(url)
            .map_err(|e| MembershipError(format!("`transfers.membership.url`: {e}")))?;
        if !uses_first_parameter(query) {
            return Err(MembershipError(
                "`transfers.membership.query` does not use `$1` (the person's NIR): it would answer the same for \
                 everyone"
                    .to_owned(),
            ));
        }
        let config = conninfo.config_mut();
        config.options(format!(
            "-c statement_timeout={} -c default_transaction_read_only=on",
            STATEMENT_TIMEOUT_SECS * 1000
        ));
        config.application_name("passerelle-social-service");
        config.connect_timeout(CONNECT_TIMEOUT);
        let pool =
            conninfo.pool(MAX_CONNECTIONS).map_err(|e| MembershipError(format!("`transfers.membership.url`: {e}")))?;
        Ok(PostgresMembership { pool, query: query.to_owned() })
    }
}

#[async_trait::async_trait]
impl Membership for PostgresMembership {
    async fn is_attached(&self, nir: &str) -> Result<bool, MembershipError> {
        let Some(nir) = parse_asked(nir) else { return Ok(false) };
        let client = self.pool.get().await.map_err(|e| {
            let detail = match &e {
                deadpool_postgres::PoolError::Backend(e) => describe(e),
                other => other.to_string(),
            };
            MembershipError(format!("cannot connect to the membership database: {detail}"))
        })?;
        let statement = client
            .prepare_cached(&self.query)
            .await
            .map_err(|e| MembershipError(format!("the membership query does not prepare: {}", describe(&e))))?;
        match statement.params() {
            [ty] if [Type::TEXT, Type::VARCHAR, Type::BPCHAR].contains(ty) => {}
            [ty] => {
                return Err(MembershipError(format!(
                    "the membership query takes `$1` as {}: the NIR is text (compare it with a text column, or \
                     write `$1::text`)",
                    ty.name()
                )))
            }
            params => {
                return Err(MembershipError(format!(
                    "the membership query takes {} parameters: it must take one, `$1`, the person's NIR",
                    params.len()
                )))
            }
        }
        let rows = client
            .query(&statement, &[&nir.as_str()])
            .await
            .map_err(|e| MembershipError(format!("the membership query failed: {}", describe(&e))))?;
        Ok(!rows.is_empty())
    }
}

/// Whether `query` mentions `$1` (and not only `$10`…): a first check at start; the prepared
/// statement's parameters are the real one.
fn uses_first_parameter(query: &str) -> bool {
    query.match_indices("$1").any(|(i, m)| !query[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// A description of a PostgreSQL error that cannot contain personal data: the server's message
/// only for classes about the connection or the query's text, never a data error's (which can
/// quote a value, the NIR).
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            // 08: connection; 28: authorisation; 3D: unknown database; 42: syntax or access rule;
            // 53: insufficient resources; 57: operator intervention (statement timeout, shutdown).
            if ["08", "28", "3D", "42", "53", "57"].iter().any(|class| code.starts_with(class)) {
                format!("{} (SQLSTATE {code})", db.message())
            } else {
                format!("the query failed (SQLSTATE {code})")
            }
        }
        None if error.is_closed() => "the connection to PostgreSQL is closed".to_owned(),
        // Client-side errors (connecting, timing out) name no value.
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_must_use_the_first_parameter() {
        assert!(uses_first_parameter("SELECT 1 FROM a WHERE nir = $1"));
        assert!(uses_first_parameter("SELECT 1 FROM a WHERE nir = $1::text AND x = $10"));
        assert!(!uses_first_parameter("SELECT 1 FROM a WHERE nir = $10"));
        assert!(!uses_first_parameter("SELECT 1 FROM a"));
    }

    #[test]
    fn a_url_that_does_not_parse_is_refused_without_being_quoted() {
        let source = MembershipSource::Postgres {
            url: "postgres://user:s3cret@host:notaport/db".to_owned(),
            query: "SELECT 1 WHERE $1 = ''".to_owned(),
        };
        let error = open(&source).unwrap_err().to_string();
        assert!(error.contains("transfers.membership.url"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn the_postgres_source_is_opened_without_connecting_and_debug_hides_the_url() {
        // Port 1: nothing listens there, and open must not try.
        let source = MembershipSource::Postgres {
            url: "postgres://user:s3cret@127.0.0.1:1/db".to_owned(),
            query: "SELECT 1 WHERE $1 = ''".to_owned(),
        };
        let membership = open(&source).unwrap();
        assert!(!format!("{membership:?}").contains("s3cret"));
    }
}
