//! Serving the edge's listeners: an accept loop over hyper's HTTP/1.1
//! connections with the limits `axum::serve` does not offer. A client must
//! finish each request head within the header-read timeout (which also ends
//! a silent connection and an idle keep-alive one); a connection that moves
//! no byte either way for the idle timeout is closed, in the middle of a
//! request too; one source address may hold a bounded number of connections.
//! A connection upgraded to a WebSocket leaves these timeouts behind (its
//! session pings) but still counts for its address.

mod address;
mod watched;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use address::{AddressConnections, AddressSlot};
use watched::{Activity, Watched};

/// The connection limits of every listener.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// Time a client has for each request head, from the moment the edge waits for it.
    pub header_read_timeout: Duration,
    /// Time a connection may move no byte either way before it is closed.
    pub idle_timeout: Duration,
    /// Connections one source address may hold at once; 0: no limit.
    pub max_per_address: usize,
}

/// Serves `app` on `listener` until `shutdown`, then lets open requests
/// finish and waits for their connections to close.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Arc<ConnLimits>,
    shutdown: CancellationToken,
) {
    let connections = TaskTracker::new();
    let addresses = AddressConnections::default();
    loop {
        let (tcp, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        let Some(slot) = addresses.acquire(peer.ip(), limits.max_per_address) else {
            tracing::debug!(%peer, "refused a connection: its address holds the most allowed");
            continue;
        };
        tune_socket(&tcp);
        let connection = Connection {
            io: Watched::new(tcp, slot),
            app: app.clone(),
            limits: Arc::clone(&limits),
            shutdown: shutdown.clone(),
        };
        connections.spawn(connection.serve());
    }
    connections.close();
    connections.wait().await;
}

/// One accepted connection and what it is served with.
struct Connection {
    io: Watched<TcpStream>,
    app: Router,
    limits: Arc<ConnLimits>,
    shutdown: CancellationToken,
}

impl Connection {
    /// Serves requests until the client leaves, a limit ends the connection,
    /// or it is upgraded (the WebSocket session then owns the socket).
    async fn serve(self) {
        let activity: Activity = self.io.activity();
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout);
        let service = TowerToHyperService::new(self.app);
        let connection = builder
            .serve_connection(TokioIo::new(self.io), service)
            .with_upgrades();
        tokio::pin!(connection);
        let mut draining = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended");
                    }
                    return;
                }
                () = self.shutdown.cancelled(), if !draining => {
                    connection.as_mut().graceful_shutdown();
                    draining = true;
                }
                () = activity.idle_for(self.limits.idle_timeout) => {
                    tracing::debug!("closed a connection idle for the idle timeout");
                    return;
                }
            }
        }
    }
}

/// Waits out an accept error: a failed handshake of one client is nothing,
/// anything else (out of file descriptors) gets a pause before the next try.
async fn accept_failed(error: &io::Error) {
    match error.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::ConnectionReset => {}
        _ => {
            tracing::error!(%error, "accepting a connection failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// The kernel's send buffer of one client socket. A fixed size turns off
/// autotuning, which would otherwise let a client that stopped reading pin
/// up to `tcp_wmem`'s maximum (megabytes) before the session notices; 64 KiB
/// is hundreds of chat frames.
const SOCKET_SEND_BUFFER: usize = 64 * 1024;

/// Nagle's algorithm off (small frames must not wait for a delayed ACK) and
/// a bounded send buffer, on every accepted connection.
fn tune_socket(tcp: &TcpStream) {
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "could not turn Nagle's algorithm off");
    }
    if let Err(error) = socket2::SockRef::from(tcp).set_send_buffer_size(SOCKET_SEND_BUFFER) {
        tracing::debug!(%error, "could not size the send buffer");
    }
}
