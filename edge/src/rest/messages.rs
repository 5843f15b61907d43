//! Messages over REST: edit, delete, and the older-history paging endpoint
//! (`GET /{lang}/api/v1/chatrooms/{room_id}/messages/`, additive).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::core_client::HistoryQuery;
use crate::error::{Error, ErrorBody};
use crate::path::positive_id;
use crate::rest::{Bearer, route_with_optional_slash};
use crate::wire::HistoryItem;

/// Largest page of `GET …/messages/`.
const MAX_PAGE: u32 = 100;
/// Page size when `limit` is absent.
const DEFAULT_PAGE: u32 = 50;

/// The message routes.
pub fn router() -> Router<AppState> {
    let router = route_with_optional_slash(Router::new(), "/messages/{id}/edit", put(edit));
    let router = route_with_optional_slash(router, "/messages/{id}/delete", delete(remove));
    route_with_optional_slash(router, "/chatrooms/{room_id}/messages", get(list))
}

#[derive(Debug, Deserialize)]
struct MessagePath {
    id: String,
}

#[derive(Debug, Deserialize)]
struct RoomPath {
    room_id: String,
}

/// `{"status": "success", "message": "Message updated successfully"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Updated {
    status: &'static str,
    message: &'static str,
}

/// The body of an edit (documentation only: the handler parses it by hand
/// so every mistake gets a clear 400).
#[derive(Debug, utoipa::ToSchema)]
pub(crate) struct EditBody {
    /// The new text: trimmed of white space, then 1 to 4096 characters
    /// (Unicode code points). The pattern asks for one character trimming
    /// keeps (none of Unicode's `White_Space`) and no NUL (PostgreSQL text
    /// cannot hold one).
    #[allow(dead_code)]
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = r"^[^\u0000]*[^\u0000\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000]*$"
    )]
    text: String,
}

