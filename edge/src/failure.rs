//! One table from a failed core call to what the client sees. The gRPC code
//! of the failure picks a [`Failure`] (the one exhaustive `match` on
//! `tonic::Code` for answers), and every answer is derived from that kind:
//! the REST status and detail (Google's `google.rpc.Code` → HTTP table), the
//! close frame of a socket whose opening (or re-opening on a new link) the
//! core refused, the answer to a failed send or `auth` frame on an open
//! socket, and the user socket's answers.
//!
//! | gRPC code          | [`Failure`]       | HTTP | join, re-link | a send            | an `auth` frame | a user-socket frame | the user stream |
//! | ------------------ | ----------------- | ---- | ------------- | ----------------- | --------------- | ------------------- | --------------- |
//! | INVALID_ARGUMENT   | `Invalid`         | 400  | 4404          | `invalid_message` | `internal`      | `invalid_message`   | 1011            |
//! | UNAUTHENTICATED    | `Unauthenticated` | 401  | 4401          | close 4401        | `invalid_token` | close 4401          | 4401            |
//! | PERMISSION_DENIED  | `Forbidden`       | 403  | 4403          | close 4403        | `invalid_token` | `forbidden`         | 1011            |
//! | NOT_FOUND          | `NotFound`        | 404  | 4404          | close 4404        | `internal`      | `forbidden`         | 1011            |
//! | ALREADY_EXISTS     | `Conflict`        | 409  | 1011          | `internal`        | `internal`      | `internal`          | 1011            |
//! | RESOURCE_EXHAUSTED | `Throttled`       | 429  | 1013          | `rate_limited`    | `internal`      | `rate_limited`      | 1013            |
//! | UNAVAILABLE        | `Unavailable`     | 503  | 1011          | `unavailable`     | `unavailable`   | `unavailable`       | 1011            |
//! | DEADLINE_EXCEEDED  | `Timeout`         | 504  | 1011          | `unavailable`     | `unavailable`   | `unavailable`       | 1011            |
//! | any other          | `Internal`        | 500  | 1011          | `internal`        | `internal`      | `internal`          | 1011            |
//!
//! "A user-socket frame" is a `send`, `typing` or `read` of the user socket
//! (`ws/user/`), which names its room: a room that does not exist and one
//! the user is not in get the same `forbidden`. "The user stream" is the
//! close code of a user socket whose `InboxService.Stream` the core refused
//! or ended.
//!
//! A transport failure under a call counts as UNAVAILABLE and a missed
//! deadline as DEADLINE_EXCEEDED (`core_client::failure`, `Error::code`).
//! The REST detail of the first six rows is the core's own message (written
//! for clients) when it has one; the last three never show it. The close
//! codes themselves are described in `ws/close.rs`, the error frames in
//! `ws/protocol.rs`.

use axum::http::StatusCode;
use tonic::Code;

use crate::ws::close::CloseReason;
use crate::ws::protocol::ErrorCode;

/// What kind of failure a core call ended in, as far as the client is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request was refused as malformed.
    Invalid,
    /// The token is missing, invalid or expired.
    Unauthenticated,
    /// The caller may not do this (not a member of the room).
    Forbidden,
    /// The room, message or user does not exist.
    NotFound,
    /// The thing to create exists already.
    Conflict,
    /// The caller is throttled, or the core is overloaded.
    Throttled,
    /// The core could not be reached.
    Unavailable,
    /// The core did not answer in time.
    Timeout,
    /// Anything else: the core failed unexpectedly.
    Internal,
}

