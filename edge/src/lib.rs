//! The chat edge: the REST paths and WebSocket protocol of docs/protocol.md,
//! each request turned into gRPC calls on the core. It holds no database and
//! verifies nothing itself beyond forwarding the caller's bearer token.

pub mod config;
pub mod core_client;
pub mod dev;
pub mod error;
pub mod failure;
pub mod fanout;
pub mod metrics;
pub mod path;
pub mod probes;
pub mod rest;
pub mod serve;
pub mod wire;
pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, Secret};
use crate::core_client::{CoreClient, LinkClient, LinkCredential};
use crate::error::{Error, ErrorBody};
use crate::fanout::Hub;
use crate::metrics::Metrics;
use axum::middleware;
use axum::routing::get;

/// How long WebSocket sessions get to say goodbye once shutdown begins.
const SESSION_GRACE: Duration = Duration::from_secs(5);

/// What every handler shares; passed explicitly, never global.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The cores, over lazily connected channels, for unary calls.
    pub core: CoreClient,
    /// The fan-out hub: the edge's link to a core, and its rooms.
    pub hub: Hub,
    /// Capacity of each WebSocket's outbound frame queue.
    pub ws_queue: usize,
    /// How long a WebSocket's outbound queue may stay full before the client is closed (1013).
    pub ws_stall: Duration,
    /// Cancelled when the edge shuts down.
    pub shutdown: CancellationToken,
    /// Every live WebSocket session, so shutdown can wait for their close frames.
    pub sessions: TaskTracker,
    /// This edge's Prometheus metrics.
    pub metrics: Metrics,
    /// Development mode: the demo page and `POST /dev/token` are served.
    pub dev_mode: bool,
    /// The secret of development tokens; `None`: the public development secret.
    pub dev_secret: Option<Secret>,
    /// Origins, rates, pings and per-user caps of WebSocket sessions.
    pub ws_policy: Arc<ws::limits::WsPolicy>,
    /// The per-user limit of REST writes.
    pub rest_rate: Arc<rest::rate_limit::RestRate>,
}

/// Every route of the edge, ready to serve.
pub fn app(state: AppState) -> Router {
    let dev = if state.dev_mode {
        dev::router()
    } else {
        Router::new()
    };
    let rest = rest::router(&state, state.ws_policy.origins.clone());
    Router::new()
        .merge(dev)
        .merge(rest)
        .merge(ws::router())
        .route("/metrics", get(metrics::scrape))
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::observe,
        ))
        .with_state(state)
}

/// Serves [`app`] on every listener until `shutdown` is cancelled, then waits
/// (a bounded time) for WebSocket sessions to send their close frames.
pub async fn run(
    listeners: Vec<TcpListener>,
    config: Config,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let urls = config.core_urls();
    anyhow::ensure!(!urls.is_empty(), "CHAT_CORE_URL names no core");
    let core = CoreClient::connect_lazy(&urls, config.core_deadline())
        .context("connecting to the core")?;
    let credential = link_credential(&config)?;
    let link = LinkClient::connect_lazy(
        &urls,
        credential,
        config.core_deadline(),
        config.link_sizes(),
    )
    .context("linking to the core")?;
    tracing::info!(edge_id = link.edge_id(), "edge instance");
    let metrics = Metrics::new();
    let hub = Hub::start(link, config.core_deadline(), metrics.link_counters());
    let sessions = TaskTracker::new();
    let state = AppState {
        core,
        hub,
        ws_queue: config.ws_queue.max(1),
        ws_stall: config.ws_stall(),
        shutdown: shutdown.clone(),
        sessions: sessions.clone(),
        metrics,
        dev_mode: config.dev_mode,
        dev_secret: config.jwt_secret.clone(),
        ws_policy: Arc::new(config.ws_policy()),
        rest_rate: Arc::new(config.rest_rate()),
    };
    if config.dev_mode {
        tracing::warn!(
            "DEVELOPMENT MODE: serving the demo page at / and minting tokens at POST /dev/token. \
             Never expose this edge."
        );
    }
    let app = app(state);
    let limits = Arc::new(config.conn_limits());
    let mut servers = Vec::with_capacity(listeners.len());
    for listener in listeners {
        let addr = listener
            .local_addr()
            .context("reading a listener's address")?;
        tracing::info!(%addr, core_url = %config.core_url, "edge listening");
        servers.push(serve::serve(
            listener,
            app.clone(),
            Arc::clone(&limits),
            shutdown.clone(),
        ));
    }
    futures::future::join_all(servers).await;
    sessions.close();
    if tokio::time::timeout(SESSION_GRACE, sessions.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            left = sessions.len(),
            "WebSocket sessions outlived the shutdown grace"
        );
    }
    Ok(())
}

/// The token the edge links with: `CHAT_EDGE_TOKEN`, or in development mode
/// one minted for each link with the development secret. Outside development
/// mode an edge without one would only ever be refused, so it does not start.
fn link_credential(config: &Config) -> anyhow::Result<LinkCredential> {
    match (&config.edge_token, config.dev_mode) {
        (Some(token), _) => LinkCredential::token(token).context(
            "CHAT_EDGE_TOKEN must be a bare token of visible ASCII characters, at most 8 KiB",
        ),
        (None, true) => {
            let secret = config.jwt_secret.clone();
            let secret = secret.unwrap_or_else(|| Secret::new(dev::token::DEV_JWT_SECRET));
            Ok(LinkCredential::Minted(secret))
        }
        (None, false) => anyhow::bail!(
            "CHAT_EDGE_TOKEN is not set: the core opens an edge's link only with a service token \
             whose scope holds chat:edge (`core-svc dev-token --sub chat-edge --scope chat:edge`); \
             in development mode (CHAT_DEV_MODE) the edge mints its own"
        ),
    }
}

async fn not_found() -> Response {
    Error::NotFound.into_response()
}

/// `405` with a `detail`; axum adds the `Allow` header.
pub(crate) async fn method_not_allowed() -> Response {
    let body = ErrorBody {
        detail: "Method not allowed.".to_owned(),
    };
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}
