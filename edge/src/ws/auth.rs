//! Who a socket speaks for, and until when: the `{"type": "auth"}` frame,
//! both as the first frame of a socket opened without a token (within
//! [`AUTH_TIMEOUT`], else 4401) and on an open socket, where a valid token of
//! the same user replaces the socket's token (`auth_ok`) and one that fails
//! or names another user is refused (`invalid_token`) and changes nothing.
//!
//! The edge verifies no token and reads no claims: the core does, and tells
//! the edge the user id and the `exp` it verified ([`Credentials`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tungstenite::Message;

use super::upgrade::WebSocket;
use futures::StreamExt;
use futures::stream::SplitStream;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::close::{CloseReason, End};
use super::protocol::{ControlFrame, ErrorCode, ServerFrame};
use super::writer::Outbound;
use crate::core_client::{BearerToken, CoreClient};
use crate::error::Error;

/// How long a socket opened without a token may take to send its `auth` frame.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(5);
/// Expiries further away than this count as never (no timer is set for them).
const FOREVER: Duration = Duration::from_secs(100 * 366 * 24 * 3600);

/// Why an `auth` frame carries no usable token; the `invalid_token` detail.
pub type BadToken = &'static str;

/// What the core verified about a socket's token.
#[derive(Debug)]
pub(super) struct Credentials {
    /// The token, forwarded on every call the socket makes.
    pub token: BearerToken,
    /// The user its `sub` resolved to; a replacement must resolve to the same.
    pub user_id: i64,
    /// When the token stops working.
    pub expiry: Expiry,
}

/// The moment a token expires on tokio's clock; `None` when that lies
/// beyond what the clock can represent (a far-future `exp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry(Option<Instant>);

impl Expiry {
    /// The expiry of a verified `exp`, in Unix seconds.
    pub fn at_unix(exp: u64) -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self::at_unix_from(exp, since_epoch, Instant::now())
    }

    /// `exp` measured from `now`, which is `since_epoch` after the Unix epoch.
    fn at_unix_from(exp: u64, since_epoch: Duration, now: Instant) -> Self {
        let left = Duration::from_secs(exp).saturating_sub(since_epoch);
        if left > FOREVER {
            return Self(None);
        }
        Self(now.checked_add(left))
    }

    /// Completes when the token expires; never, for an unrepresentable expiry.
    pub async fn passed(self) {
        match self.0 {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    }
}

/// Whether a client frame is an `auth` frame (an object with `"type": "auth"`).
pub fn is_auth_frame(object: &Map<String, Value>) -> bool {
    object.get("type").and_then(Value::as_str) == Some("auth")
}

/// The token of an `auth` frame, or why it has none a core could accept.
pub fn auth_token(frame: Value) -> Result<BearerToken, BadToken> {
    let ControlFrame::Auth { token } =
        serde_json::from_value(frame).map_err(|_| "\"token\" must be a string.")?;
    BearerToken::parse(&token).ok_or("\"token\" is no bearer token.")
}

/// The token of a socket opened without one: its first frame must be an
/// `auth` frame within [`AUTH_TIMEOUT`]. Anything else closes with 4401.
pub(super) async fn first_frame(stream: &mut SplitStream<WebSocket>) -> Result<BearerToken, End> {
    let unauthenticated = End::Close(CloseReason::UNAUTHENTICATED);
    let deadline = Instant::now() + AUTH_TIMEOUT;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        let message = match next {
            Err(_elapsed) => {
                tracing::info!("no auth frame in time");
                return Err(unauthenticated);
            }
            Ok(None | Some(Err(_))) => return Err(End::ClientGone),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => {
                return token_of_first_frame(text.as_str()).ok_or(unauthenticated);
            }
            // Raw frames are only ever written, never read.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            Message::Binary(_) => return Err(unauthenticated),
            Message::Close(_) => return Err(End::ClientClosed),
        }
    }
}

fn token_of_first_frame(text: &str) -> Option<BearerToken> {
    let value: Value = serde_json::from_str(text).ok()?;
    if !value.as_object().is_some_and(is_auth_frame) {
        return None;
    }
    auth_token(value).ok()
}

