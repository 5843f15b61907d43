//! The core's HTTP listener for operators: `/metrics` (Prometheus text),
//! `/healthz` (liveness: the process serves HTTP) and `/readyz` (readiness:
//! 503 once shutting down or while PostgreSQL does not answer).

use std::time::Duration;

use axum::{Router, extract::State, http::StatusCode, response::Response, routing::get};
use tokio_util::sync::CancellationToken;

use super::Metrics;
use crate::store::Store;

/// How long readiness waits for PostgreSQL to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// What the operator endpoints read.
#[derive(Clone)]
pub struct OpsState {
    /// What `/metrics` renders.
    pub metrics: Metrics,
    /// What `/readyz` asks for a trivial query, and `/metrics` for pool usage.
    pub store: Store,
    /// Cancelled when the instance starts shutting down.
    pub shutdown: CancellationToken,
}

/// `/metrics`, `/healthz` and `/readyz`.
pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn metrics(State(state): State<OpsState>) -> Response {
    service_kit::metrics::response(state.metrics.render(state.store.pool_status()))
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<OpsState>) -> (StatusCode, &'static str) {
    if state.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    }
    match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n"),
        Ok(Err(_)) | Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n"),
    }
}
