//! The OpenAPI document of the REST edge, generated from the handlers'
//! annotations and served at `/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;
use crate::rest::openapi_shared::SharedResponses;
use crate::rest::{conversations, messages, rooms, users};
use crate::wire::{ConversationView, HistoryItem, Profile, RoomList, Status};
use crate::{dev, metrics, probes};

/// The REST API (every path of the REST table in docs/protocol.md),
/// the operator probes and metrics, this document, and `POST /dev/token`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "chat edge REST API",
        description = "REST paths of the chat edge. Every path also works without (or with) \
                       the trailing slash, under any language prefix such as `en`. Errors are \
                       `{\"detail\": \"…\"}`; 401 answers carry `WWW-Authenticate: Bearer`. \
                       Writes (POST, PUT, DELETE) over the caller's rate get 429 with \
                       `Retry-After` (seconds). Browser pages on the allowed origins \
                       (`CHAT_ALLOWED_ORIGINS`) get CORS answers, preflights (OPTIONS) \
                       included, on every REST path; other origins get no CORS headers. \
                       The WebSocket protocol is described in docs/websocket.md."
    ),
    paths(
        rooms::get_or_create_room,
        messages::edit,
        messages::remove,
        messages::list,
        users::me,
        users::user,
        conversations::list,
        conversations::read,
        serve,
        probes::healthz,
        probes::readyz,
        metrics::scrape,
        dev::dev_token,
    ),
    components(schemas(
        ErrorBody,
        HistoryItem,
        Status,
        rooms::RoomBody,
        messages::Updated,
        messages::EditBody,
        Profile,
        ConversationView,
        RoomList,
        conversations::ReadBody,
        dev::TokenRequest,
        dev::TokenResponse,
    )),
    modifiers(&BearerAuth, &SharedResponses),
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the paths refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This OpenAPI document", body = Object)),
)]
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
