//! The PostgreSQL source: the body's own database, queried once per chunk with the SQL its
//! settings give — one identity query and one query per asked category, each over the whole
//! chunk (`WHERE nir = ANY($1)`), in one read-only `REPEATABLE READ` transaction on a pooled
//! connection, so every value of a chunk comes from the same snapshot.
//!
//! The identity query returns `(nir, former_nir, sex, birth_year)` rows for the chunk's NIRs
//! (current or former, `$1` is `text[]`); the matching policy of [`crate::source`] picks each
//! person's current NIR; each category query then gets the matched current NIRs and returns
//! `(nir, value)` rows. A category query that fails is rolled back to its savepoint and that
//! category is declined `SOURCE_UNAVAILABLE`; the others are still answered. If the pool or the
//! identity query fails, the whole chunk waits (see [`SourceError`]).
//!
//! Column types: NIRs are text; `sex` is text (`M`/`F`/`1`/`2`) or an integer (1, 2);
//! `birth_year` an integer or text; a value a boolean, an integer (counts; amounts in euros), a
//! date, or text in the value syntax (cast `numeric` amounts to text). `NULL` means unknown.
//!
//! Error details that reach logs and declines carry the SQLSTATE, and the server's message only
//! for classes about the query or the connection (never data errors, whose messages can quote a
//! value).

use std::collections::HashMap;

use chrono::Datelike;
use deadpool_postgres::Pool;
use passerelle_protocol::catalogue;
use passerelle_protocol::v1::{Category, CategoryValues, Sex};
use passerelle_protocol::value;
use secrecy::ExposeSecret;
use tokio_postgres::types::Type;
use tokio_postgres::Row;

use crate::settings::PostgresSettings;
use crate::source::{DataSource, KnownIdentity, SourceAnswer, SourceError, Subject};

/// A [`DataSource`] over a PostgreSQL database.
pub struct PostgresSource {
    pool: Pool,
    identity_query: String,
    /// The configured query of each held category.
    queries: HashMap<Category, String>,
}

impl std::fmt::Debug for PostgresSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSource").field("categories", &self.queries.len()).finish_non_exhaustive()
    }
}

/// Why the PostgreSQL settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PostgresSettingsError {
    #[error("`source.url`: {0}")]
    Url(String),
    #[error("`source.url`: {0}")]
    Pool(String),
}

impl PostgresSource {
    /// Builds the pool (no connection is made until the first chunk; under TLS the CA file is
    /// read now). Queries are those of `settings.categories` (codes already checked by
    /// [`crate::ResponderSettings::validate`], which also applies the profile's TLS rule).
    pub fn new(settings: &PostgresSettings) -> Result<Self, PostgresSettingsError> {
        let mut conninfo = passerelle_postgres::Conninfo::parse(settings.url.expose_secret())
            .map_err(|e| PostgresSettingsError::Url(e.0))?;
        let config = conninfo.config_mut();
        config.options(format!("-c statement_timeout={}", settings.statement_timeout_secs.saturating_mul(1000)));
        config.application_name("passerelle-responder");
        let pool = conninfo.pool(settings.pool_size).map_err(|e| PostgresSettingsError::Pool(e.0))?;
        let queries = settings
            .categories
            .iter()
            .filter_map(|(code, sql)| catalogue::by_code(code).map(|i| (i.category, sql.clone())))
            .collect();
        Ok(PostgresSource { pool, identity_query: settings.identity_query.clone(), queries })
    }
}

/// One identity row, as the matching policy sees it.
#[derive(Debug)]
struct IdentityRow {
    current: String,
    known: KnownIdentity,
}

#[async_trait::async_trait]
impl DataSource for PostgresSource {
    async fn lookup(&self, subjects: &[Subject], categories: &[Category]) -> Result<SourceAnswer, SourceError> {
        let mut keys: Vec<&str> = subjects.iter().flat_map(|s| s.nirs.iter().map(|n| n.as_str())).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut answer = SourceAnswer { persons: vec![None; subjects.len()], ..Default::default() };
        if keys.is_empty() {
            return Ok(answer);
        }
        let mut client = self.pool.get().await.map_err(|e| SourceError::Postgres(Box::new(e)))?;
        let mut tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| SourceError::Postgres(Box::new(e)))?;

        // 1. Who is who: each key → the records it names, by current NIR and by former NIR.
        let statement =
            tx.prepare_cached(&self.identity_query).await.map_err(|e| SourceError::IdentityQuery(describe(&e)))?;
        let rows = tx.query(&statement, &[&keys]).await.map_err(|e| SourceError::IdentityQuery(describe(&e)))?;
        let mut by_current: HashMap<String, IdentityRow> = HashMap::new();
        let mut by_former: HashMap<String, Vec<IdentityRow>> = HashMap::new();
        for row in &rows {
            let identity = identity_row(row).map_err(SourceError::IdentityQuery)?;
            let Some((former, identity)) = identity else { continue };
            if let Some(former) = former {
                by_former
                    .entry(former)
                    .or_default()
                    .push(IdentityRow { current: identity.current.clone(), known: identity.known });
            }
            by_current.insert(identity.current.clone(), identity);
        }
        let matched: Vec<Option<&str>> = subjects
            .iter()
            .map(|subject| {
                subject.nirs.iter().find_map(|nir| {
                    let current = by_current.get(nir.as_str()).filter(|r| r.known.agrees_with(subject));
                    let former = by_former.get(nir.as_str()).and_then(|records| {
                        // A former NIR claimed by two persons matches neither.
                        let first = records.first()?;
                        records.iter().all(|r| r.current == first.current).then_some(first)
                    });
                    current.or(former.filter(|r| r.known.agrees_with(subject))).map(|r| r.current.as_str())
                })
            })
            .collect();
        for (slot, m) in answer.persons.iter_mut().zip(&matched) {
            if m.is_some() {
                *slot = Some(CategoryValues::default());
            }
        }

