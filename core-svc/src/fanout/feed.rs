//! One subscriber's ordered view of a room: live events from the hub, gaps
//! and lags filled from the event log, one page at a time.

use std::collections::VecDeque;

use tokio::sync::broadcast::error::RecvError;

use super::{HubReceiver, hub::Published};
use crate::{
    domain::{RoomEvent, RoomId},
    error::Error,
    store::Store,
};

/// Delivers a room's events after a starting sequence number, in order,
/// with no gap and no duplicate. Holds at most one log page plus one live
/// event in memory, however far behind its reader is.
pub struct RoomFeed {
    room: RoomId,
    store: Store,
    receiver: HubReceiver,
    /// The sequence number of the last event handed out.
    cursor: i64,
    /// Every event up to here is known to be committed to the log.
    head: i64,
    /// Events that come next, in order, possibly with a gap before the first.
    pending: VecDeque<RoomEvent>,
}

impl RoomFeed {
    /// A feed of the events after `cursor`, where `head` is the room's latest
    /// committed sequence number. `receiver` must have subscribed before
    /// `head` was read, so that every later event reaches it.
    pub fn new(store: Store, receiver: HubReceiver, room: RoomId, cursor: i64, head: i64) -> Self {
        Self {
            room,
            store,
            receiver,
            cursor,
            head,
            pending: VecDeque::new(),
        }
    }

    /// Queues events the caller already holds, saving a read of the log.
    pub fn push_known(&mut self, events: impl IntoIterator<Item = RoomEvent>) {
        self.pending.extend(events);
    }

    /// The next event of the room, waiting for it. `None` when the hub closed.
    pub async fn next(&mut self) -> Result<Option<RoomEvent>, Error> {
        loop {
            while self.pending.front().is_some_and(|e| e.seq <= self.cursor) {
                self.pending.pop_front();
            }
            match self.pending.front().map(|event| event.seq) {
                Some(seq) if seq == self.cursor + 1 => {
                    self.cursor = seq;
                    return Ok(self.pending.pop_front());
                }
                // Published out of order or elsewhere: the log has the gap.
                // Reads of the log are boxed: they are rare, and the feed of
                // an idle stream should not carry their kilobytes.
                Some(seq) => Box::pin(self.read_log(seq - 1)).await?,
                None if self.cursor < self.head => Box::pin(self.read_log(self.head)).await?,
                None => {
                    if !self.receive().await? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Puts the next page of logged events after the cursor, up to `up_to`,
    /// in front of the queue.
    async fn read_log(&mut self, up_to: i64) -> Result<(), Error> {
        let page = self
            .store
            .events_between(self.room, self.cursor, up_to)
            .await?;
        if page.first().map(|event| event.seq) != Some(self.cursor + 1) {
            return Err(Error::Internal(
                format!(
                    "event log of room {} has no event {}",
                    self.room,
                    self.cursor + 1
                )
                .into(),
            ));
        }
        let rest = std::mem::take(&mut self.pending);
        self.pending = page.into();
        self.pending.extend(rest);
        Ok(())
    }

    /// Waits for a live event; false when the channel closed.
    async fn receive(&mut self) -> Result<bool, Error> {
        match self.receiver.rx.recv().await {
            Ok(Published::Event(event)) => {
                if event.seq > self.cursor {
                    self.pending.push_back(RoomEvent::clone(&event));
                }
                Ok(true)
            }
            Ok(Published::Committed(seq)) => {
                self.head = self.head.max(seq);
                Ok(true)
            }
            Err(RecvError::Lagged(skipped)) => {
                tracing::debug!(room = %self.room, skipped, "subscriber lagged; reading the log");
                self.head = Box::pin(self.store.last_seq(self.room)).await?;
                Ok(true)
            }
            Err(RecvError::Closed) => Ok(false),
        }
    }
}
