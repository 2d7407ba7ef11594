//! The local API's wire types of a case file's transfer between bodies (norm 43, A.3), format
//! `passerelle.social-service-transfers/1`. Both directions are listed the same way: a transfer
//! this office sent (`out`) and one sent to it (`in`). No view carries a value of the file but
//! [`IncomingTransferView::person`], shown to the receiving office's social worker who must
//! confirm the person is attached to the office before the file is imported.
//!
//! | route | roles | answer |
//! |---|---|---|
//! | `POST /v1/transfers`, body [`SendTransfer`] | `social-worker` of the office | [`TransferView`] (`sending`) |
//! | `POST /v1/transfers/release`, body [`ReleaseMedical`] | `medical-officer` | [`ReleaseView`] |
//! | `GET /v1/transfers?direction=out\|in&after=ID&limit=N` | `social-worker` of the office | [`TransferList`] |
//! | `GET /v1/transfers/summary` | `operator` or `social-worker` of the office | [`TransferSummary`] |
//! | `GET /v1/transfers/{id}` | `social-worker` of the office | [`IncomingTransferView`] |
//! | `POST /v1/transfers/{id}/accept` | `social-worker` of the receiving office | [`TransferView`] |
//! | `POST /v1/transfers/{id}/refuse`, body [`RefuseTransfer`] | `social-worker` of the receiving office | [`TransferView`] |

use serde::{Deserialize, Serialize};

/// The format tag of the transfer views.
pub const TRANSFERS_FORMAT: &str = "passerelle.social-service-transfers/1";

/// `POST /v1/transfers` (a `social-worker` of the file's office): freeze the file and send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendTransfer {
    /// The file's id in this office.
    pub file: String,
    /// The receiving social service, `BODY/OFFICE` (`cramif/ss-75`).
    pub to: String,
    /// The social worker releases the assessment (norm 43, I.7) for this transfer; without it
    /// the assessment stays here and the receiver is told it exists.
    #[serde(default)]
    pub release_assessment: bool,
}

/// `POST /v1/transfers/release` (a `medical-officer` of the body): release the medical
/// service's opinions (norm 43, I.10) of `file` for its next transfer to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseMedical {
    pub file: String,
    /// `BODY/OFFICE`.
    pub to: String,
}

/// The answer to a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseView {
    pub format: String,
    pub file: String,
    pub to: String,
    /// `medical-opinions`.
    pub item: String,
    pub released_by: String,
    /// RFC 3339.
    pub released_at: String,
}

/// `POST /v1/transfers/{id}/refuse` (a `social-worker` of the receiving office).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefuseTransfer {
    /// `person-not-attached` or `already-followed`.
    pub reason: String,
}

/// One transfer, sent or received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferView {
    pub id: String,
    /// `out` (this office sent it) or `in` (sent to this office).
    pub direction: String,
    /// The file here: the sent file (`out`), the imported one once accepted (`in`).
    pub file: Option<String>,
    /// `BODY/OFFICE`.
    pub from: String,
    /// `BODY/OFFICE`.
    pub to: String,
    /// `out`: `sending` (committed, not yet confirmed by the broker), `sent` (awaiting the
    /// receipt), `accepted`, `refused`; `in`: `receiving` (chunks missing), `awaiting-attachment`
    /// (a social worker must confirm the person is attached), `accepted`, `refused`.
    pub state: String,
    /// RFC 3339: when the sender froze the file and sent it.
    pub sent_at: String,
    /// RFC 3339: when the receiver decided (its receipt's time).
    pub decided_at: Option<String>,
    /// A refusal's code: `unknown-office`, `not-health-insurance`, `person-not-attached`,
    /// `file-malformed`, `already-followed`, `not-sent` (never left this office).
    pub refusal: Option<String>,
    /// The refusal in words.
    pub refusal_text: Option<String>,
    /// The items left at the sending body (`medical-opinions`, `social-assessment`).
    pub withheld: Vec<String>,
    /// Amendments (rectifications, erasures) sent on (`out`) or applied (`in`).
    pub amendments: u32,
}

/// `GET /v1/transfers?direction=out|in&after=ID&limit=N`: an office's transfers, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferList {
    pub format: String,
    pub office: String,
    pub transfers: Vec<TransferView>,
    /// The cursor of the next page, if any.
    pub next: Option<String>,
}

/// The identity a receiving social worker checks the attachment against (norm 43, I.1–I.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferredPerson {
    pub nir: Option<String>,
    pub family_name: Option<String>,
    pub usage_name: Option<String>,
    pub given_names: Option<String>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
}

/// `GET /v1/transfers/{id}`: one transfer; for one awaiting attachment at this office, the
/// person's identity (a `read` in the access log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingTransferView {
    pub format: String,
    pub transfer: TransferView,
    pub person: Option<TransferredPerson>,
}

/// `GET /v1/transfers/summary` (an `operator` or a `social-worker`): counts only, no person.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TransferSummary {
    pub format: String,
    /// Sent, not yet answered (`sending` + `sent`).
    pub out_in_flight: u64,
    /// Received, awaiting a social worker's confirmation or missing chunks.
    pub in_awaiting: u64,
    /// The oldest transfer in flight either way, RFC 3339.
    pub oldest_in_flight: Option<String>,
    /// Refusals (both ways) by reason code, over the last 30 days.
    pub refused_by_reason: std::collections::BTreeMap<String, u64>,
    pub accepted_out: u64,
    pub accepted_in: u64,
}
