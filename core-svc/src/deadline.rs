//! A request's deadline: the instant its caller stops waiting (from the
//! `grpc-timeout` it sent), and whether it already has (the request was
//! dropped: the caller cancelled, or the server's timeout answered for us).
//!
//! A write checks it before it commits and hands what is left of it to
//! PostgreSQL as lock and statement timeouts, so that a send its caller was
//! told had failed is never stored later, after the caller's next sends.

use std::time::{Duration, Instant};

use tokio_util::sync::{CancellationToken, DropGuard};

use crate::error::Error;

/// The longest a request may take, and the deadline of one without a
/// (valid) `grpc-timeout`.
pub const MAX_DEADLINE: Duration = Duration::from_secs(30);

/// When a request's caller stops waiting; cheap to clone.
#[derive(Debug, Clone)]
pub struct Deadline {
    at: Instant,
    abandoned: CancellationToken,
}

impl Deadline {
    /// A deadline `timeout` from now, at most [`MAX_DEADLINE`].
    pub fn after(timeout: Duration) -> Self {
        Self {
            at: Instant::now() + timeout.min(MAX_DEADLINE),
            abandoned: CancellationToken::new(),
        }
    }

    /// The deadline a `grpc-timeout` header value (`"5000m"`) names;
    /// [`MAX_DEADLINE`] when absent or malformed.
    pub fn from_grpc_timeout(header: Option<&str>) -> Self {
        Self::after(header.and_then(parse_grpc_timeout).unwrap_or(MAX_DEADLINE))
    }

    /// The time left, at least a millisecond; `DeadlineExceeded` once it
    /// has passed or the request was abandoned.
    pub fn remaining(&self) -> Result<Duration, Error> {
        let left = self.at.saturating_duration_since(Instant::now());
        if self.abandoned.is_cancelled() || left < Duration::from_millis(1) {
            return Err(Error::DeadlineExceeded);
        }
        Ok(left)
    }

    /// `DeadlineExceeded` once the deadline has passed or the request was abandoned.
    pub fn check(&self) -> Result<(), Error> {
        self.remaining().map(|_| ())
    }

    /// A guard that marks the request abandoned when dropped: held by the
    /// request future, so that work it spawned learns when it is gone.
    pub fn abandon_on_drop(&self) -> DropGuard {
        self.abandoned.clone().drop_guard()
    }
}

/// `grpc-timeout`: 1 to 8 digits and a unit (gRPC over HTTP/2, "Timeout").
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let split = value.len().checked_sub(1)?;
    let (digits, unit) = value.split_at_checked(split)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    match unit {
        "H" => Some(Duration::from_secs(amount.saturating_mul(3600))),
        "M" => Some(Duration::from_secs(amount.saturating_mul(60))),
        "S" => Some(Duration::from_secs(amount)),
        "m" => Some(Duration::from_millis(amount)),
        "u" => Some(Duration::from_micros(amount)),
        "n" => Some(Duration::from_nanos(amount)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_of_grpc_timeout_is_understood() {
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("5000m"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("5000000u"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("10n"), Some(Duration::from_nanos(10)));
    }

    #[test]
    fn a_malformed_grpc_timeout_is_ignored() {
        for value in ["", "m", "5", "123456789m", "-5m", "5x", "5 m", "５m"] {
            assert_eq!(parse_grpc_timeout(value), None, "{value:?}");
        }
    }

    #[test]
    fn no_grpc_timeout_means_the_longest_deadline() {
        let left = Deadline::from_grpc_timeout(None).remaining().unwrap();
        assert!(left > MAX_DEADLINE - Duration::from_secs(1));
    }

    #[test]
    fn a_caller_cannot_ask_for_more_than_the_longest_deadline() {
        let left = Deadline::from_grpc_timeout(Some("99H"))
            .remaining()
            .unwrap();
        assert!(left <= MAX_DEADLINE);
    }

    #[test]
    fn a_passed_deadline_is_exceeded() {
        let deadline = Deadline::after(Duration::ZERO);
        assert!(matches!(deadline.check(), Err(Error::DeadlineExceeded)));
    }

    #[test]
    fn an_abandoned_request_is_past_its_deadline() {
        let deadline = Deadline::after(Duration::from_secs(5));
        drop(deadline.abandon_on_drop());
        assert!(matches!(deadline.check(), Err(Error::DeadlineExceeded)));
    }
}