        // 2. The asked categories, each over every matched person at once.
        let mut currents: Vec<&str> = matched.iter().flatten().copied().collect();
        currents.sort_unstable();
        currents.dedup();
        if !currents.is_empty() {
            for &category in categories {
                let Some(sql) = self.queries.get(&category) else { continue };
                let savepoint = tx.savepoint("category").await.map_err(|e| SourceError::Postgres(Box::new(e)))?;
                let result = async {
                    let statement = savepoint.prepare(sql).await.map_err(|e| describe(&e))?;
                    savepoint.query(&statement, &[&currents]).await.map_err(|e| describe(&e))
                }
                .await;
                let rows = match result {
                    Ok(rows) => {
                        savepoint.commit().await.map_err(|e| SourceError::Postgres(Box::new(e)))?;
                        rows
                    }
                    Err(detail) => {
                        savepoint.rollback().await.map_err(|e| SourceError::Postgres(Box::new(e)))?;
                        answer.unavailable.push((category, detail));
                        continue;
                    }
                };
                match category_values(category, &rows) {
                    Ok((values, unreadable)) => {
                        if unreadable > 0 {
                            tracing::warn!(
                                category = category.code(),
                                unreadable,
                                "values that do not follow the value syntax were left out (answered as unknown)"
                            );
                        }
                        for (slot, m) in answer.persons.iter_mut().zip(&matched) {
                            if let (Some(person), Some(current)) = (slot.as_mut(), m) {
                                if let Some(v) = values.get(*current) {
                                    // The value was parsed with the category's own type.
                                    let _ = person.set(category, v.clone());
                                }
                            }
                        }
                    }
                    Err(detail) => answer.unavailable.push((category, detail)),
                }
            }
        }
        tx.commit().await.map_err(|e| SourceError::Postgres(Box::new(e)))?;
        Ok(answer)
    }
}

/// Reads `(nir, former_nir, sex, birth_year)`. `Ok(None)` for a row without a NIR.
#[allow(clippy::type_complexity)]
fn identity_row(row: &Row) -> Result<Option<(Option<String>, IdentityRow)>, String> {
    if row.len() < 4 {
        return Err(format!(
            "the identity query returns {} columns; it must return nir, former_nir, sex, birth_year",
            row.len()
        ));
    }
    let Some(current) = cell_text(row, 0)? else { return Ok(None) };
    let former = cell_text(row, 1)?;
    let sex = cell_text(row, 2)?.and_then(|t| value::parse_sex(&t));
    let birth_year = cell_text(row, 3)?.and_then(|t| t.trim().parse::<u32>().ok()).filter(|y| *y > 0);
    Ok(Some((
        former,
        IdentityRow { current, known: KnownIdentity { sex: sex.filter(|s| *s != Sex::Unspecified), birth_year } },
    )))
}

/// Reads `(nir, value)` rows into typed values; also counts values that do not parse.
fn category_values(category: Category, rows: &[Row]) -> Result<(HashMap<String, value::Value>, usize), String> {
    let info = catalogue::info(category).expect("a held category is in the catalogue");
    let mut values = HashMap::with_capacity(rows.len());
    let mut unreadable = 0;
    for row in rows {
        if row.len() < 2 {
            return Err(format!("the query returns {} column(s); it must return nir, value", row.len()));
        }
        let (Some(nir), Some(text)) = (cell_text(row, 0)?, cell_text(row, 1)?) else { continue };
        match value::parse(info.value_type, &text) {
            Ok(Some(v)) => {
                values.insert(nir, v);
            }
            Ok(None) => {}
            Err(_) => unreadable += 1,
        }
    }
    Ok((values, unreadable))
}

/// A cell as text, whatever its supported type; `None` for `NULL`.
fn cell_text(row: &Row, index: usize) -> Result<Option<String>, String> {
    let column = &row.columns()[index];
    let ty = column.type_();
    let text = match *ty {
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => row.try_get::<_, Option<String>>(index),
        Type::BOOL => row.try_get::<_, Option<bool>>(index).map(|v| v.map(|b| b.to_string())),
        Type::INT2 => row.try_get::<_, Option<i16>>(index).map(|v| v.map(|n| n.to_string())),
        Type::INT4 => row.try_get::<_, Option<i32>>(index).map(|v| v.map(|n| n.to_string())),
        Type::INT8 => row.try_get::<_, Option<i64>>(index).map(|v| v.map(|n| n.to_string())),
        Type::DATE => row
            .try_get::<_, Option<chrono::NaiveDate>>(index)
            .map(|v| v.map(|d| format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))),
        _ => {
            return Err(format!(
                "column `{}` has type {}: return text, boolean, integer or date (cast numeric to text)",
                column.name(),
                ty.name()
            ))
        }
    };
    text.map_err(|e| format!("column `{}`: {e}", column.name()))
}

/// A description of a PostgreSQL error that cannot contain personal data (module docs).
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            // 08: connection; 42: syntax or access rule (about the query text); 57: operator
            // intervention (statement timeout, shutdown); 53: insufficient resources.
            if ["08", "42", "57", "53"].iter().any(|class| code.starts_with(class)) {
                format!("{} (SQLSTATE {code})", db.message())
            } else {
                format!("the query failed (SQLSTATE {code})")
            }
        }
        None if error.is_closed() => "the connection to PostgreSQL is closed".to_owned(),
        None => "the query failed (client side)".to_owned(),
    }
}
