//! The identifiers that cross crate boundaries: a case's id ([`CaseId`]), a body's code
//! ([`BodyCode`]) and an observatory's code ([`ObservatoryCode`]).
//!
//! Each is validated once, where it enters (a wire message, a setting, a command line), so the
//! stores and the engine never hold an unchecked `&str`. They serialise as plain strings.
//!
//! The rule for party codes ([`is_party_code`]) is the one queue names need: the broker topology
//! builds queue and routing names from them.

use std::fmt;
use std::str::FromStr;

/// Whether a text is usable as a party code (body or observatory): not empty, lowercase ASCII
/// letters, digits, `-` and `_` only.
pub fn is_party_code(code: &str) -> bool {
    !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The longest office code a request may give (`caf-13`, `cpam-75-paris`…).
pub const MAX_OFFICE_LEN: usize = 32;

/// Whether `code` is usable as a requester's office code: a party code (same syntax, since it
/// names an office of a body) of at most [`MAX_OFFICE_LEN`] characters.
pub fn is_office_code(code: &str) -> bool {
    code.len() <= MAX_OFFICE_LEN && is_party_code(code)
}

/// Why an identifier was refused. Never repeats more than a short prefix of the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not a UUID.
    #[error("the case id must be a UUID")]
    CaseId,
    /// Not a party code.
    #[error("{kind} code `{shown}`: use lowercase letters, digits, `-` and `_`")]
    PartyCode {
        /// `body` or `observatory`.
        kind: &'static str,
        /// The text given (shortened).
        shown: String,
    },
}

/// At most 40 characters of a text, with `…` when cut, for error messages.
fn shorten(text: &str) -> String {
    let mut shown: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        shown.push('…');
    }
    shown
}

/// A case's id: the UUID the requester chose, kept as the text it sent (the replies and the
/// store use the same text, so a requester that writes its UUIDs in capitals is still matched).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseId {
    text: String,
    uuid: uuid::Uuid,
}

impl CaseId {
    /// Checks that `text` is a UUID (any form [`uuid::Uuid::parse_str`] reads).
    pub fn parse(text: &str) -> Result<CaseId, IdError> {
        let uuid = uuid::Uuid::parse_str(text).map_err(|_| IdError::CaseId)?;
        Ok(CaseId { text: text.to_owned(), uuid })
    }

    /// A fresh random case id, in the hyphenated lowercase form.
    pub fn new_v4() -> CaseId {
        CaseId::from(uuid::Uuid::new_v4())
    }

    /// The UUID.
    pub fn uuid(&self) -> uuid::Uuid {
        self.uuid
    }

    /// The text, as received.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<uuid::Uuid> for CaseId {
    fn from(uuid: uuid::Uuid) -> Self {
        CaseId { text: uuid.to_string(), uuid }
    }
}

macro_rules! party_code {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Checks the party code rule ([`is_party_code`]).
            pub fn parse(text: &str) -> Result<$name, IdError> {
                if is_party_code(text) {
                    Ok($name(text.to_owned()))
                } else {
                    Err(IdError::PartyCode { kind: $kind, shown: shorten(text) })
                }
            }

            /// The code.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

party_code!(
    /// A body's code (`cnaf`, `cnam`, …): a party that answers solicitations.
    BodyCode,
    "body"
);
party_code!(
    /// An observatory's code (`cnav-idf`, `carsat-bretagne`, …).
    ObservatoryCode,
    "observatory"
);

macro_rules! string_like {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                self.as_str()
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
        impl FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                $name::parse(text)
            }
        }
        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(text: &str) -> Result<Self, IdError> {
                $name::parse(text)
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<Self, IdError> {
                $name::parse(&text)
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.as_str().to_owned()
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_like!(CaseId);
string_like!(BodyCode);
string_like!(ObservatoryCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_are_uuids_kept_as_sent() {
        let text = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let id: CaseId = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
        assert_eq!(id.uuid().to_string(), text);
        let upper = CaseId::parse(&text.to_uppercase()).unwrap();
        assert_eq!(upper.as_str(), text.to_uppercase(), "the text is kept as the requester sent it");
        assert_eq!(CaseId::parse("case-1"), Err(IdError::CaseId));
        assert_eq!(CaseId::parse(""), Err(IdError::CaseId));
        let fresh = CaseId::new_v4();
        assert_eq!(CaseId::parse(fresh.as_str()).unwrap(), fresh);
    }

    #[test]
    fn party_codes_follow_the_queue_name_rule() {
        assert_eq!(BodyCode::parse("cnaf").unwrap(), "cnaf");
        assert_eq!(ObservatoryCode::parse("carsat-alsace-moselle").unwrap().as_ref(), "carsat-alsace-moselle");
        BodyCode::parse("msa_2").unwrap();
        for bad in ["", "CNAF", "cnaf.x", "cnaf x", "cnaf#"] {
            assert!(BodyCode::parse(bad).is_err(), "{bad:?}");
            assert!(ObservatoryCode::parse(bad).is_err(), "{bad:?}");
            assert!(!is_party_code(bad), "{bad:?}");
        }
        let long = "X".repeat(100);
        let shown = BodyCode::parse(&long).unwrap_err().to_string();
        assert!(shown.len() < 100, "{shown}");
    }

    #[test]
    fn serde_is_a_plain_string_and_validates() {
        let id = BodyCode::parse("cnav").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"cnav\"");
        assert_eq!(serde_json::from_str::<BodyCode>("\"cnav\"").unwrap(), id);
        assert!(serde_json::from_str::<BodyCode>("\"CNAV\"").is_err());
        let case = CaseId::new_v4();
        assert_eq!(serde_json::from_str::<CaseId>(&serde_json::to_string(&case).unwrap()).unwrap(), case);
        assert!(serde_json::from_str::<CaseId>("\"nope\"").is_err());
    }
}
