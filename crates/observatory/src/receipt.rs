//! A requester's receipt as the engine takes it: converted from the wire's `v1::Receipt` at
//! the edge, with its case id checked once.
//!
//! A receipt whose case id is not a UUID names no case this observatory can hold (a request
//! with such an id is refused without a case row), so the conversion's error is the dead-letter
//! reason an unknown case gets.

use passerelle_protocol::ids::CaseId;
use passerelle_protocol::v1;

use crate::engine::quoted_id;

/// A receipt: the requester holds the whole result of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Receipt {
    /// The requester's body code as sent; compared with the case's requester.
    pub sender: String,
    pub case_id: CaseId,
    /// How many result chunks the requester holds.
    pub chunks_received: u32,
}

/// Why a receipt cannot be taken: its reason is the dead-letter reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub(crate) struct ReceiptError {
    pub reason: String,
}

impl TryFrom<&v1::Receipt> for Receipt {
    type Error = ReceiptError;

    fn try_from(r: &v1::Receipt) -> Result<Receipt, ReceiptError> {
        let case_id = CaseId::parse(&r.case_id)
            .map_err(|_| ReceiptError { reason: format!("no case {} at this observatory", quoted_id(&r.case_id)) })?;
        Ok(Receipt { sender: r.sender.clone(), case_id, chunks_received: r.chunks_received })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(case_id: &str) -> v1::Receipt {
        v1::Receipt {
            schema_version: 1,
            sender: "cnaf".into(),
            case_id: case_id.into(),
            chunks_received: 2,
            schema_minor: 0,
        }
    }

    #[test]
    fn a_uuid_case_id_converts_and_anything_else_is_an_unknown_case() {
        let id = uuid::Uuid::now_v7().to_string();
        let r = Receipt::try_from(&wire(&id)).unwrap();
        assert_eq!((r.case_id.as_str(), r.sender.as_str(), r.chunks_received), (id.as_str(), "cnaf", 2));
        let e = Receipt::try_from(&wire("dossier-42")).unwrap_err();
        assert_eq!(e.reason, "no case dossier-42 at this observatory");
        let e = Receipt::try_from(&wire("")).unwrap_err();
        assert_eq!(e.reason, "no case (withheld: 0 characters, not an identifier) at this observatory");
        let e = Receipt::try_from(&wire("Marie DUPONT")).unwrap_err();
        assert_eq!(e.reason, "no case (withheld: 12 characters, not an identifier) at this observatory");
    }
}
