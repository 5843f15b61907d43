//! One user stream: registered first, then its start (a fresh inbox, or a
//! resume from a cursor), then a catch-up from the cursor to the reader's
//! position by the user's own reads of the feed, then the reader's items
//! after it. The cursor decides what the client has; each room's events go
//! out in `seq` order exactly once.

use tokio::sync::{
    mpsc::{self, error::TrySendError},
    oneshot,
};

use super::{
    Inbox,
    cursor::{Cursor, Verdict},
    lane::Fast,
    registry::{Delivery, Ended, Registration},
};
use crate::{
    domain::{Presence, RoomEvent, RoomId, UserId},
    error::{Error, ErrorChain},
    store::{Conversation, ConversationPage, FeedFilter, FeedItem, FeedKind, FeedPosition},
};

/// Rooms in the inbox, and whose peers' presence a resume sends.
pub const INBOX_ROOMS: i64 = 50;
/// Items waiting for the gRPC stream; beyond it the stream's registry
/// queue fills, and a full one ends the stream.
const OUT_BUFFER: usize = 32;
/// Items one catch-up read returns at most, and the transaction ids it spans.
const CATCH_UP_PAGE: i64 = 500;
const CATCH_UP_SPAN: u64 = 1 << 16;

/// What a user stream carries, first an `Inbox` or a `Resumed`.
#[derive(Debug, Clone)]
pub enum Out {
    Inbox {
        page: ConversationPage,
        cursor: String,
    },
    Resumed {
        cursor: String,
    },
    Event {
        event: RoomEvent,
        cursor: String,
        unread: i64,
    },
    RoomCreated {
        conversation: Conversation,
        cursor: String,
    },
    Presence(Presence),
    Typing {
        room: RoomId,
        user: UserId,
    },
}

/// One slot of a stream's queue: a pointer, as streams may idle for hours.
pub type OutItem = Box<Result<Out, Error>>;

impl Inbox {
    /// Opens a user stream of `user`, resuming at `cursor` when it can be
    /// replayed. Errors before the first item come back here.
    pub async fn open(
        &self,
        user: UserId,
        cursor: String,
    ) -> Result<mpsc::Receiver<OutItem>, Error> {
        let (out, rx) = mpsc::channel(OUT_BUFFER);
        let (ready, opened) = oneshot::channel();
        self.feed
            .tasks
            .spawn(self.clone().serve(user, cursor, out, ready));
        match opened.await {
            Ok(Ok(())) => Ok(rx),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(Error::Internal("user stream task ended early".into())),
        }
    }

    /// The stream's task: it registers, records the session, starts, tells
    /// `ready`, forwards until the stream ends, and ends the session.
    async fn serve(
        self,
        user: UserId,
        cursor: String,
        out: mpsc::Sender<OutItem>,
        ready: oneshot::Sender<Result<(), Error>>,
    ) {
        let registration = match Box::pin(self.register(user)).await {
            Ok(registration) => registration,
            Err(err) => {
                let _ = ready.send(Err(err));
                return;
            }
        };
        let session = match Box::pin(self.store.open_user_session(user, self.instance)).await {
            Ok(session) => session,
            Err(err) => {
                let _ = ready.send(Err(err));
                return;
            }
        };
        self.live.insert(session);
        match Box::pin(self.begin(user, cursor, &out)).await {
            Ok((cursor, presence)) => {
                let _ = ready.send(Ok(()));
                let _open = self.metrics.user_stream_opened();
                let pump = Pump {
                    inbox: &self,
                    user,
                    cursor,
                    out: &out,
                };
                pump.run(registration, presence).await;
            }
            Err(err) => {
                let _ = ready.send(Err(err));
            }
        }
        Box::pin(self.live.end(session, &self.store)).await;
    }

    /// Queues the first item and returns the stream's cursor, and the
    /// presence a resume sends next.
    async fn begin(
        &self,
        user: UserId,
        raw: String,
        out: &mpsc::Sender<OutItem>,
    ) -> Result<(Cursor, Vec<Presence>), Error> {
        if let Some(cursor) = self.replayable(&raw).await? {
            let _ = out.try_send(Box::new(Ok(Out::Resumed {
                cursor: cursor.encode(),
            })));
            return Ok((cursor, self.peers_presence(user).await?));
        }
        let snapshot = self.store.inbox_snapshot(user, INBOX_ROOMS).await?;
        let skip = snapshot.skip.iter().map(|(room, seq)| (room.get(), *seq));
        let cursor = Cursor::new(FeedPosition::before_tx(snapshot.horizon), skip);
        let _ = out.try_send(Box::new(Ok(Out::Inbox {
            page: snapshot.page,
            cursor: cursor.encode(),
        })));
        Ok((cursor, Vec::new()))
    }

