//! The edge's Prometheus metrics and the HTTP layer that feeds them: one
//! registry per running edge (never global), a latency histogram per route
//! template, and a request id in every request's span. The buckets, the
//! exposition and the request-id rules are `service_kit`'s.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use service_kit::metrics::latency_histogram;
use service_kit::request_id::{self, RequestIds};
use tracing::Instrument;

use crate::AppState;

tokio::task_local! {
    /// The id of the request the current task serves (a WebSocket session
    /// keeps its upgrade request's).
    static REQUEST_ID: String;
}

/// The id of the request the current task serves, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `future` as part of the request `id`. A plain function, not an
/// `async fn`: that would hold `future` twice (as its argument and inside
/// the scope), doubling every WebSocket session's task.
pub fn with_request_id<F: std::future::Future>(
    id: String,
    future: F,
) -> impl std::future::Future<Output = F::Output> {
    REQUEST_ID.scope(id, future)
}

/// Numbers requests that arrive without an acceptable `x-request-id`: `edge-1`, `edge-2`, …
static REQUEST_IDS: RequestIds = RequestIds::new("edge");

/// Labels of the request latency histogram: the route template (never the
/// raw path or query, which may hold a token), method and status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The matched route, e.g. `/{lang}/api/v1/messages/{message_id}/edit`, or `unmatched`.
    pub route: String,
    /// The HTTP method when it is a standard one (`GET`, `POST`, …), otherwise `other`.
    pub method: &'static str,
    /// The response status code.
    pub status: u16,
}

type RouteFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Every metric of one edge; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    ws_connections: Gauge,
    ws_connections_total: Counter,
    link_events: Counter,
    links_opened: Counter,
    http_duration: RouteFamily,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("chat_edge");
        let ws_connections = Gauge::default();
        let ws_connections_total = Counter::default();
        let link_events = Counter::default();
        let links_opened = Counter::default();
        let http_duration = RouteFamily::new_with_constructor(latency_histogram);
        registry.register(
            "ws_connections",
            "Open WebSocket connections",
            ws_connections.clone(),
        );
        registry.register(
            "ws_connections_opened",
            "WebSocket connections accepted since start",
            ws_connections_total.clone(),
        );
        registry.register(
            "link_events",
            "Room events received from cores on the edge's link, once per room however many sockets follow it",
            link_events.clone(),
        );
        registry.register(
            "links_opened",
            "Links to a core the edge opened (the first, and one after each that broke)",
            links_opened.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route template, method and status (WebSocket: until the upgrade)",
            http_duration.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                ws_connections,
                ws_connections_total,
                link_events,
                links_opened,
                http_duration,
            }),
        }
    }

    /// A WebSocket opened; the gauge goes down when the guard drops.
    pub fn ws_opened(&self) -> ConnectionGuard {
        self.inner.ws_connections.inc();
        self.inner.ws_connections_total.inc();
        ConnectionGuard(self.clone())
    }

    /// The counters the hub keeps of its links.
    pub fn link_counters(&self) -> crate::fanout::LinkCounters {
        crate::fanout::LinkCounters {
            events: self.inner.link_events.clone(),
            opened: self.inner.links_opened.clone(),
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        service_kit::metrics::render(&self.inner.registry)
    }
}

/// Keeps the open-connections gauge up while alive.
pub struct ConnectionGuard(Metrics);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.inner.ws_connections.dec();
    }
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus metrics of this edge", body = String, content_type = "application/openmetrics-text"),
        (status = 500, description = "The metrics could not be rendered"),
    ),
)]
pub async fn scrape(State(state): State<AppState>) -> Response {
    service_kit::metrics::response(state.metrics.render())
}

/// Middleware: a `request` span with a request id, method and route (the
/// template: no path values, no query), its latency in the histogram, one
/// log line when it ends, and the id echoed in `x-request-id`.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    let request_id = REQUEST_IDS.of(request.headers());
    let span = tracing::info_span!("request", %request_id, %method, %route);
    let started = Instant::now();
    let mut response = with_request_id(
        request_id.clone(),
        next.run(request).instrument(span.clone()),
    )
    .await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = elapsed.as_secs_f64() * 1e3,
            "request finished"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(request_id::HEADER_NAME, value);
    }
    let labels = RouteLabels {
        route,
        method,
        status,
    };
    state
        .metrics
        .inner
        .http_duration
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
    response
}

/// A standard method's name; any other method (`FOOBAR1`) is `other`, so
/// clients cannot add series by inventing methods.
fn method_label(method: &Method) -> &'static str {
    static STANDARD: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::CONNECT,
        Method::OPTIONS,
        Method::TRACE,
        Method::PATCH,
    ];
    STANDARD
        .iter()
        .find(|standard| *standard == method)
        .map_or("other", Method::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_methods_label_themselves() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
    }

    #[test]
    fn invented_methods_are_other() {
        for raw in ["FOOBAR1", "get", "PROPFIND"] {
            let method = Method::from_bytes(raw.as_bytes()).expect("a token");
            assert_eq!(method_label(&method), "other", "{raw}");
        }
    }
}
