//! A session's bounded outbound queue and its writer, the one owner of the
//! socket's sink. Producers ([`Outbound::push`], [`Outbound::push_text`]
//! for a room's shared frames) wait for room, which leaves the hub's feed
//! of the socket to fill (`fanout/`); a queue that stays full for the stall
//! time means the client stopped reading, and the session closes with 1013. At the end the writer sends the
//! close frame the session chose, within a bounded grace.

use std::time::Duration;

use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, Utf8Bytes};

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::mpsc::{self, error::TrySendError};

use super::close::{CloseReason, End};
use super::fragments;
use super::limits::Liveness;
use super::protocol::{ErrorCode, ServerFrame};
use super::upgrade::WebSocket;
use crate::failure::SocketAnswer;

/// The most frames written with one flush.
const BATCH: usize = 64;

/// How long closing may take: flushing queued frames, the close frame, the client's reply.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// A queued frame. Boxed: the queue's first block of slots is allocated
/// with the socket, and a socket may idle for hours, so a slot is kept to
/// one pointer. An event's text is shared by every socket of its room.
pub(super) type Frame = Box<Utf8Bytes>;

/// The producing end of a session's outbound queue.
#[derive(Debug, Clone)]
pub(super) struct Outbound {
    tx: mpsc::Sender<Frame>,
    stall: Duration,
}

/// A queue of `capacity` frames whose producers wait at most `stall` for room.
pub(super) fn queue(capacity: usize, stall: Duration) -> (Outbound, mpsc::Receiver<Frame>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (Outbound { tx, stall }, rx)
}

impl Outbound {
    /// Queues one frame, waiting for room; a queue that stays full for the
    /// stall time means the client cannot keep up.
    ///
    /// The frame is serialized and offered to the queue at once, so the
    /// future keeps neither the frame nor, unless the queue is full, any
    /// waiting state: it is awaited in every session loop, whose idle size
    /// is per-socket memory. The wait for room is boxed.
    pub(super) fn push(
        &self,
        frame: &impl Serialize,
    ) -> impl Future<Output = Result<(), End>> + Send + '_ {
        let offered = self.offer(frame);
        async move {
            match offered {
                Ok(None) => Ok(()),
                Ok(Some(text)) => Box::pin(self.wait_for_room(text)).await,
                Err(end) => Err(end),
            }
        }
    }

    /// Queues a frame already encoded (a room event's, shared by its
    /// sockets), as [`Outbound::push`].
    pub(super) async fn push_text(&self, text: Utf8Bytes) -> Result<(), End> {
        match self.tx.try_send(Box::new(text)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Closed(_)) => Err(End::ClientGone),
            Err(TrySendError::Full(text)) => Box::pin(self.wait_for_room(text)).await,
        }
    }

    /// Queues `{"type": "error", "code": …, "detail": …}`, as [`Outbound::push`].
    pub(super) async fn push_error(&self, code: ErrorCode, detail: &str) -> Result<(), End> {
        let frame = ServerFrame::Error {
            code,
            detail: detail.to_owned(),
        };
        self.push(&frame).await
    }

    /// Answers a call for a client frame that failed: the error frame of
    /// `answer` (logged when the core failed rather than refused), or the
    /// close it asks for. `call` names the call in the log.
    pub(super) async fn answer(&self, answer: SocketAnswer, call: &str) -> Result<(), End> {
        match answer {
            SocketAnswer::Frame(code, detail) => {
                if matches!(code, ErrorCode::Unavailable | ErrorCode::Internal) {
                    tracing::warn!(?code, call, "a socket's call failed");
                }
                self.push_error(code, detail).await
            }
            SocketAnswer::Close(reason) => Err(End::Close(reason)),
        }
    }

    /// Serializes `frame` and queues it if there is room: `Ok(None)` when
    /// queued, `Ok(Some(frame))` when the queue is full.
    fn offer(&self, frame: &impl Serialize) -> Result<Option<Frame>, End> {
        let text = serde_json::to_string(frame).map_err(|error| {
            tracing::error!(%error, "a frame did not serialize");
            End::Close(CloseReason::CORE_UNAVAILABLE)
        })?;
        match self.tx.try_send(Box::new(Utf8Bytes::from(text))) {
            Ok(()) => Ok(None),
            Err(TrySendError::Closed(_)) => Err(End::ClientGone),
            Err(TrySendError::Full(text)) => Ok(Some(text)),
        }
    }

    /// Waits up to the stall time for room for `text` in a full queue.
    async fn wait_for_room(&self, text: Frame) -> Result<(), End> {
        match tokio::time::timeout(self.stall, self.tx.send(text)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_closed)) => Err(End::ClientGone),
            Err(_elapsed) => {
                tracing::warn!(
                    capacity = self.tx.max_capacity(),
                    stall_ms = self.stall.as_millis(),
                    "client too slow, closing"
                );
                Err(End::Close(CloseReason::TOO_SLOW))
            }
        }
    }
}

/// The one owner of the sink.
pub(super) struct Writer {
    sink: SplitSink<WebSocket, Message>,
    rx: mpsc::Receiver<Frame>,
}