    /// The cursor of `raw` if the stream can resume there.
    async fn replayable(&self, raw: &str) -> Result<Option<Cursor>, Error> {
        if raw.is_empty() {
            return Ok(None);
        }
        let Ok(cursor) = Cursor::parse(raw) else {
            return Ok(None);
        };
        let replayable = self.store.can_replay(cursor.position.tx).await?;
        Ok(replayable.then_some(cursor))
    }

    /// The presence of the peers of the user's most recently active rooms
    /// (each peer once).
    async fn peers_presence(&self, user: UserId) -> Result<Vec<Presence>, Error> {
        let page = self.store.conversations(user, None, INBOX_ROOMS).await?;
        let mut peers: Vec<UserId> = page.conversations.iter().map(|c| c.peer.id).collect();
        peers.sort_unstable();
        peers.dedup();
        self.store.presence(&peers).await
    }
}

/// What forwarding one stream works with.
struct Pump<'a> {
    inbox: &'a Inbox,
    user: UserId,
    cursor: Cursor,
    out: &'a mpsc::Sender<OutItem>,
}

impl Pump<'_> {
    /// Catches up, then forwards the registry's deliveries until the
    /// caller leaves, the service stops, or the stream is ended.
    async fn run(mut self, mut registration: Registration, presence: Vec<Presence>) {
        for presence in presence {
            if !self.send(Ok(Out::Presence(presence))).await {
                return;
            }
        }
        if let Err(err) = Box::pin(self.catch_up(registration.from)).await {
            self.send(Err(err)).await;
            return;
        }
        loop {
            let delivered = tokio::select! {
                _ = self.inbox.feed.shutdown.cancelled() => {
                    let _ = self.out.try_send(Box::new(Err(Error::ShuttingDown)));
                    return;
                }
                _ = self.out.closed() => return,
                delivered = registration.queue.recv() => delivered,
            };
            let outcome = match delivered {
                Some(delivered) => Box::pin(self.deliver(&delivered)).await,
                None => Err(self.ended(registration.ended())),
            };
            match outcome {
                Ok(true) => {}
                Ok(false) => return,
                Err(err) => {
                    self.send(Err(err)).await;
                    return;
                }
            }
        }
    }

    /// Reads the user's items after the cursor up to `upto` (after which
    /// the registry delivers them).
    async fn catch_up(&mut self, upto: FeedPosition) -> Result<(), Error> {
        let filter = FeedFilter::Member(self.user);
        let mut span = CATCH_UP_SPAN;
        while self.cursor.position < upto {
            let page = self
                .inbox
                .store
                .feed_page(self.cursor.position, filter, CATCH_UP_PAGE, span)
                .await?;
            let full = page.items.len() as i64 == CATCH_UP_PAGE;
            let (scanned_to, reached_horizon) = (page.scanned_to, page.reached_horizon());
            for item in page.items {
                if item.position > upto {
                    self.cursor.move_to(upto);
                    return Ok(());
                }
                if !self.offer(item).await? {
                    return Ok(());
                }
            }
            if full {
                span = (span / 2).max(64);
                continue;
            }
            let covered = FeedPosition::before_tx(scanned_to);
            if covered > upto {
                self.cursor.move_to(upto);
                return Ok(());
            }
            self.cursor.move_to(covered);
            if reached_horizon {
                // `upto` was below a horizon already: this one is about to pass it.
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            } else {
                span = span.saturating_mul(2).min(1 << 40);
            }
        }
        Ok(())
    }

    /// Forwards one delivery; false when the stream is gone.
    async fn deliver(&mut self, delivered: &Delivery) -> Result<bool, Error> {
        match delivered {
            Delivery::Item(item) if self.cursor.passed(item.position) => Ok(true),
            Delivery::Item(item) => self.offer(item.clone()).await,
            Delivery::Fast(fast) => self.offer_fast(fast).await,
            Delivery::Presence(presence) => Ok(self.send(Ok(Out::Presence(*presence))).await),
            Delivery::Typing { room, user } => Ok(self
                .send(Ok(Out::Typing {
                    room: *room,
                    user: *user,
                }))
                .await),
            Delivery::Resync => {
                let presence = match self.inbox.peers_presence(self.user).await {
                    Ok(presence) => presence,
                    Err(err) => {
                        tracing::warn!(error = %ErrorChain(&err), "could not read presence again");
                        return Ok(true);
                    }
                };
                for presence in presence {
                    if !self.send(Ok(Out::Presence(presence))).await {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        }
    }

    /// Moves the cursor past `item` and sends it unless the client has it;
    /// false when the stream is gone.
    async fn offer(&mut self, item: FeedItem) -> Result<bool, Error> {
        if self.cursor.advance(item.position) == Verdict::Skip {
            return Ok(true);
        }
        let cursor = self.cursor.encode();
        let unread = item.unread_of(self.user);
        let out = match item.kind {
            FeedKind::Event(event) => Out::Event {
                event,
                cursor,
                unread,
            },
            FeedKind::RoomCreated { room, created_at } => {
                let peer = room.other_member(self.user);
                let Some(peer) = self.inbox.store.user(peer).await? else {
                    return Err(Error::Internal("a new room's member does not exist".into()));
                };
                Out::RoomCreated {
                    conversation: Conversation {
                        room_id: room.id,
                        peer,
                        last_message: None,
                        unread_count: 0,
                        last_seq: 0,
                        created_at,
                        activity_at: created_at,
                    },
                    cursor,
                }
            }
        };
        Ok(self.send(Ok(out)).await)
    }

    /// Sends the fast-lane events that follow what the client has (the
    /// cursor records them); false when the stream is gone.
    async fn offer_fast(&mut self, fast: &Fast) -> Result<bool, Error> {
        for (event, at, previous) in fast.steps() {
            if self.cursor.fast(at, previous) == Verdict::Skip {
                continue;
            }
            let out = Out::Event {
                event: event.clone(),
                cursor: self.cursor.encode(),
                unread: fast.unread_of(self.user),
            };
            self.inbox.metrics.user_stream_fast_event();
            if !self.send(Ok(out)).await {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The error that ends a stream whose registry queue closed.
    fn ended(&self, why: Option<Ended>) -> Error {
        match why {
            Some(Ended::Overflow) => {
                self.inbox.metrics.user_stream_fell_behind();
                Error::ResourceExhausted(
                    "the stream fell too far behind; resume with the last cursor",
                )
            }
            Some(Ended::ReaderFailed) | None => Error::Unavailable(
                "the core's event reader stopped; resume with the last cursor".into(),
            ),
        }
    }

    /// Queues an item, waiting for room; false when the stream or the
    /// service ended.
    async fn send(&self, item: Result<Out, Error>) -> bool {
        match self.out.try_send(Box::new(item)) {
            Ok(()) => true,
            Err(TrySendError::Closed(_)) => false,
            // Boxed: an idle stream's task does not carry the wait's space.
            Err(TrySendError::Full(item)) => Box::pin(self.wait_to_send(item)).await,
        }
    }

    async fn wait_to_send(&self, item: OutItem) -> bool {
        tokio::select! {
            _ = self.inbox.feed.shutdown.cancelled() => false,
            sent = self.out.send(item) => sent.is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{feed::Feed, inbox::Parts};

    #[tokio::test]
    async fn an_idle_streams_task_stays_small() {
        let store = crate::store::Store::connect("postgres://127.0.0.1:1/none", 1).unwrap();
        let (inbox, _lane) = Inbox::start(Parts {
            feed: Feed {
                store,
                wake: Default::default(),
                shutdown: Default::default(),
                tasks: Default::default(),
            },
            live: Default::default(),
            metrics: Default::default(),
            instance: uuid::Uuid::nil(),
            queue: 8,
        });
        let (out, _rx) = mpsc::channel(1);
        let (ready, _opened) = oneshot::channel();
        let task = inbox.serve(UserId::parse(1).unwrap(), String::new(), out, ready);
        // Waiting in `Pump::run` is its largest state (1,216 bytes today):
        // everything that only runs now and then is boxed.
        let size = std::mem::size_of_val(&task);
        assert!(size <= 1_280, "{size} bytes");
    }
}