/// An `auth` frame on an open socket: the token replaces the socket's when
/// the core accepts it for the same user (`auth_ok`); otherwise an error
/// frame, and the socket keeps its token.
pub(super) async fn refresh(
    core: &CoreClient,
    credentials: &mut Credentials,
    token: Result<BearerToken, BadToken>,
    out: &Outbound,
) -> Result<(), End> {
    let token = match token {
        Ok(token) => token,
        Err(detail) => return out.push_error(ErrorCode::InvalidToken, detail).await,
    };
    let user = match core.who_am_i(&token).await {
        Ok(user) => user,
        Err(error) => return refresh_failure(out, &error).await,
    };
    if user.id != credentials.user_id {
        let detail = "The token names another user.";
        return out.push_error(ErrorCode::InvalidToken, detail).await;
    }
    *credentials = Credentials {
        token,
        user_id: user.id,
        expiry: Expiry::at_unix(user.token_exp),
    };
    tracing::info!("token replaced in band");
    out.push(&ServerFrame::AuthOk {
        exp: user.token_exp,
    })
    .await
}

/// The error frame for a replacement token the core did not take (`Failure::on_auth`).
async fn refresh_failure(out: &Outbound, error: &Error) -> Result<(), End> {
    let (code, detail) = error.failure().on_auth();
    if code != ErrorCode::InvalidToken {
        tracing::warn!(code = ?error.code(), "token check failed");
    }
    out.push_error(code, detail).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(json: &str) -> Value {
        serde_json::from_str(json).expect("JSON")
    }

    #[test]
    fn an_expiry_is_measured_from_now() {
        let now = Instant::now();
        let since_epoch = Duration::from_secs(1_000);
        let expiry = Expiry::at_unix_from(1_060, since_epoch, now);
        assert_eq!(expiry, Expiry(Some(now + Duration::from_secs(60))));
    }

    #[test]
    fn a_past_exp_expires_now() {
        let now = Instant::now();
        let expiry = Expiry::at_unix_from(10, Duration::from_secs(1_000), now);
        assert_eq!(expiry, Expiry(Some(now)));
    }

    #[test]
    fn a_far_future_exp_never_expires_and_does_not_overflow() {
        let now = Instant::now();
        let expiry = Expiry::at_unix_from(u64::MAX, Duration::from_secs(1_000), now);
        assert_eq!(expiry, Expiry(None));
        assert_eq!(Expiry::at_unix(10_000_000_000_000_000_000), Expiry(None));
        assert_eq!(Expiry::at_unix(i64::MAX as u64), Expiry(None));
    }

    #[test]
    fn only_an_object_typed_auth_is_an_auth_frame() {
        let typed = |json: &str| frame(json).as_object().is_some_and(is_auth_frame);
        assert!(typed(r#"{"type": "auth", "token": "a.b.c"}"#));
        assert!(typed(r#"{"type": "auth"}"#));
        assert!(!typed(r#"{"message": "hi", "type": "other"}"#));
        assert!(!typed(r#"{"message": "auth"}"#));
        assert!(!typed(r#"["auth"]"#));
    }

    #[test]
    fn an_auth_frame_yields_its_token() {
        let token = auth_token(frame(r#"{"type": "auth", "token": "a.b.c", "x": 1}"#));
        assert!(token.is_ok());
    }

    #[test]
    fn an_auth_frame_without_a_usable_token_is_refused() {
        for json in [
            r#"{"type": "auth"}"#,
            r#"{"type": "auth", "token": 5}"#,
            r#"{"type": "auth", "token": null}"#,
            r#"{"type": "auth", "token": ""}"#,
            r#"{"type": "auth", "token": "a b"}"#,
        ] {
            assert!(auth_token(frame(json)).is_err(), "{json}");
        }
    }

    #[test]
    fn only_an_auth_frame_with_a_token_opens_a_socket() {
        assert!(token_of_first_frame(r#"{"type": "auth", "token": "a.b.c"}"#).is_some());
        for text in [
            r#"{"message": "hi"}"#,
            r#"{"type": "auth"}"#,
            "not json",
            r#"[{"type": "auth", "token": "a.b.c"}]"#,
        ] {
            assert!(token_of_first_frame(text).is_none(), "{text}");
        }
    }
}