impl Writer {
    /// A writer of the frames queued on `rx` to `sink`.
    pub(super) fn new(sink: SplitSink<WebSocket, Message>, rx: mpsc::Receiver<Frame>) -> Self {
        Self { sink, rx }
    }

    /// Sends queued frames in order, and a ping every `ping_interval`,
    /// until a write fails or the peer answers no ping twice in a row (it is
    /// presumed gone and dropped without a close frame).
    pub(super) async fn run(&mut self, ping_interval: Duration, liveness: &Liveness) -> End {
        let start = tokio::time::Instant::now() + ping_interval;
        let mut pings = tokio::time::interval_at(start, ping_interval);
        pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let message = tokio::select! {
                frame = self.rx.recv() => match frame {
                    Some(frame) => *frame,
                    None => return End::ClientGone,
                },
                _ = pings.tick() => {
                    if !liveness.ping() {
                        tracing::info!("no pong in time, dropping the connection");
                        return End::ClientGone;
                    }
                    if let Err(error) = self.sink.send(Message::Ping(Default::default())).await {
                        tracing::debug!(%error, "write failed");
                        return End::ClientGone;
                    }
                    continue;
                }
            };
            if let Err(error) = self.write(message).await {
                tracing::debug!(%error, "write failed");
                return End::ClientGone;
            }
        }
    }

    /// Writes `first` and the frames already queued behind it, up to
    /// [`BATCH`] in all, then flushes once: a message's events arrive
    /// together, and one write of all of them costs a third of the system
    /// calls. The bound lets pings have their turn under a steady stream.
    async fn write(&mut self, first: Utf8Bytes) -> Result<(), tungstenite::Error> {
        self.feed(first).await?;
        for _ in 1..BATCH {
            let Ok(frame) = self.rx.try_recv() else { break };
            self.feed(*frame).await?;
        }
        self.sink.flush().await
    }

    /// Queues one text frame for the next flush; a large one is written at
    /// once, in fragments, each flushed on its own (`fragments.rs`).
    async fn feed(&mut self, text: Utf8Bytes) -> Result<(), tungstenite::Error> {
        if !fragments::is_large(&text) {
            return self.sink.feed(Message::Text(text)).await;
        }
        self.sink.flush().await?;
        for fragment in fragments::fragments(&text) {
            self.sink.send(fragment).await?;
        }
        Ok(())
    }

    /// Ends the connection as `end` asks, within [`CLOSE_GRACE`]: frames already
    /// queued go out first, except to a client that could not keep up (it
    /// resumes from the last `seq` it did receive).
    pub(super) async fn finish(mut self, end: End) {
        let work = async {
            match end {
                End::ClientGone => Ok(()),
                End::ClientClosed => self.sink.flush().await,
                End::Close(reason) => {
                    if reason != CloseReason::TOO_SLOW {
                        while let Ok(frame) = self.rx.try_recv() {
                            self.feed(*frame).await?;
                        }
                    }
                    let frame = CloseFrame {
                        code: reason.code.into(),
                        reason: Utf8Bytes::from_static(reason.reason),
                    };
                    self.sink.send(Message::Close(Some(frame))).await
                }
            }
        };
        match tokio::time::timeout(CLOSE_GRACE, work).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::debug!(%error, "closing failed"),
            Err(_) => tracing::debug!("closing timed out"),
        }
    }
}

/// Waits (a bounded time) for the client to answer our close frame.
pub(super) async fn await_close_echo(stream: &mut SplitStream<WebSocket>) {
    let echo = async {
        while let Some(Ok(message)) = stream.next().await {
            if let Message::Close(_) = message {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, echo).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALL: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn a_queue_that_stays_full_for_the_stall_time_closes_with_1013() {
        let (out, _rx) = queue(1, STALL);
        assert_eq!(out.push(&"first").await, Ok(()));
        let started = tokio::time::Instant::now();
        assert_eq!(
            out.push(&"second").await,
            Err(End::Close(CloseReason::TOO_SLOW))
        );
        assert_eq!(started.elapsed(), STALL);
    }

    #[tokio::test(start_paused = true)]
    async fn a_queue_that_drains_in_time_takes_the_frame() {
        let (out, mut rx) = queue(1, STALL);
        assert_eq!(out.push(&"first").await, Ok(()));
        let reader = tokio::spawn(async move {
            tokio::time::sleep(STALL / 2).await;
            let first = rx.recv().await;
            (first, rx.recv().await)
        });
        assert_eq!(out.push(&"second").await, Ok(()));
        let (first, second) = reader.await.expect("the reader ran");
        assert_eq!(first.as_deref().map(Utf8Bytes::as_str), Some("\"first\""));
        assert_eq!(second.as_deref().map(Utf8Bytes::as_str), Some("\"second\""));
    }

    #[tokio::test]
    async fn a_gone_writer_ends_the_session_quietly() {
        let (out, rx) = queue(1, STALL);
        drop(rx);
        assert_eq!(out.push(&"frame").await, Err(End::ClientGone));
    }
}
