//! The REST API under `/{lang}/api/v1`: one module per resource, each owning
//! its `router()`, plus what they share: the bearer-token extractor, the
//! language check and optional trailing slashes. The path helpers the
//! WebSocket route needs too live in `path.rs`.

pub mod conversations;
pub mod cors;
pub mod messages;
pub mod openapi;
mod openapi_shared;
pub mod rate_limit;
pub mod rooms;
pub mod users;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use crate::AppState;
use crate::core_client::BearerToken;
use crate::error::Error;
use crate::path::is_language_code;
use crate::ws::origin::AllowedOrigins;

/// Every REST route, behind the language prefix, with CORS for `origins`
/// and the write rate limit of `state`.
pub fn router(state: &AppState, origins: AllowedOrigins) -> Router<AppState> {
    let api = Router::new()
        .merge(rooms::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(users::router())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_writes,
        ));
    Router::new()
        .nest("/{lang}/api/v1", api)
        .route_layer(middleware::from_fn(check_lang))
        .route("/openapi.json", axum::routing::get(openapi::serve))
        // Set here, under the CORS layer: a fallback the app sets later would
        // not be layered, and preflights (OPTIONS) would get its 405.
        .method_not_allowed_fallback(crate::method_not_allowed)
        .layer(cors::layer(origins))
}

/// Routes `path` both with and without a trailing slash.
pub(crate) fn route_with_optional_slash(
    router: Router<AppState>,
    path: &str,
    handler: MethodRouter<AppState>,
) -> Router<AppState> {
    router
        .route(path, handler.clone())
        .route(&format!("{path}/"), handler)
}

/// The caller's token from `Authorization: Bearer <jwt>`; anything else is a
/// 401 before any other check and without asking the core.
#[derive(Debug)]
pub struct Bearer(pub BearerToken);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(BearerToken::from_authorization)
            .map(Bearer)
            .ok_or(Error::MissingCredentials)
    }
}

/// Answers 404 for a first path segment that is no language code.
async fn check_lang(request: Request, next: Next) -> Response {
    let lang = request.uri().path().split('/').nth(1).unwrap_or_default();
    if is_language_code(lang) {
        next.run(request).await
    } else {
        Error::NotFound.into_response()
    }
}
