//! The REST API under `/{lang}/api/v1`: one module per resource, each owning
//! its `router()`, plus what they share: the bearer-token extractor, the
//! language check and optional trailing slashes.

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
use crate::ws::origin::AllowedOrigins;

/// Every REST route, behind the language prefix, with CORS for `origins`
/// and the write rate limit of `state`.
pub fn router(state: &AppState, origins: AllowedOrigins) -> Router<AppState> {
    let api = Router::new()
        .merge(rooms::router())
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

/// A positive integer id from a path or query; anything else is `None`.
pub(crate) fn positive_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

/// A language code such as `en`, `uk` or `pt-br`.
pub(crate) fn is_language_code(code: &str) -> bool {
    let mut chars = code.chars();
    (2..=7).contains(&code.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphabetic() || c == '-' || c == '_')
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_language_codes_are_accepted() {
        for code in ["en", "uk", "pt-br", "zh-hans", "en_GB"] {
            assert!(is_language_code(code), "{code}");
        }
    }

    #[test]
    fn other_first_segments_are_not_language_codes() {
        for code in ["", "e", "english-long", "12", "-en"] {
            assert!(!is_language_code(code), "{code}");
        }
    }

    #[test]
    fn ids_must_be_positive_integers() {
        assert_eq!(positive_id("42"), Some(42));
        for raw in ["0", "-1", "abc", "1.5", "", "99999999999999999999"] {
            assert_eq!(positive_id(raw), None, "{raw}");
        }
    }
}
