//! The flags of `POST /v1/cases` made a [`SubmitRequest`]: categories, the offered service's
//! code and its words, the deadline, the encoding; `year` is refused (a submission counts ages
//! on its own day). A bad flag is a 400 naming it.

use std::path::PathBuf;

use passerelle_protocol::rules::DEFAULT_RESPOND_BY;
use passerelle_protocol::{catalogue, offered_service};
use passerelle_selection::Encoding;

use super::SubmitQuery;
use crate::service::SubmitRequest;
use passerelle_local_api::ApiError;

/// The request a query makes; a bad flag is a 400 naming it.
pub(super) fn submit_request(query: &SubmitQuery) -> Result<SubmitRequest, ApiError> {
    let wanted = catalogue::parse_list(&query.want).map_err(|e| ApiError::bad_request(format!("--want: {e}")))?;
    let service =
        offered_service::parse(&query.service).map_err(|e| ApiError::bad_request(format!("--service: {e}")))?;
    if query.year.is_some() {
        return Err(ApiError::bad_request(
            "year: a submission counts ages on the day it is made (today, in the body's legal time zone); only \
             `requester check --year` checks at another date",
        ));
    }
    let respond_by = match &query.respond_by {
        Some(text) => crate::parse_duration(text).map_err(|e| ApiError::bad_request(format!("--respond-by: {e}")))?,
        None => DEFAULT_RESPOND_BY,
    };
    let encoding = match query.encoding.as_deref() {
        None | Some("utf-8") | Some("utf8") => Encoding::Utf8,
        Some("windows-1252") | Some("cp1252") => Encoding::Windows1252,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "--encoding: `{other}` is not an encoding of selection files (utf-8, windows-1252)"
            )))
        }
    };
    Ok(SubmitRequest {
        selection: PathBuf::from(query.name.as_deref().unwrap_or("selection")),
        encoding,
        wanted,
        service,
        purpose: query.purpose.clone().unwrap_or_default(),
        respond_by,
        // The daemon writes its own copy in its out_dir; the agent's copy is the CLI's.
        out: None,
        strict: query.strict,
    })
}
