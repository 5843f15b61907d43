//! The core's one error type and its mapping to gRPC status codes.

use tonic::{Code, Status};

use crate::{auth::AuthError, domain::InvalidInput};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Unauthenticated(#[from] AuthError),
    #[error("{0}")]
    PermissionDenied(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    InvalidArgument(&'static str),
    #[error("{0}")]
    ResourceExhausted(&'static str),
    /// The service is stopping; the caller should reconnect elsewhere.
    #[error("server shutting down")]
    ShuttingDown,
    /// The request's deadline passed (or its caller went away) before the
    /// work committed; nothing was changed.
    #[error("deadline exceeded")]
    DeadlineExceeded,
    /// The database cannot be reached; the caller may retry.
    #[error("storage unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else that went wrong inside; never shown to the caller.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<InvalidInput> for Error {
    fn from(err: InvalidInput) -> Self {
        Self::InvalidArgument(err.0)
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let code = match &err {
            Error::Unauthenticated(_) => Code::Unauthenticated,
            Error::PermissionDenied(_) => Code::PermissionDenied,
            Error::NotFound(_) => Code::NotFound,
            Error::InvalidArgument(_) => Code::InvalidArgument,
            Error::ResourceExhausted(_) => Code::ResourceExhausted,
            Error::ShuttingDown => Code::Unavailable,
            Error::DeadlineExceeded => {
                tracing::warn!("gave up at the deadline");
                Code::DeadlineExceeded
            }
            Error::Unavailable(cause) => {
                tracing::warn!(error = %ErrorChain(cause.as_ref()), "storage unavailable");
                Code::Unavailable
            }
            Error::Internal(cause) => {
                tracing::error!(error = %ErrorChain(cause.as_ref()), "internal error");
                Code::Internal
            }
        };
        Status::new(code, err.to_string())
    }
}

/// Formats an error with its whole `source()` chain, for logs.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let cause: Box<dyn std::error::Error + Send + Sync> =
            "relation \"messages\" does not exist".into();
        let status = Status::from(Error::Internal(cause));
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
    }

    #[test]
    fn rule_violations_keep_their_reason() {
        let status = Status::from(Error::PermissionDenied("not a member of this room"));
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(status.message(), "not a member of this room");
    }
}
