//! Development mode (`--dev-mode`): the demo chat client at `/` (its files
//! under `/demo/`) and `POST /dev/token`, which mints development tokens.
//! None of these routes exists outside development mode.

mod assets;
pub mod token;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{Error, ErrorBody};

/// The longest `sub` and `email` a development token may carry.
const MAX_CLAIM_CHARS: usize = 254;

/// The development routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(assets::index))
        .route("/demo/{file}", get(assets::file))
        .route("/dev/token", post(dev_token))
}

/// `{"sub": "dev-alice", "email": "alice@example.com"}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct TokenRequest {
    /// The token's `sub`, 1 to 254 characters.
    #[schema(min_length = 1, max_length = 254)]
    sub: String,
    /// The token's `email` claim (not checked), 1 to 254 characters.
    #[schema(min_length = 1, max_length = 254)]
    email: String,
}

/// `{"token": "<jwt>"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TokenResponse {
    /// An HS256 JWT, valid for 24 hours.
    token: String,
}

#[utoipa::path(
    post,
    path = "/dev/token",
    tag = "development",
    description = "Development mode only (`--dev-mode`): mints a development token. \
                   Outside development mode this path does not exist (404).",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "A development token", body = TokenResponse),
        (status = 400, description = "Not a JSON object with `sub` and `email` of 1 to 254 characters", body = ErrorBody),
        (status = 404, description = "Not in development mode", body = ErrorBody),
    ),
)]
#[tracing::instrument(name = "dev_token", skip_all)]
pub(crate) async fn dev_token(
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
