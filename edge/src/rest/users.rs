//! The user routes (additive): `GET /{lang}/api/v1/users/me`, the caller's
//! profile and presence, and `GET /{lang}/api/v1/users/{id}`, that of the
//! caller or of someone sharing a room with them (404 for anyone else,
//! whether or not they exist).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::AppState;
use crate::error::{Error, ErrorBody};
use crate::path::{is_integer, positive_id};
use crate::rest::{Bearer, route_with_optional_slash};
use crate::wire::Profile;

/// The user routes.
pub fn router() -> Router<AppState> {
    let router = route_with_optional_slash(Router::new(), "/users/me", get(me));
    route_with_optional_slash(router, "/users/{id}", get(user))
}

#[utoipa::path(
    get,
    path = "/{lang}/api/v1/users/me",
    tag = "users",
    params(("lang" = String, Path, description = "Language prefix, e.g. `en`", pattern = r"^[A-Za-z][A-Za-z_-]{1,6}$")),
    responses(
        (status = 200, description = "The caller's profile and presence", body = Profile),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(name = "users_me", skip_all)]
async fn me(State(state): State<AppState>, Bearer(token): Bearer) -> Result<Json<Profile>, Error> {
    let user = state.core.who_am_i(&token).await?;
    Ok(Json(Profile::from(user)))
}

#[derive(Debug, Deserialize)]
struct UserPath {
    id: String,
}

#[utoipa::path(
    get,
    path = "/{lang}/api/v1/users/{id}",
    tag = "users",
    params(
        ("lang" = String, Path, description = "Language prefix, e.g. `en`", pattern = r"^[A-Za-z][A-Za-z_-]{1,6}$"),
        ("id" = i64, Path, description = "The user id"),
    ),
    responses(
        (status = 200, description = "The profile and presence of the caller or of someone sharing a room with the caller", body = Profile),
        (status = 400, description = "The id is not an integer", body = ErrorBody),
        (status = 404, description = "Anyone else, whether or not the user exists", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(name = "get_user", skip_all, fields(target_id = %path.id))]
async fn user(
    State(state): State<AppState>,
    Bearer(token): Bearer,
    Path(path): Path<UserPath>,
) -> Result<Json<Profile>, Error> {
    let id = match user_id(&path.id) {
        Ok(id) => id,
        Err(error) => return Err(state.core.after_auth(&token, error).await),
    };
    let user = state.core.get_user(&token, id).await?;
    Ok(Json(Profile::from(user)))
}

/// An integer id: anything else is a 400, and an integer no user can have
/// (0, below, or past the id range) is nobody's, a 404.
fn user_id(raw: &str) -> Result<i64, Error> {
    if !is_integer(raw) {
        return Err(Error::InvalidRequest(
            "The user id must be an integer.".to_owned(),
        ));
    }
    positive_id(raw).ok_or(Error::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_id_is_a_positive_integer_and_other_integers_are_nobody() {
        assert_eq!(user_id("4").ok(), Some(4));
        assert!(matches!(user_id("0"), Err(Error::NotFound)));
        assert!(matches!(user_id("-2"), Err(Error::NotFound)));
        assert!(matches!(
            user_id("99999999999999999999"),
            Err(Error::NotFound)
        ));
        for raw in ["x", "1.5", ""] {
            assert!(
                matches!(user_id(raw), Err(Error::InvalidRequest(_))),
                "{raw}"
            );
        }
    }
}
