//! The user socket, `/ws/user/` (with or without the trailing slash, also
//! under a language prefix): one socket per user carrying every room of
//! theirs. The token comes as for room sockets (header, `?token=` or an
//! `auth` first frame; refused: 4401 and nothing else), the resume point
//! from `X-Chat-Cursor` or `?cursor=` (`resume.rs`), the origin is checked
//! as for room sockets, and the socket is handed to a [`session`], which
//! holds the user's own `InboxService.Stream` on the core.
//!
//! Memory: the `inbox` of a user in many rooms (50 conversations, some
//! 10 KB of JSON) once stayed allocated per socket in two buffers that
//! never shrink: tungstenite's write buffer and tonic's decode buffer. The
//! writer now sends large frames in fragments (`ws/fragments.rs`) and the
//! core sends each stream item as its own HTTP/2 chunk, so both stay at
//! about one fragment or item (BENCHMARKS.md has the heaptrack figures).

mod frames;
mod pump;
mod reader;
pub mod session;

use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::upgrade::{Rejection, Upgrade};
use super::{SESSION_IDS, TokenQuery, accept, refuse_handshake, refuse_upgrade, resume, token};
use crate::AppState;
use session::UserParams;

/// The user socket's routes.
pub fn router() -> Router<AppState> {
    let user = get(connect);
    Router::new()
        .route("/ws/user", user.clone())
        .route("/ws/user/", user.clone())
        .route("/{lang}/ws/user", user.clone())
        .route("/{lang}/ws/user/", user)
}

/// Read apart from [`TokenQuery`], so a malformed `cursor` never costs the token.
#[derive(Debug, Deserialize)]
struct CursorQuery {
    cursor: Option<String>,
}

/// Accepts every upgrade from an allowed origin; refusals are close frames
/// sent by the session.
async fn connect(
    State(state): State<AppState>,
    lang: Option<Path<String>>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
    cursor_query: Result<Query<CursorQuery>, QueryRejection>,
    upgrade: Result<Upgrade, Rejection>,
) -> Response {
    let lang = lang.as_ref().map(|Path(lang)| lang.as_str());
    if let Some(refusal) = refuse_handshake(&state, lang, &headers) {
        return refusal;
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return refuse_upgrade(rejection),
    };
    let cursor_param = cursor_query.ok().and_then(|Query(query)| query.cursor);
    let params = UserParams {
        core: state.core.clone(),
        token: token(&headers, query),
        cursor: resume::cursor(&headers, cursor_param.as_deref()),
        queue: state.ws_queue,
        stall: state.ws_stall,
        shutdown: state.shutdown.clone(),
        policy: state.ws_policy.clone(),
    };
    let span = tracing::info_span!(
        "ws_user_session",
        session = SESSION_IDS.fetch_add(1, Ordering::Relaxed),
    );
    accept(upgrade, &state, span, move |socket| {
        session::run(socket, params)
    })
}
