//! The edge's one error type, and its translation into REST answers:
//! `{"detail": …}` bodies. A failure of the core is answered as the table in
//! `failure.rs` says (Google's gRPC → HTTP table).

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tonic::Code;

use crate::failure::{Detail, Failure};

/// Everything that can stop an edge request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable `Authorization: Bearer <jwt>` header; answered without asking the core.
    #[error("authentication credentials were not provided")]
    MissingCredentials,
    /// The query, path or body is malformed; the text is safe to show to the client.
    #[error("{0}")]
    InvalidRequest(String),
    /// The path names nothing that can exist (a non-numeric or non-positive id).
    #[error("not found")]
    NotFound,
    /// The core answered with a failure status.
    #[error("the core answered {code:?}", code = .0.code())]
    Core(tonic::Status),
    /// The connection to the core failed under the call (tonic made the
    /// status from a transport error; its message is library text).
    #[error("the connection to the core failed: {code:?}", code = .0.code())]
    CoreTransport(tonic::Status),
    /// The core gave no answer within the deadline.
    #[error("the core did not answer within {0:?}")]
    CoreDeadline(Duration),
    /// The configured core URL is not a valid URI.
    #[error("invalid core URL")]
    InvalidCoreUrl(#[source] tonic::transport::Error),
}

/// The JSON body of every REST error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A human-readable reason, never internals.
    pub detail: String,
}

impl Error {
    /// The HTTP status and the client-safe detail of this error.
    pub fn status_and_detail(&self) -> (StatusCode, String) {
        match self {
            Error::MissingCredentials => (
                StatusCode::UNAUTHORIZED,
                "Authentication credentials were not provided.".to_owned(),
            ),
            Error::InvalidRequest(detail) => (StatusCode::BAD_REQUEST, detail.clone()),
            Error::NotFound => (StatusCode::NOT_FOUND, "Not found.".to_owned()),
            Error::Core(status) => answer(self.failure(), status.message()),
            Error::CoreTransport(_) | Error::CoreDeadline(_) | Error::InvalidCoreUrl(_) => {
                answer(self.failure(), "")
            }
        }
    }

    /// What kind of failure this is for the client (see `failure.rs`).
    pub fn failure(&self) -> Failure {
        Failure::of(self.code())
    }

    /// The gRPC code behind this error: what [`Error::failure`] reads, and what logs name.
    pub fn code(&self) -> Code {
        match self {
            Error::MissingCredentials => Code::Unauthenticated,
            Error::InvalidRequest(_) => Code::InvalidArgument,
            Error::NotFound => Code::NotFound,
            Error::Core(status) => status.code(),
            Error::CoreTransport(_) => Code::Unavailable,
            Error::CoreDeadline(_) => Code::DeadlineExceeded,
            Error::InvalidCoreUrl(_) => Code::Internal,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, detail) = self.status_and_detail();
        if status.is_server_error() {
            tracing::warn!(error = %self, grpc_message = core_message(&self), "request failed");
        }
        let mut response = (status, Json(ErrorBody { detail })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The REST answer for `failure`; `core_message` is the detail when the
/// table lets the core's message through.
fn answer(failure: Failure, core_message: &str) -> (StatusCode, String) {
    let (status, detail) = failure.http();
    let detail = match detail {
        Detail::FromCore(fallback) if core_message.trim().is_empty() => fallback,
        Detail::FromCore(_) => core_message,
        Detail::Fixed(text) => text,
    };
    (status, detail.to_owned())
}

/// The core's status message for logs (it carries no tokens and no message texts).
fn core_message(error: &Error) -> &str {
    match error {
        Error::Core(status) | Error::CoreTransport(status) => status.message(),
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_failures_never_leak_the_core_message() {
        let error = Error::Core(tonic::Status::internal(
            "relation \"messages\" does not exist",
        ));
        let (status, detail) = error.status_and_detail();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!detail.contains("relation"));
    }

    #[test]
    fn client_failures_carry_the_core_message() {
        let error = Error::Core(tonic::Status::not_found("no such message"));
        assert_eq!(error.status_and_detail().1, "no such message");
    }

    #[test]
    fn unauthorized_answers_carry_www_authenticate() {
        let response = Error::MissingCredentials.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    #[test]
    fn a_transport_failure_never_shows_library_text() {
        let status = tonic::Status::resource_exhausted("h2 protocol error: too_many_continuations");
        let (status, detail) = Error::CoreTransport(status).status_and_detail();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!detail.contains("h2"), "{detail}");
    }

    #[test]
    fn a_missed_deadline_is_a_gateway_timeout() {
        let error = Error::CoreDeadline(Duration::from_secs(1));
        assert_eq!(error.status_and_detail().0, StatusCode::GATEWAY_TIMEOUT);
    }
}
