//! The room list and read marks (additive): `GET /{lang}/api/v1/chatrooms/`
//! (the caller's rooms, most recent activity first, cursor-paged) and
//! `POST /{lang}/api/v1/chatrooms/{room_id}/read`.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::AppState;
use crate::core_client::ConversationQuery;
use crate::error::{Error, ErrorBody};
use crate::path::{is_integer, positive_id};
use crate::rest::{Bearer, route_with_optional_slash};
use crate::wire::RoomList;

/// Largest page of `GET /chatrooms/`.
const MAX_PAGE: u32 = 100;
/// Page size when `limit` is absent.
const DEFAULT_PAGE: u32 = 50;
/// Longer than any `next` the core hands out: refused without asking it.
const MAX_CURSOR_BYTES: usize = 64;

/// The conversation routes.
pub fn router() -> Router<AppState> {
    let router = route_with_optional_slash(Router::new(), "/chatrooms", get(list));
    route_with_optional_slash(router, "/chatrooms/{room_id}/read", post(read))
}

/// `?limit=&before=` as sent; parsed by hand so every mistake gets a clear 400.
#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<String>,
    before: Option<String>,
}

#[utoipa::path(
    get,
    path = "/{lang}/api/v1/chatrooms/",
    tag = "rooms",
    params(
        ("lang" = String, Path, description = "Language prefix, e.g. `en`", pattern = r"^[A-Za-z][A-Za-z_-]{1,6}$"),
        ("limit" = Option<i32>, Query, description = "Page size, 1 to 100 (default 50)", minimum = 1, maximum = 100),
        ("before" = Option<String>, Query, description = "The `next` of the previous page (opaque; another string is a 400)", pattern = r"^c1\.(0|-?[1-9][0-9]{0,16})\.[1-9][0-9]{0,17}$"),
    ),
    responses(
        (status = 200, description = "The caller's rooms, most recent activity first (ties: higher room id first)", body = RoomList),
        (status = 400, description = "A `limit` not 1..100, or a `before` no page answered", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(name = "list_conversations", skip_all)]
async fn list(
    State(state): State<AppState>,
    Bearer(token): Bearer,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<RoomList>, Error> {
    let query = match list_query(query) {
        Ok(query) => query,
        Err(error) => return Err(state.core.after_auth(&token, error).await),
    };
    let page = state.core.list_conversations(&token, query).await?;
    Ok(Json(RoomList::from(page)))
}

fn list_query(query: Result<Query<ListQuery>, QueryRejection>) -> Result<ConversationQuery, Error> {
    let invalid = |detail: &str| Error::InvalidRequest(detail.to_owned());
    let Query(query) = query.map_err(|_| invalid("Invalid query string."))?;
    let limit = match query.limit.as_deref() {
        None | Some("") => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=MAX_PAGE).contains(limit))
            .ok_or_else(|| invalid("limit must be an integer from 1 to 100."))?,
    };
    // An empty `before` is no `next` either: only its absence is the first page.
    let before = match query.before {
        None => None,
        Some(raw) if raw.is_empty() || raw.len() > MAX_CURSOR_BYTES || raw.contains('\0') => {
            return Err(invalid("before is not a cursor of this list."));
        }
        Some(raw) => Some(raw),
    };
    Ok(ConversationQuery { limit, before })
}

#[derive(Debug, Deserialize)]
struct RoomPath {
    room_id: String,
}

