//! The chat WebSocket, `/ws/chat/{room_id}/` (with or without the trailing
//! slash, also under a language prefix): picks the token from the
//! `Authorization` header or `?token=` (with neither, the session waits for
//! an `auth` first frame, see [`auth`]) and the resume point from
//! `X-Chat-Last-Seq` or `?last_seq=` ([`resume`]), refuses a browser page of
//! a foreign [`origin`] with 403, accepts the upgrade with buffers sized for
//! many idle sockets, and hands the socket to a [`session`]. The user
//! socket, `/ws/user/`, is routed here too, and handled in [`user`].

pub mod auth;
pub mod close;
mod events;
mod fragments;
mod frames;
pub mod limits;
pub mod origin;
pub mod protocol;
mod reader;
pub mod resume;
pub mod session;
mod upgrade;
pub mod user;
mod writer;

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tracing::Instrument;
use tungstenite::protocol::WebSocketConfig;

use crate::AppState;
use crate::core_client::BearerToken;
use crate::error::{Error, ErrorBody};
use crate::path::{is_language_code, positive_id};
pub(crate) use events::{event_frame, presence_frame};
pub use frames::{Refusal, parse_client_frame};
use session::SessionParams;
use upgrade::{Rejection, Upgrade, WebSocket};

/// Largest client message, one frame or several fragments together; larger closes with 1009.
pub const MAX_MESSAGE_BYTES: usize = service_kit::limits::MAX_REQUEST_BYTES;
/// tungstenite's read buffer per connection, allocated with the socket and
/// the most it reads per call (its default is 128 KiB). Client frames are
/// small (a chat message frame is one read); a larger one is read in several
/// calls into a buffer of its size.
const READ_BUFFER_BYTES: usize = 512;
/// Bytes collected before tungstenite writes to the socket (its default is 128 KiB).
const WRITE_BUFFER_BYTES: usize = 4 * 1024;
/// Bound on tungstenite's write buffer; it only grows past
/// `WRITE_BUFFER_BYTES` by one frame, and a history frame stays under 2 MiB.
const MAX_WRITE_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// Numbers sessions in logs.
static SESSION_IDS: AtomicU64 = AtomicU64::new(1);

/// The WebSocket routes.
pub fn router() -> Router<AppState> {
    let chat = get(connect);
    Router::new()
        .route("/ws/chat/{room_id}", chat.clone())
        .route("/ws/chat/{room_id}/", chat.clone())
        .route("/{lang}/ws/chat/{room_id}", chat.clone())
        .route("/{lang}/ws/chat/{room_id}/", chat)
        .merge(user::router())
}

#[derive(Debug, Deserialize)]
struct ChatPath {
    lang: Option<String>,
    room_id: String,
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Read apart from [`TokenQuery`], so a malformed `last_seq` never costs the token.
#[derive(Debug, Deserialize)]
struct ResumeQuery {
    last_seq: Option<String>,
}

/// Accepts every upgrade from an allowed origin; refusals are close frames
/// sent by the session.
async fn connect(
    State(state): State<AppState>,
    Path(path): Path<ChatPath>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
    resume_query: Result<Query<ResumeQuery>, QueryRejection>,
    upgrade: Result<Upgrade, Rejection>,
) -> Response {
    if let Some(refusal) = refuse_handshake(&state, path.lang.as_deref(), &headers) {
        return refusal;
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return refuse_upgrade(rejection),
    };
    let last_seq_param = resume_query.ok().and_then(|Query(query)| query.last_seq);
    let params = SessionParams {
        core: state.core.clone(),
        hub: state.hub.clone(),
        token: token(&headers, query),
        room_id: positive_id(&path.room_id),
        last_seq: resume::last_seq(&headers, last_seq_param.as_deref()),
        queue: state.ws_queue,
        stall: state.ws_stall,
        shutdown: state.shutdown.clone(),
        policy: state.ws_policy.clone(),
    };
    let span = tracing::info_span!(
        "ws_session",
        session = SESSION_IDS.fetch_add(1, Ordering::Relaxed),
        room_id = %path.room_id,
    );
    accept(upgrade, &state, span, move |socket| {
        session::run(socket, params)
    })
}

/// The answer to a request that is no WebSocket upgrade.
fn refuse_upgrade(rejection: Rejection) -> Response {
    let body = ErrorBody {
        detail: rejection.body_text(),
    };
    (rejection.status(), Json(body)).into_response()
}

/// The answer to a handshake refused before the upgrade: 404 under a prefix
/// that is no language code, 403 for a browser page of a foreign origin.
fn refuse_handshake(state: &AppState, lang: Option<&str>, headers: &HeaderMap) -> Option<Response> {
    if lang.is_some_and(|lang| !is_language_code(lang)) {
        return Some(Error::NotFound.into_response());
    }
    let origin = headers.get(ORIGIN).map(|value| value.as_bytes());
    let host = headers.get(HOST).map(|value| value.as_bytes());
    if state.ws_policy.origins.allows(origin, host) {
        return None;
    }
    tracing::info!("WebSocket handshake from a foreign origin refused");
    let body = ErrorBody {
        detail: "Origin not allowed.".to_owned(),
    };
    Some((StatusCode::FORBIDDEN, Json(body)).into_response())
}

/// Accepts the upgrade with buffers sized for many idle sockets, and runs
/// the session `run` makes of the socket in `span`, counted and tracked
/// until it ends.
fn accept<S>(
    upgrade: Upgrade,
    state: &AppState,
    span: tracing::Span,
    run: impl FnOnce(WebSocket) -> S + Send + 'static,
) -> Response
where
    S: Future<Output = ()> + Send + 'static,
{
    let sessions = state.sessions.clone();
    let metrics = state.metrics.clone();
    let request_id = crate::metrics::current_request_id().unwrap_or_default();
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    upgrade.config(config).on_upgrade(move |socket| {
        let open = metrics.ws_opened();
        // Made before the block, so that the block holds the session's
        // small future and not the socket and parameters beside it.
        let session = run(socket);
        let session = crate::metrics::with_request_id(request_id, async move {
            session.await;
            drop(open);
        });
        sessions.track_future(session.instrument(span))
    })
}

/// The caller's token: the `Authorization` header when it holds one, else `?token=`.
fn token(
    headers: &HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Option<BearerToken> {
    let from_header = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(BearerToken::from_authorization);
    from_header.or_else(|| {
        let Query(query) = query.ok()?;
        BearerToken::parse(query.token.as_deref()?)
    })
}
