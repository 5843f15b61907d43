//! `POST /{lang}/api/v1/chatrooms/get_or_create_room/?user_id_1=&user_id_2=`:
//! the one direct room of two users.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{Error, ErrorBody};
use crate::rest::{Bearer, route_with_optional_slash};

/// The room routes.
pub fn router() -> Router<AppState> {
    route_with_optional_slash(
        Router::new(),
        "/chatrooms/get_or_create_room",
        post(get_or_create_room),
    )
}

/// The query as sent; parsed by hand so every mistake gets a clear 400.
#[derive(Debug, Deserialize)]
struct RoomQuery {
    user_id_1: Option<String>,
    user_id_2: Option<String>,
}

/// `{"room_id": 1}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct RoomBody {
    room_id: i64,
}

#[utoipa::path(
    post,
    path = "/{lang}/api/v1/chatrooms/get_or_create_room/",
    tag = "rooms",
    params(
        ("lang" = String, Path, description = "Language prefix, e.g. `en`", pattern = r"^[A-Za-z][A-Za-z_-]{1,6}$"),
        ("user_id_1" = i64, Query, description = "One member", minimum = 1),
        ("user_id_2" = i64, Query, description = "The other member (not the same user)", minimum = 1),
    ),
    responses(
        (status = 200, description = "The direct room of the two users (the same for either order)", body = RoomBody),
        (status = 400, description = "A missing, non-integer or repeated user id", body = ErrorBody),
        (status = 403, description = "The caller is neither user", body = ErrorBody),
        (status = 404, description = "A user does not exist", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(name = "get_or_create_room", skip_all, fields(room_id))]
async fn get_or_create_room(
    State(state): State<AppState>,
    Bearer(token): Bearer,
    query: Result<Query<RoomQuery>, QueryRejection>,
) -> Result<Json<RoomBody>, Error> {
    let parsed = query
        .map_err(|_| Error::InvalidRequest("Invalid query string.".to_owned()))
        .and_then(|Query(query)| user_ids(&query));
    let (user_id_1, user_id_2) = match parsed {
        Ok(ids) => ids,
        Err(error) => return Err(state.core.after_auth(&token, error).await),
    };
    let room = state
        .core
        .get_or_create_direct_room(&token, user_id_1, user_id_2)
        .await?;
    tracing::Span::current().record("room_id", room.room_id);
    Ok(Json(RoomBody {
        room_id: room.room_id,
    }))
}

fn user_ids(query: &RoomQuery) -> Result<(i64, i64), Error> {
    Ok((
        integer("user_id_1", query.user_id_1.as_deref())?,
        integer("user_id_2", query.user_id_2.as_deref())?,
    ))
}

/// A required integer query parameter.
fn integer(name: &str, raw: Option<&str>) -> Result<i64, Error> {
    let raw = raw.ok_or_else(|| Error::InvalidRequest(format!("{name} is required.")))?;
    raw.trim()
        .parse()
        .map_err(|_| Error::InvalidRequest(format!("{name} must be an integer.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(a: Option<&str>, b: Option<&str>) -> RoomQuery {
        RoomQuery {
            user_id_1: a.map(str::to_owned),
            user_id_2: b.map(str::to_owned),
        }
    }

    #[test]
    fn two_integers_are_user_ids() {
        assert_eq!(user_ids(&query(Some("3"), Some("4"))).ok(), Some((3, 4)));
    }

    #[test]
    fn a_missing_id_is_named_in_the_error() {
        let error = user_ids(&query(Some("3"), None)).unwrap_err();
        assert_eq!(error.to_string(), "user_id_2 is required.");
    }

    #[test]
    fn a_non_integer_id_is_refused() {
        let error = user_ids(&query(Some("three"), Some("4"))).unwrap_err();
        assert_eq!(error.to_string(), "user_id_1 must be an integer.");
    }
}
