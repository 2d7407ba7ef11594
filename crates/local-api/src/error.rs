//! What a refused or failed call answers: an HTTP status and a JSON body
//! `{"error": "<sentence for the agent>", "code": "<machine code>"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A sentence the agent can act on.
    pub error: String,
    /// `not_an_agent`, `not_permitted`, `bad_request`, `not_found`, `conflict`, `internal` (and a
    /// daemon's own codes, with their status).
    pub code: String,
}

/// An error answer of a handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, error: impl Into<String>) -> ApiError {
        ApiError { status, body: ErrorBody { error: error.into(), code: code.to_owned() } }
    }

    /// 403: the account is no agent of the registry.
    pub fn not_an_agent(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "not_an_agent", error)
    }

    /// 403: the agent lacks the role (or the office) the call needs.
    pub fn not_permitted(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "not_permitted", error)
    }

    /// 400: the request cannot be used; the sentence says what is wrong.
    pub fn bad_request(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", error)
    }

    /// 404: what the call names does not exist.
    pub fn not_found(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", error)
    }

    /// 409: what the call asks contradicts what is recorded; the sentence says where the change
    /// goes instead.
    pub fn conflict(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", error)
    }

    /// 500: the daemon failed; the cause is logged with its chain, the agent is told what
    /// failed (never a datum).
    pub fn internal(what: &str, cause: &(dyn std::error::Error + 'static)) -> ApiError {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!(error = %chain, "{what}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("{what}; the daemon's log says why"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.body.error)
    }
}

impl std::error::Error for ApiError {}
