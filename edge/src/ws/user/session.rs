//! One session per user socket: it waits for the `auth` frame of a socket
//! opened without a token (`ws/auth.rs`), opens the user's
//! `InboxService.Stream` on the core (after the client's cursor when it gave
//! one) and awaits its start, sends the first frame — `inbox` or `resumed`
//! — and then runs three loops under one `select!`, as a room session
//! does: the reader (`reader.rs`: client frames → the core), the stream
//! pump (`pump.rs`: the stream → the queue) and the writer, which alone
//! owns the sink. Whichever ends first ends the others; dropping the
//! stream ends the user's presence on the core, then the close frame goes.
//!
//! A refused socket receives only its close frame. The session keeps no
//! state per room: the core's stream carries the user's rooms.

use std::sync::Arc;
use std::time::Duration;

use crate::ws::upgrade::WebSocket;
use futures::StreamExt;
use futures::stream::SplitStream;
use tokio_util::sync::CancellationToken;

use super::pump::{pump_inbox, start_frame};
use super::reader::UserSender;
use crate::core_client::{BearerToken, CoreClient, InboxStart, InboxStream};
use crate::ws::auth::{self, Credentials};
use crate::ws::close::{CloseReason, End};
use crate::ws::limits::{ConnectionSlot, Liveness, RateLimit, WsPolicy};
use crate::ws::reader::{ClientLimits, TYPING_BURST, TYPING_PER_SEC, read_client};
use crate::ws::session::{admit, close};
use crate::ws::writer::{Outbound, Writer, queue};

/// What a user session needs, gathered before the upgrade.
#[derive(Debug)]
pub struct UserParams {
    /// The core.
    pub core: CoreClient,
    /// The caller's token, from the header or `?token=`; `None`: the first
    /// frame must be an `auth` frame.
    pub token: Option<BearerToken>,
    /// The last cursor the client received, to resume after (taken once
    /// the stream is open).
    pub cursor: Option<String>,
    /// Capacity of the outbound frame queue.
    pub queue: usize,
    /// How long the outbound queue may stay full before the client counts as too slow.
    pub stall: Duration,
    /// Cancelled when the edge shuts down.
    pub shutdown: CancellationToken,
    /// Rates, pings and per-user caps.
    pub policy: Arc<WsPolicy>,
}

/// A user whose stream is open.
struct Opened {
    credentials: Credentials,
    /// The user's stream; dropping it ends the user's presence on the core.
    inbox: InboxStream,
    /// What the first frame says; taken when it is sent.
    start: Option<InboxStart>,
    /// This socket's place in the user's connection count.
    _slot: ConnectionSlot,
}

/// An opened session, everything its serving phase needs, owned.
struct Session {
    params: UserParams,
    opened: Opened,
    writer: Writer,
    stream: SplitStream<WebSocket>,
    out: Outbound,
}

/// Runs one user socket from upgrade to close, in two boxed phases (as a
/// room session: an idle socket's task holds only the serving state).
pub fn run(socket: WebSocket, params: UserParams) -> impl Future<Output = ()> + Send {
    let opening = Box::pin(open(socket, params));
    async move {
        let Some(session) = opening.await else {
            return;
        };
        Box::pin(session.serve()).await;
    }
}

/// Opens the user's stream; a refused socket is closed here and yields nothing.
async fn open(socket: WebSocket, mut params: UserParams) -> Option<Session> {
    // Needed only to open the stream: not kept for the socket's life.
    let cursor = params.cursor.take();
    let (sink, mut stream) = socket.split();
    let (out, rx) = queue(params.queue, params.stall);
    let writer = Writer::new(sink, rx);
    let opened = tokio::select! {
        opened = connect(&params, cursor.as_deref(), &mut stream) => opened,
        () = params.shutdown.cancelled() => Err(End::Close(CloseReason::RESTARTING)),
    };
    match opened {
        Ok(opened) => {
            let resumed = matches!(opened.start, Some(InboxStart::Resumed { .. }));
            let user_id = opened.credentials.user_id;
            tracing::info!(user_id, resumed, "user socket open");
            Some(Session {
                params,
                opened,
                writer,
                stream,
                out,
            })
        }
        Err(end) => {
            let close_code = match end {
                End::Close(reason) => Some(reason.code),
                End::ClientClosed | End::ClientGone => None,
            };
            tracing::info!(close_code, "refused");
            close(writer, &mut stream, end).await;
            None
        }
    }
}

/// Takes the token (from the connect, else from the `auth` first frame)
/// and opens the user's stream, which checks it.
async fn connect(
    params: &UserParams,
    cursor: Option<&str>,
    stream: &mut SplitStream<WebSocket>,
) -> Result<Opened, End> {
    let token = match params.token.clone() {
        Some(token) => token,
        None => auth::first_frame(stream).await?,
    };
    let (inbox, start) = params
        .core
        .open_inbox(&token, cursor)
        .await
        .map_err(|error| {
            if error.failure().on_user_stream() == CloseReason::CORE_UNAVAILABLE {
                tracing::warn!(code = ?error.code(), "the user stream did not open");
            }
            End::Close(error.failure().on_user_stream())
        })?;
    let (credentials, slot) = admit(token, start.subscriber(), &params.policy)?;
    Ok(Opened {
        credentials,
        inbox,
        start: Some(start),
        _slot: slot,
    })
}

impl Session {
    /// Serves the open socket until it ends, then closes it. An `async`
    /// block, not an `async fn`: a method's `self` would be stored twice.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn would store `self` twice"
    )]
    fn serve(mut self) -> impl Future<Output = ()> + Send {
        async move {
            let end = serve(
                &self.params,
                &mut self.opened,
                &mut self.writer,
                &mut self.stream,
                self.out,
            )
            .await;
            // The stream goes first: the user's presence ends with it.
            drop(self.opened);
            close(self.writer, &mut self.stream, end).await;
        }
    }
}

/// Sends the first frame, then runs reader, pump and writer until one ends.
async fn serve(
    params: &UserParams,
    opened: &mut Opened,
    writer: &mut Writer,
    stream: &mut SplitStream<WebSocket>,
    out: Outbound,
) -> End {
    if let Some(start) = opened.start.take() {
        let pushed = {
            let frame = start_frame(start);
            out.push(&frame)
        };
        if let Err(end) = pushed.await {
            return end;
        }
    }
    let mut sender = UserSender {
        core: &params.core,
        credentials: &mut opened.credentials,
        last_typing: None,
    };
    let liveness = Liveness::default();
    let policy = &params.policy;
    let mut limits = ClientLimits {
        rate: RateLimit::new(policy.rate_per_sec, policy.rate_burst),
        typing: RateLimit::new(TYPING_PER_SEC, TYPING_BURST),
        liveness: liveness.clone(),
    };
    tokio::select! {
        end = writer.run(policy.ping_interval, &liveness) => end,
        end = read_client(stream, &out, &mut sender, &mut limits) => end,
        end = pump_inbox(&mut opened.inbox, &out) => end,
        () = params.shutdown.cancelled() => End::Close(CloseReason::RESTARTING),
    }
}