#[utoipa::path(
    put,
    path = "/{lang}/api/v1/messages/{id}/edit",
    tag = "messages",
    params(
        ("lang" = String, Path, description = "Language prefix, e.g. `en`", pattern = r"^[A-Za-z][A-Za-z_-]{1,6}$"),
        ("id" = i64, Path, description = "The message id", minimum = 1),
    ),
    request_body = EditBody,
    responses(
        (status = 200, description = "Edited; the room receives `message_edited`", body = Updated),
        (status = 400, description = "Missing, empty or too long `text`, or bad JSON", body = ErrorBody),
        (status = 403, description = "A message of the other member", body = ErrorBody),
        (status = 404, description = "No such message, a deleted one, or one in a room the caller is not in", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(name = "edit_message", skip_all, fields(message_id = %path.id))]
async fn edit(
    State(state): State<AppState>,
    Bearer(token): Bearer,
    Path(path): Path<MessagePath>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Updated>, Error> {
    let parsed = positive_id(&path.id)
        .ok_or(Error::NotFound)
        .and_then(|id| Ok((id, edit_text(body)?)));
    let (message_id, text) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return Err(state.core.after_auth(&token, error).await),
    };
    state.core.edit_message(&token, message_id, text).await?;
    Ok(Json(Updated {
        status: "success",
        message: "Message updated successfully",
    }))
}

/// The `text` of an edit body `{"text": "…"}`, without U+0000 (no message
/// can hold it); the core checks its length.
fn edit_text(body: Result<Bytes, BytesRejection>) -> Result<String, Error> {
    let invalid = |detail: &str| Error::InvalidRequest(detail.to_owned());
    let body = body.map_err(|_| invalid("The request body could not be read."))?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| invalid("The request body is not valid JSON."))?;
    match value.get("text") {
        Some(serde_json::Value::String(text)) if text.contains('\0') => {
            Err(invalid("text must not contain U+0000."))
        }
        Some(serde_json::Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(invalid("text must be a string.")),
        None => Err(invalid("text is required.")),
    }
}

#[utoipa::path(
    delete,
    path = "/{lang}/api/v1/messages/{id}/delete",
    tag = "messages",
    params(
        ("lang" = String, Path, description = "Language prefix, e.g. `en`", pattern = r"^[A-Za-z][A-Za-z_-]{1,6}$"),
        ("id" = i64, Path, description = "The message id", minimum = 1),
    ),
    responses(
        (status = 204, description = "Deleted (text erased from storage); the room receives `message_deleted`"),
        (status = 400, description = "As for edit (the contract's error set)", body = ErrorBody),
        (status = 403, description = "A message of the other member", body = ErrorBody),
        (status = 404, description = "No such message, a deleted one, or one in a room the caller is not in", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(name = "delete_message", skip_all, fields(message_id = %path.id))]
async fn remove(
    State(state): State<AppState>,
    Bearer(token): Bearer,
    Path(path): Path<MessagePath>,
) -> Result<StatusCode, Error> {
    let Some(message_id) = positive_id(&path.id) else {
        return Err(state.core.after_auth(&token, Error::NotFound).await);
    };
    state.core.delete_message(&token, message_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?before=&limit=` as sent; parsed by hand so every mistake gets a clear 400.
#[derive(Debug, Deserialize)]
struct PageQuery {
    before: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(
    get,
    path = "/{lang}/api/v1/chatrooms/{room_id}/messages/",
    tag = "messages",
    params(
        ("lang" = String, Path, description = "Language prefix, e.g. `en`", pattern = r"^[A-Za-z][A-Za-z_-]{1,6}$"),
        ("room_id" = i64, Path, description = "The room id", minimum = 1),
        ("before" = Option<i64>, Query, description = "Only messages older than this message id", minimum = 1),
        ("limit" = Option<i32>, Query, description = "Page size, 1 to 100 (default 50)", minimum = 1, maximum = 100),
    ),
    responses(
        (status = 200, description = "Messages, newest first", body = Vec<HistoryItem>),
        (status = 400, description = "A bad `before` or `limit`", body = ErrorBody),
        (status = 403, description = "The caller is not a member", body = ErrorBody),
        (status = 404, description = "No such room", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
#[tracing::instrument(name = "list_messages", skip_all, fields(room_id = %path.room_id))]
async fn list(
    State(state): State<AppState>,
    Bearer(token): Bearer,
    Path(path): Path<RoomPath>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Vec<HistoryItem>>, Error> {
    let parsed = positive_id(&path.room_id)
        .ok_or(Error::NotFound)
        .and_then(|room_id| page_request(room_id, query));
    let page = match parsed {
        Ok(page) => page,
        Err(error) => return Err(state.core.after_auth(&token, error).await),
    };
    let messages = state.core.list_messages(&token, page).await?;
    Ok(Json(messages.into_iter().map(HistoryItem::from).collect()))
}

fn page_request(
    room_id: i64,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<HistoryQuery, Error> {
    let invalid = |detail: &str| Error::InvalidRequest(detail.to_owned());
    let Query(query) = query.map_err(|_| invalid("Invalid query string."))?;
    let before_message_id = match query.before.as_deref() {
        None | Some("") => None,
        Some(raw) => {
            Some(positive_id(raw).ok_or_else(|| invalid("before must be a positive integer."))?)
        }
    };
    let limit = match query.limit.as_deref() {
        None | Some("") => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=MAX_PAGE).contains(limit))
            .ok_or_else(|| invalid("limit must be an integer from 1 to 100."))?,
    };
    Ok(HistoryQuery {
        room_id,
        before_message_id,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_text_limit_is_the_contracts() {
        let schema = serde_json::to_value(<EditBody as utoipa::PartialSchema>::schema());
        let max = schema
            .ok()
            .map(|schema| schema["properties"]["text"]["maxLength"].clone());
        assert_eq!(max, Some(service_kit::limits::MAX_TEXT_CHARS.into()));
    }

    fn page(before: Option<&str>, limit: Option<&str>) -> Result<HistoryQuery, Error> {
        let query = PageQuery {
            before: before.map(str::to_owned),
            limit: limit.map(str::to_owned),
        };
        page_request(7, Ok(Query(query)))
    }

    #[test]
    fn an_empty_query_asks_for_the_newest_fifty() {
        let request = page(None, None).expect("valid");
        assert_eq!(
            (request.room_id, request.before_message_id, request.limit),
            (7, None, 50)
        );
    }

    #[test]
    fn before_and_limit_are_passed_on() {
        let request = page(Some("45"), Some("100")).expect("valid");
        assert_eq!((request.before_message_id, request.limit), (Some(45), 100));
    }

    #[test]
    fn a_limit_outside_one_to_a_hundred_is_refused() {
        for limit in ["0", "101", "-1", "ten"] {
            assert!(page(None, Some(limit)).is_err(), "{limit}");
        }
    }

    #[test]
    fn a_non_positive_before_is_refused() {
        assert!(page(Some("0"), None).is_err());
        assert!(page(Some("x"), None).is_err());
    }

    #[test]
    fn an_edit_body_needs_a_text_string() {
        let body = |raw: &'static str| Ok(Bytes::from_static(raw.as_bytes()));
        assert_eq!(
            edit_text(body(r#"{"text": "hi"}"#)).ok().as_deref(),
            Some("hi")
        );
        for raw in [
            r#"{"text": 5}"#,
            r#"{}"#,
            "not json",
            "[1]",
            r#"{"text": "a\u0000"}"#,
        ] {
            assert!(edit_text(body(raw)).is_err(), "{raw}");
        }
    }
}
