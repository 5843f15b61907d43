//! One session per socket: it waits for the `auth` frame of a socket opened
//! without a token (`auth.rs`), joins the room by opening the socket on the
//! edge's hub (`fanout::Hub`, which carries it on the edge's one link to a
//! core, resuming after the client's `last_seq` when it gave one), sends the
//! first frame — the history array, or `{"type": "resumed"}` — the other
//! member's `presence`, and the events a resumed socket missed, then runs three loops under one
//! `select!`: the reader (`reader.rs`: client frames → `SendMessage`), the
//! event pump (`events.rs`: the hub's shared frames → the queue) and the
//! writer (`writer.rs`), which alone owns the sink and drains a bounded queue.
//! Whichever ends first ends the others; the session then drops its hub
//! ticket (ending presence) and sends its close frame (the close codes are
//! listed in `close.rs`).
//!
//! A refused socket receives only its close frame: no history, no events.
//! A peer that answers none of two pings in a row is dropped without one.

use std::sync::Arc;
use std::time::Duration;

use super::upgrade::WebSocket;
use futures::StreamExt;
use futures::stream::SplitStream;
use tokio_util::sync::CancellationToken;

use super::auth::{self, Credentials, Expiry};
use super::close::{CloseReason, End};
use super::events::pump_events;
use super::limits::{ConnectionSlot, Liveness, RateLimit, WsPolicy};
use super::protocol::ServerFrame;
use super::reader::{ClientLimits, Sender, TYPING_BURST, TYPING_PER_SEC, read_client};
use super::writer::{Outbound, Writer, await_close_echo, queue};
use crate::core_client::{BearerToken, CoreClient, Opening, Presence, RoomEvent, Subscriber};
use crate::error::Error;
use crate::fanout::{FEED_FRAMES, FeedReceiver, Hub, SocketTicket, feed};
use crate::wire::HistoryItem;

/// What a session needs, gathered before the upgrade.
#[derive(Debug)]
pub struct SessionParams {
    /// The core.
    pub core: CoreClient,
    /// The edge's fan-out hub, which carries the socket on the link.
    pub hub: Hub,
    /// The caller's token, from the header or `?token=`; `None`: the first
    /// frame must be an `auth` frame.
    pub token: Option<BearerToken>,
    /// The room id of the path; `None` when it is no positive integer.
    pub room_id: Option<i64>,
    /// The last `seq` the client saw, to resume after; `None` for a fresh connection.
    pub last_seq: Option<i64>,
    /// Capacity of the outbound frame queue.
    pub queue: usize,
    /// How long the outbound queue may stay full before the client counts as too slow.
    pub stall: Duration,
    /// Cancelled when the edge shuts down.
    pub shutdown: CancellationToken,
    /// Rates, pings and per-user caps.
    pub policy: Arc<WsPolicy>,
}

/// A member who has joined the room.
struct Joined {
    credentials: Credentials,
    room_id: i64,
    /// The socket's place in the hub; dropping it closes it on the core.
    ticket: SocketTicket,
    /// The room's live events, from the hub.
    feed: FeedReceiver,
    /// What the first frame says: the history array, or `resumed`.
    opening: Opening,
    /// The other member's presence, sent right after the first frame.
    peer: Option<Presence>,
    /// The events a resumed socket missed, sent after the presence.
    missed: Vec<RoomEvent>,
    /// This socket's place in the user's connection count.
    _slot: ConnectionSlot,
}

/// Runs one socket from upgrade to close.
///
/// The two phases are boxed one after the other and the future returned
/// holds only the current box: an idle socket's task carries the serving
/// state and nothing of the join (an `async fn` would keep its arguments and
/// the join's space for the session's whole life, kilobytes per socket).
pub fn run(socket: WebSocket, params: SessionParams) -> impl Future<Output = ()> + Send {
    let joining = Box::pin(open(socket, params));
    async move {
        let Some(session) = joining.await else {
            return;
        };
        Box::pin(session.serve()).await;
    }
}

/// A joined session, everything its serving phase needs, owned.
struct Session {
    params: SessionParams,
    joined: Joined,
    writer: Writer,
    stream: SplitStream<WebSocket>,
    out: Outbound,
}

