//! The edge's one error type, and its translation into REST answers:
//! `{"detail": …}` bodies, with gRPC codes mapped by Google's table.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tonic::Code;

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

/// Where the `detail` of a mapped gRPC failure comes from.
enum Detail {
    /// The core's own status message (written for clients), or this text when it is empty.
    FromCore(&'static str),
    /// Always this text: the core's message may hold internals.
    Fixed(&'static str),
}

/// Google's `google.rpc.Code` → HTTP table, the one place it is written down.
fn http_for(code: Code) -> (StatusCode, Detail) {
    use Detail::{Fixed, FromCore};
    match code {
        Code::InvalidArgument => (StatusCode::BAD_REQUEST, FromCore("Invalid request.")),
        Code::Unauthenticated => (
            StatusCode::UNAUTHORIZED,
            FromCore("Given token not valid for any token type."),
        ),
        Code::PermissionDenied => (
            StatusCode::FORBIDDEN,
            FromCore("You do not have permission to perform this action."),
        ),
        Code::NotFound => (StatusCode::NOT_FOUND, FromCore("Not found.")),
        Code::AlreadyExists => (StatusCode::CONFLICT, FromCore("Already exists.")),
        Code::ResourceExhausted => (
            StatusCode::TOO_MANY_REQUESTS,
            FromCore("Request was throttled."),
        ),
        Code::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            Fixed("The chat service is unavailable, try again later."),
        ),
        Code::DeadlineExceeded => (
            StatusCode::GATEWAY_TIMEOUT,
            Fixed("The chat service did not answer in time."),
        ),
        Code::Ok
        | Code::Cancelled
        | Code::Unknown
        | Code::FailedPrecondition
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unimplemented
        | Code::Internal
        | Code::DataLoss => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Fixed("Internal server error."),
        ),
    }
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
            Error::Core(status) => {
                let (http, detail) = http_for(status.code());
                let detail = match detail {
                    Detail::FromCore(fallback) if status.message().trim().is_empty() => fallback,
                    Detail::FromCore(_) => status.message(),
                    Detail::Fixed(text) => text,
                };
                (http, detail.to_owned())
            }
            Error::CoreTransport(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The chat service is unavailable, try again later.".to_owned(),
            ),
            Error::CoreDeadline(_) => (
                StatusCode::GATEWAY_TIMEOUT,
                "The chat service did not answer in time.".to_owned(),
            ),
            Error::InvalidCoreUrl(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error.".to_owned(),
            ),
        }
    }

    /// The gRPC code behind this error, as the WebSocket side needs it.
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
    fn google_table_maps_client_codes() {
        let pairs = [
            (Code::InvalidArgument, 400),
            (Code::Unauthenticated, 401),
            (Code::PermissionDenied, 403),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::ResourceExhausted, 429),
            (Code::Unavailable, 503),
            (Code::DeadlineExceeded, 504),
            (Code::Internal, 500),
            (Code::Unknown, 500),
        ];
        for (code, http) in pairs {
            assert_eq!(http_for(code).0.as_u16(), http, "{code:?}");
        }
    }

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
