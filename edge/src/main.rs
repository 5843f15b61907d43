//! The edge binary: parse settings, set up tracing, bind every address and
//! hand over to [`edge::run`] until Ctrl-C or SIGTERM.

use anyhow::Context;
use edge::config::{Config, LogFormat};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = service_kit::settings::parse::<Config>();
    init_logging(config.log_format);
    let mut listeners = Vec::with_capacity(config.http_addrs.len());
    for addr in &config.http_addrs {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        listeners.push(listener);
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    edge::run(listeners, config, shutdown).await
}

/// Logs to stderr as readable lines or JSON objects, filtered by `RUST_LOG`
/// (default `info`).
fn init_logging(format: LogFormat) {
    service_kit::logging::init(format == LogFormat::Json);
}

/// Cancels `shutdown` on Ctrl-C or (on Unix) SIGTERM.
async fn cancel_on_signal(shutdown: CancellationToken) {
    service_kit::shutdown::signalled().await;
    tracing::info!("shutting down");
    shutdown.cancel();
}
