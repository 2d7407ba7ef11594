//! The data sources a body answers from, behind one trait, and the matching policy they share.
//!
//! A source is asked about one solicitation chunk at a time: all its persons and the categories
//! to answer, in one call, which the source turns into one read transaction (the SQLite index)
//! or one query per category over the whole chunk (PostgreSQL) — never one round trip per person.
//!
//! # Matching policy
//!
//! The observatory sends, for each person, the NIR, the former NIRs it knows, the sex and the
//! birth year (art. 3: the identification data of art. 2, 1°, nothing else). A body's record
//! *matches* when
//!
//! 1. one of the person's NIRs (the current one first, then the former ones in the order given)
//!    is the record's current NIR or one of its former NIRs — current NIRs take precedence, and
//!    a former NIR that the body holds for two different persons matches neither; and
//! 2. the identity agrees: when both the body and the solicitation know the sex, they are the
//!    same, and when both know the birth year, they are the same.
//!
//! The first candidate NIR (in the order above) whose record agrees is the person. When a record
//! is found by NIR but its sex or birth year disagrees, that record is *not* the person: NIRs are
//! mistyped and reattributed, and answering another person's data would be a breach, whereas a
//! wrong *not found* only costs an offer of service. If no candidate agrees, the person is
//! [not found](passerelle_protocol::v1::PersonStatus::NotFound), which is an answer like any other.

pub mod extract;
pub mod postgres;

use passerelle_protocol::nir::Nir;
use passerelle_protocol::v1::{self, Category, CategoryValues, Sex};

/// One solicited person as a source sees them: the keys to match on, nothing else.
#[derive(Clone, PartialEq, Eq)]
pub struct Subject {
    /// The current NIR first (when valid), then the former NIRs; malformed ones are left out
    /// (they cannot match anything).
    pub nirs: Vec<Nir>,
    /// `None` when the solicitation leaves it unspecified.
    pub sex: Option<Sex>,
    /// `None` when the solicitation leaves it at 0.
    pub birth_year: Option<u32>,
}

impl std::fmt::Debug for Subject {
    /// Redacted: the NIRs are counted, never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subject")
            .field("nirs", &self.nirs.len())
            .field("sex", &self.sex)
            .field("birth_year", &self.birth_year)
            .finish()
    }
}

impl From<&v1::SolicitedPerson> for Subject {
    fn from(person: &v1::SolicitedPerson) -> Self {
        let mut nirs: Vec<Nir> = Vec::with_capacity(1 + person.former_nirs.len());
        for text in std::iter::once(&person.nir).chain(&person.former_nirs) {
            if let Ok(nir) = Nir::parse(text) {
                if !nirs.contains(&nir) {
                    nirs.push(nir);
                }
            }
        }
        let sex = match Sex::try_from(person.sex) {
            Ok(Sex::Male) => Some(Sex::Male),
            Ok(Sex::Female) => Some(Sex::Female),
            _ => None,
        };
        let birth_year = (person.birth_year != 0).then_some(person.birth_year);
        Subject { nirs, sex, birth_year }
    }
}

/// What the body's record says about a person's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KnownIdentity {
    pub sex: Option<Sex>,
    pub birth_year: Option<u32>,
}

impl KnownIdentity {
    /// Rule 2 of the matching policy: no known field disagrees.
    pub fn agrees_with(&self, subject: &Subject) -> bool {
        let sex_ok = match (self.sex, subject.sex) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        let year_ok = match (self.birth_year, subject.birth_year) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        sex_ok && year_ok
    }
}

/// A source's answer for one chunk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceAnswer {
    /// One entry per subject, in order: the values the body holds for the person (only the
    /// categories asked), or `None` when the person is not found.
    pub persons: Vec<Option<CategoryValues>>,
    /// Categories whose lookup failed, with a detail free of personal data. Their values are
    /// absent from every person; the response declines them as `SOURCE_UNAVAILABLE`.
    pub unavailable: Vec<(Category, String)>,
    /// Which data answered, for the logs (e.g. the extract's id); never personal data.
    pub generation: Option<String>,
}

/// A failure of the whole source for a chunk: nobody can be said found or not found, so the
/// chunk is not answered now (the delivery is retried, and the observatory's deadline reports the
/// body as silent if the failure lasts).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("no extract has been loaded into {0} yet: run `passerelle responder load`")]
    NoIndex(std::path::PathBuf),
    #[error("the extract index cannot be read")]
    Index(#[source] passerelle_sqlite::Error),
    #[error("the extract index {path} belongs to body `{found}`, not `{expected}`")]
    WrongBody { path: std::path::PathBuf, found: String, expected: String },
    #[error("the PostgreSQL source is unavailable")]
    Postgres(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the identity query failed: {0}")]
    IdentityQuery(String),
    #[error("a lookup task failed: {0}")]
    Task(String),
}

/// A body's data, asked one chunk at a time.
#[async_trait::async_trait]
pub trait DataSource: Send + Sync + std::fmt::Debug + 'static {
    /// Matches every subject (see the module's matching policy) and returns, for those found,
    /// the values of `categories` the body holds. One transaction (or one query per category)
    /// for the whole chunk. `categories` are already minimised: the source must not return any
    /// other, and the caller drops any other anyway.
    async fn lookup(&self, subjects: &[Subject], categories: &[Category]) -> Result<SourceAnswer, SourceError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_protocol::nir;

    pub(crate) fn nir(order: u32) -> Nir {
        nir::with_key(&format!("1550375056{order:03}")).unwrap()
    }

    #[test]
    fn subjects_keep_valid_distinct_nirs_current_first() {
        let person = v1::SolicitedPerson {
            person_ref: 1,
            nir: "not a nir".into(),
            former_nirs: vec![nir(2).as_str().into(), nir(3).as_str().into(), nir(2).as_str().into()],
            sex: Sex::Female as i32,
            birth_year: 0,
        };
        let s = Subject::from(&person);
        assert_eq!(s.nirs, vec![nir(2), nir(3)]);
        assert_eq!((s.sex, s.birth_year), (Some(Sex::Female), None));
        assert!(!format!("{s:?}").contains(nir(2).as_str()), "Debug never shows a NIR");
    }

    #[test]
    fn identity_agrees_unless_a_field_known_on_both_sides_differs() {
        let subject = Subject { nirs: vec![], sex: Some(Sex::Male), birth_year: Some(1950) };
        let known = |sex, birth_year| KnownIdentity { sex, birth_year };
        assert!(known(Some(Sex::Male), Some(1950)).agrees_with(&subject));
        assert!(known(None, None).agrees_with(&subject));
        assert!(!known(Some(Sex::Female), Some(1950)).agrees_with(&subject));
        assert!(!known(None, Some(1951)).agrees_with(&subject));
        let vague = Subject { nirs: vec![], sex: None, birth_year: None };
        assert!(known(Some(Sex::Female), Some(1951)).agrees_with(&vague));
    }
}
