//! Development mode (`--dev-mode`): the demo chat page at `/` and
//! `POST /dev/token`, which mints development tokens. Neither route exists
//! outside development mode.

pub mod token;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::Error;

/// The demo page: plain HTML and JavaScript, no build step.
const INDEX_HTML: &str = include_str!("index.html");

/// The longest `sub` and `email` a development token may carry.
const MAX_CLAIM_CHARS: usize = 254;

/// The development routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/dev/token", post(dev_token))
}

async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

/// `{"sub": "dev-alice", "email": "alice@example.com"}`.
#[derive(Debug, Deserialize)]
struct TokenRequest {
    sub: String,
    email: String,
}

/// `{"token": "<jwt>"}`.
#[derive(Debug, Serialize)]
struct TokenResponse {
    token: String,
}

#[tracing::instrument(name = "dev_token", skip_all)]
async fn dev_token(
    State(state): State<AppState>,
    request: Result<Json<TokenRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, Error> {
    let Json(request) =
        request.map_err(|rejection| Error::InvalidRequest(rejection.body_text()))?;
    for (name, value) in [("sub", &request.sub), ("email", &request.email)] {
        let chars = value.chars().count();
        if chars == 0 || chars > MAX_CLAIM_CHARS {
            return Err(Error::InvalidRequest(format!(
                "{name} must be 1 to {MAX_CLAIM_CHARS} characters."
            )));
        }
    }
    let secret = state
        .dev_secret
        .as_ref()
        .map_or(token::DEV_JWT_SECRET, |secret| secret.expose());
    let token = token::mint(secret, &request.sub, &request.email);
    Ok(Json(TokenResponse { token }))
}
