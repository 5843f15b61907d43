//! Probes for orchestrators: `/healthz` (liveness: the process serves HTTP)
//! and `/readyz` (readiness: 503 once shutdown has begun). The edge holds no
//! state of its own, so readiness does not follow the core: an edge whose
//! core is down still answers every request, with the documented 503/1011.

use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;

/// `GET /healthz`.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Liveness: the process serves HTTP (`ok`)", body = String, content_type = "text/plain")),
)]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready (`ready`)", body = String, content_type = "text/plain"),
        (status = 503, description = "Shutting down (`shutting down`)", body = String, content_type = "text/plain"),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    } else {
        (StatusCode::OK, "ready\n")
    }
}