/// The body of a read mark (documentation only: the handler parses it by
/// hand so every mistake gets a clear 400). The body may be left out.
#[derive(Debug, utoipa::ToSchema)]
pub(crate) struct ReadBody {
    /// Only messages with ids up to and including this one.
    #[allow(dead_code)]
    #[schema(minimum = 1)]
    message_id: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/{lang}/api/v1/chatrooms/{room_id}/read",
    tag = "rooms",
    params(
        ("lang" = String, Path, description = "Language prefix, e.g. `en`", pattern = r"^[A-Za-z][A-Za-z_-]{1,6}$"),
        ("room_id" = i64, Path, description = "The room id"),
    ),
    request_body(content = Option<ReadBody>, description = "Optional: `{\"message_id\": N}`"),
    responses(
        (status = 204, description = "The other member's messages (up to `message_id`) that were neither deleted nor read are read; the room receives `mark_message_as_read` for each, oldest first"),
        (status = 400, description = "A bad body, `message_id` or room id", body = ErrorBody),
        (status = 403, description = "The caller is not a member", body = ErrorBody),
        (status = 404, description = "No such room", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(name = "mark_read", skip_all, fields(room_id = %path.room_id))]
async fn read(
    State(state): State<AppState>,
    Bearer(token): Bearer,
    Path(path): Path<RoomPath>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, Error> {
    let parsed = room_id(&path.room_id).and_then(|room| Ok((room, up_to(body)?)));
    let (room, up_to) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return Err(state.core.after_auth(&token, error).await),
    };
    state.core.mark_read(&token, room, up_to).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An integer room id: anything else is a 400; an integer no room can have
/// (0, below, or past the id range) is a 404.
fn room_id(raw: &str) -> Result<i64, Error> {
    if !is_integer(raw) {
        return Err(Error::InvalidRequest(
            "The room id must be an integer.".to_owned(),
        ));
    }
    positive_id(raw).ok_or(Error::NotFound)
}

/// The `message_id` of an optional body `{"message_id": N}` (no body, `null`,
/// `{}` or a `null` id: every message).
fn up_to(body: Result<Bytes, BytesRejection>) -> Result<Option<i64>, Error> {
    let invalid = |detail: &str| Error::InvalidRequest(detail.to_owned());
    let body = body.map_err(|_| invalid("The request body could not be read."))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| invalid("The request body is not valid JSON."))?;
    if value.is_null() {
        return Ok(None);
    }
    let object = value
        .as_object()
        .ok_or_else(|| invalid("The request body must be a JSON object."))?;
    match object.get("message_id") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(id) => whole_number(id)
            .filter(|id| *id > 0)
            .map(Some)
            .ok_or_else(|| invalid("message_id must be a positive integer.")),
    }
}

/// A JSON number with no fractional part (`7` or `7.0`, as JSON Schema's
/// `integer` counts them) that fits an id.
fn whole_number(value: &serde_json::Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        let float = value.as_f64()?;
        // 2^63 is exact as an f64; every whole float below it fits.
        (float.fract() == 0.0 && float.abs() < 9_223_372_036_854_775_808.0).then_some(float as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(limit: Option<&str>, before: Option<&str>) -> Result<ConversationQuery, Error> {
        let query = ListQuery {
            limit: limit.map(str::to_owned),
            before: before.map(str::to_owned),
        };
        list_query(Ok(Query(query)))
    }

    #[test]
    fn an_empty_query_asks_for_the_first_fifty() {
        let asked = query(None, None).expect("valid");
        assert_eq!((asked.limit, asked.before), (50, None));
        assert!(
            query(None, Some("")).is_err(),
            "an empty before is no cursor"
        );
    }

    #[test]
    fn a_limit_outside_one_to_a_hundred_is_refused() {
        for limit in ["0", "101", "-1", "ten", "1.5"] {
            assert!(query(Some(limit), None).is_err(), "{limit}");
        }
        assert_eq!(query(Some("100"), None).expect("valid").limit, 100);
    }

    #[test]
    fn an_overlong_cursor_is_refused_without_the_core() {
        assert!(query(None, Some(&"c".repeat(65))).is_err());
        let passed = query(None, Some("c1.5.3")).expect("passed on");
        assert_eq!(passed.before.as_deref(), Some("c1.5.3"));
    }

    #[test]
    fn a_read_body_is_optional_and_names_a_positive_message_id() {
        let body = |raw: &'static str| Ok(Bytes::from_static(raw.as_bytes()));
        assert_eq!(up_to(body("")).ok(), Some(None));
        assert_eq!(up_to(body("{}")).ok(), Some(None));
        assert_eq!(up_to(body("null")).ok(), Some(None));
        assert_eq!(up_to(body(r#"{"message_id": null}"#)).ok(), Some(None));
        assert_eq!(up_to(body(r#"{"message_id": 7}"#)).ok(), Some(Some(7)));
        assert_eq!(up_to(body(r#"{"message_id": 7.0}"#)).ok(), Some(Some(7)));
        for raw in [
            r#"{"message_id": 0}"#,
            r#"{"message_id": "7"}"#,
            r#"{"message_id": 1.5}"#,
            r#"{"message_id": 1e300}"#,
            "[7]",
            "7",
            "not json",
        ] {
            assert!(up_to(body(raw)).is_err(), "{raw}");
        }
    }

    #[test]
    fn a_room_id_is_an_integer_and_non_positive_ones_are_no_room() {
        assert_eq!(room_id("3").ok(), Some(3));
        assert!(matches!(room_id("0"), Err(Error::NotFound)));
        assert!(matches!(room_id("x"), Err(Error::InvalidRequest(_))));
    }
}
