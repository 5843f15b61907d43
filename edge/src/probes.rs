//! Probes for orchestrators: `/healthz` (liveness: the process serves HTTP)
//! and `/readyz` (readiness: 503 once shutdown has begun). The edge holds no
//! state of its own, so readiness does not follow the core: an edge whose
//! core is down still answers every request, with the documented 503/1011.

use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;

/// `GET /healthz`.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    } else {
        (StatusCode::OK, "ready\n")
    }
}