/// Joins the room; a refused socket is closed here and yields nothing.
async fn open(socket: WebSocket, params: SessionParams) -> Option<Session> {
    let (sink, mut stream) = socket.split();
    let (out, rx) = queue(params.queue, params.stall);
    let writer = Writer::new(sink, rx);
    let opened = tokio::select! {
        opened = join(&params, &mut stream) => opened,
        () = params.shutdown.cancelled() => Err(End::Close(CloseReason::RESTARTING)),
    };
    match opened {
        Ok(joined) => {
            let resumed = matches!(joined.opening, Opening::Resumed { .. });
            tracing::info!(last_seq = params.last_seq, resumed, "joined");
            Some(Session {
                params,
                joined,
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

impl Session {
    /// Serves the joined socket until it ends, then closes it. An `async`
    /// block, not an `async fn`: a method's `self` would be stored twice in
    /// its future (the argument and its binding), 624 bytes per socket.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn would store `self` twice"
    )]
    fn serve(mut self) -> impl Future<Output = ()> + Send {
        async move {
            // `serve` takes the queue's producer and drops it on return: the
            // writer's close drains the queue until every producer is gone.
            let end = serve(
                &self.params,
                &mut self.joined,
                &mut self.writer,
                &mut self.stream,
                self.out,
            )
            .await;
            // The ticket goes first: the user's presence ends with it,
            // before the close frame, which a stalled client may take long
            // to read.
            drop(self.joined);
            close(self.writer, &mut self.stream, end).await;
        }
    }
}

/// Sends the close frame `end` calls for and waits for the client's echo.
pub(super) async fn close(writer: Writer, stream: &mut SplitStream<WebSocket>, end: End) {
    tracing::info!(?end, "session over");
    writer.finish(end).await;
    if let End::Close(_) = end {
        await_close_echo(stream).await;
    }
}

/// Takes the token (from the connect, else from the `auth` first frame),
/// and has the hub open the socket, which checks it and the room.
async fn join(params: &SessionParams, stream: &mut SplitStream<WebSocket>) -> Result<Joined, End> {
    let token = match params.token.clone() {
        Some(token) => token,
        None => auth::first_frame(stream).await?,
    };
    let Some(room_id) = params.room_id else {
        let error = params.core.after_auth(&token, Error::NotFound).await;
        return Err(error.failure().close_reason().into());
    };
    let (feed_tx, feed) = feed(FEED_FRAMES);
    let (ticket, opened) = params
        .hub
        .open(room_id, token.clone(), params.last_seq, feed_tx)
        .await
        .map_err(|error| error.failure().close_reason())?;
    let subscriber = Subscriber {
        user_id: opened.snapshot.user_id,
        token_exp: opened.snapshot.token_exp,
    };
    let (credentials, slot) = admit(token, subscriber, &params.policy)?;
    Ok(Joined {
        credentials,
        room_id,
        ticket,
        feed,
        opening: opened.snapshot.opening,
        peer: opened.peer,
        missed: opened.missed,
        _slot: slot,
    })
}

/// The socket's credentials and a connection slot for its user, from what
/// the core verified: the user its token names and the token's `exp`.
pub(super) fn admit(
    token: BearerToken,
    subscriber: Subscriber,
    policy: &WsPolicy,
) -> Result<(Credentials, ConnectionSlot), CloseReason> {
    if subscriber.user_id <= 0 || subscriber.token_exp == 0 {
        tracing::error!(
            "the core's answer names no user or token expiry; is it older than the edge?"
        );
        return Err(CloseReason::CORE_UNAVAILABLE);
    }
    let slot = policy
        .connections
        .acquire(subscriber.user_id, policy.max_per_user)
        .ok_or(CloseReason::TOO_MANY_CONNECTIONS)?;
    let credentials = Credentials {
        token,
        user_id: subscriber.user_id,
        expiry: Expiry::at_unix(subscriber.token_exp),
    };
    Ok((credentials, slot))
}

/// Sends the first frame, then runs reader, pump and writer until one ends.
async fn serve(
    params: &SessionParams,
    joined: &mut Joined,
    writer: &mut Writer,
    stream: &mut SplitStream<WebSocket>,
    out: Outbound,
) -> End {
    let opening = std::mem::replace(&mut joined.opening, Opening::History(Vec::new()));
    let first = match opening {
        Opening::History(messages) => {
            let history: Vec<HistoryItem> = messages.into_iter().map(HistoryItem::from).collect();
            out.push(&history).await
        }
        // The client's resume point: the core's snapshot stands where the
        // link's room does, and the missed events bridge the two.
        Opening::Resumed { last_seq } => {
            let last_seq = params.last_seq.unwrap_or(last_seq);
            out.push(&ServerFrame::Resumed { last_seq }).await
        }
    };
    if let Err(end) = first {
        return end;
    }
    if let Some(peer) = joined.peer.take()
        && let Err(end) = out.push(&super::presence_frame(peer)).await
    {
        return end;
    }
    let mut sender = Sender {
        core: &params.core,
        credentials: &mut joined.credentials,
        room_id: joined.room_id,
        ticket: &joined.ticket,
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
        end = pump_events(std::mem::take(&mut joined.missed), &mut joined.feed, &out) => end,
        () = params.shutdown.cancelled() => End::Close(CloseReason::RESTARTING),
    }
}