/// Where the REST `detail` of a failure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The core's own status message (written for clients), or this text when it is empty.
    FromCore(&'static str),
    /// Always this text: the core's message may hold internals.
    Fixed(&'static str),
}

/// What an open socket answers for a failed call made on the client's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketAnswer {
    /// An `error` frame with this code and detail; the socket stays open.
    Frame(ErrorCode, &'static str),
    /// The socket closes with this frame.
    Close(CloseReason),
}

impl Failure {
    /// The kind of a failure with this gRPC code: the one table.
    pub fn of(code: Code) -> Self {
        match code {
            Code::InvalidArgument => Failure::Invalid,
            Code::Unauthenticated => Failure::Unauthenticated,
            Code::PermissionDenied => Failure::Forbidden,
            Code::NotFound => Failure::NotFound,
            Code::AlreadyExists => Failure::Conflict,
            Code::ResourceExhausted => Failure::Throttled,
            Code::Unavailable => Failure::Unavailable,
            Code::DeadlineExceeded => Failure::Timeout,
            Code::Ok
            | Code::Cancelled
            | Code::Unknown
            | Code::FailedPrecondition
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unimplemented
            | Code::Internal
            | Code::DataLoss => Failure::Internal,
        }
    }

    /// The REST answer: Google's table, and where its `detail` comes from.
    pub fn http(self) -> (StatusCode, Detail) {
        use Detail::{Fixed, FromCore};
        match self {
            Failure::Invalid => (StatusCode::BAD_REQUEST, FromCore("Invalid request.")),
            Failure::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                FromCore("Given token not valid for any token type."),
            ),
            Failure::Forbidden => (
                StatusCode::FORBIDDEN,
                FromCore("You do not have permission to perform this action."),
            ),
            Failure::NotFound => (StatusCode::NOT_FOUND, FromCore("Not found.")),
            Failure::Conflict => (StatusCode::CONFLICT, FromCore("Already exists.")),
            Failure::Throttled => (
                StatusCode::TOO_MANY_REQUESTS,
                FromCore("Request was throttled."),
            ),
            Failure::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                Fixed("The chat service is unavailable, try again later."),
            ),
            Failure::Timeout => (
                StatusCode::GATEWAY_TIMEOUT,
                Fixed("The chat service did not answer in time."),
            ),
            Failure::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Fixed("Internal server error."),
            ),
        }
    }

    /// The close frame of a socket whose join, or re-opening on a new link, the core refused.
    pub fn close_reason(self) -> CloseReason {
        match self {
            Failure::Unauthenticated => CloseReason::UNAUTHENTICATED,
            Failure::Forbidden => CloseReason::FORBIDDEN,
            Failure::NotFound | Failure::Invalid => CloseReason::ROOM_NOT_FOUND,
            Failure::Throttled => CloseReason::TOO_SLOW,
            Failure::Conflict | Failure::Unavailable | Failure::Timeout | Failure::Internal => {
                CloseReason::CORE_UNAVAILABLE
            }
        }
    }

    /// The answer to a failed send: an error frame, or a close when the
    /// member may no longer send.
    pub fn on_send(self) -> SocketAnswer {
        match self {
            Failure::Invalid => {
                SocketAnswer::Frame(ErrorCode::InvalidMessage, "The message was refused.")
            }
            Failure::Throttled => {
                SocketAnswer::Frame(ErrorCode::RateLimited, "Too many messages; slow down.")
            }
            Failure::Unauthenticated | Failure::Forbidden | Failure::NotFound => {
                SocketAnswer::Close(self.close_reason())
            }
            Failure::Unavailable | Failure::Timeout => SocketAnswer::Frame(
                ErrorCode::Unavailable,
                "The chat service is unavailable; the message may not have been sent.",
            ),
            Failure::Conflict | Failure::Internal => {
                SocketAnswer::Frame(ErrorCode::Internal, "The message may not have been sent.")
            }
        }
    }

    /// The answer to a failed `send`, `typing` or `read` of the user socket:
    /// an error frame (`forbidden` for a room that does not exist as for one
    /// the user is not in), or a close once the token no longer works.
    pub fn on_user_frame(self) -> SocketAnswer {
        match self {
            Failure::Forbidden | Failure::NotFound => SocketAnswer::Frame(
                ErrorCode::Forbidden,
                "No such room, or you are not a member of it.",
            ),
            Failure::Unauthenticated => SocketAnswer::Close(CloseReason::UNAUTHENTICATED),
            Failure::Invalid => {
                SocketAnswer::Frame(ErrorCode::InvalidMessage, "The frame was refused.")
            }
            Failure::Throttled => {
                SocketAnswer::Frame(ErrorCode::RateLimited, "Too many messages; slow down.")
            }
            Failure::Unavailable | Failure::Timeout => SocketAnswer::Frame(
                ErrorCode::Unavailable,
                "The chat service is unavailable; it may not have been done.",
            ),
            Failure::Conflict | Failure::Internal => {
                SocketAnswer::Frame(ErrorCode::Internal, "It may not have been done.")
            }
        }
    }

    /// The close frame of a user socket whose stream the core refused or
    /// ended: clients reconnect with their last cursor, but for 4401.
    pub fn on_user_stream(self) -> CloseReason {
        match self {
            Failure::Unauthenticated => CloseReason::UNAUTHENTICATED,
            Failure::Throttled => CloseReason::TOO_SLOW,
            Failure::Invalid
            | Failure::Forbidden
            | Failure::NotFound
            | Failure::Conflict
            | Failure::Unavailable
            | Failure::Timeout
            | Failure::Internal => CloseReason::CORE_UNAVAILABLE,
        }
    }

    /// The error frame for a replacement token (an `auth` frame on an open
    /// socket) the core did not take; the socket keeps its token.
    pub fn on_auth(self) -> (ErrorCode, &'static str) {
        match self {
            Failure::Unauthenticated | Failure::Forbidden => {
                (ErrorCode::InvalidToken, "The token failed verification.")
            }
            Failure::Unavailable | Failure::Timeout => (
                ErrorCode::Unavailable,
                "The chat service is unavailable; the socket keeps its token.",
            ),
            Failure::Invalid
            | Failure::NotFound
            | Failure::Conflict
            | Failure::Throttled
            | Failure::Internal => (
                ErrorCode::Internal,
                "The token could not be checked; the socket keeps its token.",
            ),
        }
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
            assert_eq!(Failure::of(code).http().0.as_u16(), http, "{code:?}");
        }
    }

    #[test]
    fn refusals_map_to_the_documented_close_codes() {
        let close = |code| Failure::of(code).close_reason().code;
        assert_eq!(close(Code::Unauthenticated), 4401);
        assert_eq!(close(Code::PermissionDenied), 4403);
        assert_eq!(close(Code::NotFound), 4404);
        assert_eq!(close(Code::InvalidArgument), 4404);
        assert_eq!(close(Code::Unavailable), 1011);
        assert_eq!(close(Code::ResourceExhausted), 1013);
    }

    #[test]
    fn a_send_refused_for_membership_closes_as_a_join_would() {
        for failure in [
            Failure::Unauthenticated,
            Failure::Forbidden,
            Failure::NotFound,
        ] {
            assert_eq!(
                failure.on_send(),
                SocketAnswer::Close(failure.close_reason())
            );
        }
    }

    #[test]
    fn a_user_socket_frame_does_not_tell_a_missing_room_from_a_foreign_one() {
        assert_eq!(
            Failure::NotFound.on_user_frame(),
            Failure::Forbidden.on_user_frame()
        );
        let SocketAnswer::Frame(code, _) = Failure::NotFound.on_user_frame() else {
            panic!("an error frame");
        };
        assert_eq!(code, ErrorCode::Forbidden);
        assert_eq!(
            Failure::Unauthenticated.on_user_frame(),
            SocketAnswer::Close(CloseReason::UNAUTHENTICATED)
        );
        let SocketAnswer::Frame(code, _) = Failure::Throttled.on_user_frame() else {
            panic!("an error frame");
        };
        assert_eq!(code, ErrorCode::RateLimited);
    }

    #[test]
    fn a_user_stream_that_fails_closes_for_a_reconnect_unless_the_token_failed() {
        assert_eq!(Failure::Unauthenticated.on_user_stream().code, 4401);
        assert_eq!(Failure::Unavailable.on_user_stream().code, 1011);
        assert_eq!(Failure::NotFound.on_user_stream().code, 1011);
        assert_eq!(Failure::Throttled.on_user_stream().code, 1013);
    }

    #[test]
    fn a_refused_replacement_token_never_closes_the_socket() {
        assert_eq!(Failure::Forbidden.on_auth().0, ErrorCode::InvalidToken);
        assert_eq!(Failure::Timeout.on_auth().0, ErrorCode::Unavailable);
        assert_eq!(Failure::NotFound.on_auth().0, ErrorCode::Internal);
    }
}
