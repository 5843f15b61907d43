//! `GET /{lang}/api/v1/users/me` (additive): the caller's profile and presence.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;
use crate::core_client::User;
use crate::error::Error;
use crate::rest::{Bearer, route_with_optional_slash};
use crate::wire::wire_time;

/// The user routes.
pub fn router() -> Router<AppState> {
    route_with_optional_slash(Router::new(), "/users/me", get(me))
}

/// `{"id": 3, "email": "a@example.com", "is_online": false, "last_seen": "…" | null}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Me {
    id: i64,
    email: String,
    is_online: bool,
    last_seen: Option<String>,
}

impl From<User> for Me {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            is_online: user.is_online,
            last_seen: wire_time(user.last_seen),
            email: user.email,
        }
    }
}

#[utoipa::path(
    get,
    path = "/{lang}/api/v1/users/me",
    tag = "users",
    params(("lang" = String, Path, description = "Language prefix, e.g. `en`", pattern = r"^[A-Za-z][A-Za-z_-]{1,6}$")),
    responses(
        (status = 200, description = "The caller's profile and presence", body = Me),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(name = "users_me", skip_all)]
async fn me(State(state): State<AppState>, Bearer(token): Bearer) -> Result<Json<Me>, Error> {
    let user = state.core.who_am_i(&token).await?;
    Ok(Json(Me::from(user)))
}
