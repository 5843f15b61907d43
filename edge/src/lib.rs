//! The chat edge: the REST paths and WebSocket protocol of PROTOCOL.md,
//! each request turned into gRPC calls on the core. It holds no database and
//! verifies nothing itself beyond forwarding the caller's bearer token.

pub mod config;
pub mod core_client;
pub mod dev;
pub mod error;
pub mod metrics;
pub mod probes;
pub mod rest;
pub mod ws;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, Secret};
use crate::core_client::CoreClient;
use crate::error::{Error, ErrorBody};
use crate::metrics::Metrics;
use axum::middleware;
use axum::routing::get;

/// How long WebSocket sessions get to say goodbye once shutdown begins.
const SESSION_GRACE: Duration = Duration::from_secs(5);

/// What every handler shares; passed explicitly, never global.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The core, over one lazily connected channel.
    pub core: CoreClient,
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
}

/// Every route of the edge, ready to serve.
pub fn app(state: AppState) -> Router {
    let dev = if state.dev_mode {
        dev::router()
    } else {
        Router::new()
    };
    Router::new()
        .merge(dev)
        .merge(rest::router())
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
    let core = CoreClient::connect_lazy(&config.core_url, config.core_deadline())
        .context("connecting to the core")?;
    let sessions = TaskTracker::new();
    let state = AppState {
        core,
        ws_queue: config.ws_queue.max(1),
        ws_stall: config.ws_stall(),
        shutdown: shutdown.clone(),
        sessions: sessions.clone(),
        metrics: Metrics::new(),
        dev_mode: config.dev_mode,
        dev_secret: config.jwt_secret.clone(),
        ws_policy: Arc::new(config.ws_policy()),
    };
    if config.dev_mode {
        tracing::warn!(
            "DEVELOPMENT MODE: serving the demo page at / and minting tokens at POST /dev/token. \
             Never expose this edge."
        );
    }
    let app = app(state);
    let mut servers = Vec::with_capacity(listeners.len());
    for listener in listeners {
        let addr = listener
            .local_addr()
            .context("reading a listener's address")?;
        tracing::info!(%addr, core_url = %config.core_url, "edge listening");
        let listener = listener.tap_io(tune_socket);
        let server = axum::serve(listener, app.clone())
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .into_future();
        servers.push(server);
    }
    futures::future::try_join_all(servers)
        .await
        .context("serving HTTP")?;
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

async fn not_found() -> Response {
    Error::NotFound.into_response()
}

async fn method_not_allowed() -> Response {
    let body = ErrorBody {
        detail: "Method not allowed.".to_owned(),
    };
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}

/// The kernel's send buffer of one client socket. A fixed size turns off
/// autotuning, which would otherwise let a client that stopped reading pin
/// up to `tcp_wmem`'s maximum (megabytes) before the session notices; 64 KiB
/// is hundreds of chat frames.
const SOCKET_SEND_BUFFER: usize = 64 * 1024;

/// Nagle's algorithm off (small frames must not wait for a delayed ACK) and
/// a bounded send buffer, on every accepted connection.
fn tune_socket(tcp: &mut tokio::net::TcpStream) {
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "could not turn Nagle's algorithm off");
    }
    if let Err(error) = socket2::SockRef::from(&*tcp).set_send_buffer_size(SOCKET_SEND_BUFFER) {
        tracing::debug!(%error, "could not size the send buffer");
    }
}
