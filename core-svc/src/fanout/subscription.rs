//! Opening and pumping a `Subscribe` stream.
//!
//! The work runs in a task of its own, not in the request future: once the
//! session row is written, the same task is the one that removes it, however
//! the caller goes away.
//!
//! Beside the room's events the stream carries the other member's presence
//! (right after the snapshot, then each newer version) and their `typing`s,
//! from the fan-out's signals, subscribed before the snapshot is taken.

use tokio::sync::{
    mpsc::{self, error::TrySendError},
    oneshot,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use uuid::Uuid;

use super::{Fanout, Heard, RoomFeed, SignalReceiver, hear};
use crate::{
    cluster::LiveSessions,
    domain::{Presence, RoomEvent, RoomId, Signal, Snapshot, UserId},
    error::Error,
    error::ErrorChain,
    ops::Metrics,
    store::{Opened, Start, Store},
};

/// Items a subscriber receives that the stream has not yet taken; beyond
/// this the subscriber's hub receiver lags and later reads the log instead.
const STREAM_BUFFER: usize = 32;

/// What the stream's queue carries. Boxed whole: the queue's first block of
/// slots is allocated with the stream, and a stream may idle for hours, so
/// a slot is kept to one pointer.
pub type StreamItem = Box<Result<Item, Error>>;

/// One item of a subscription: the snapshot first, the other member's
/// presence, then events, presence changes and `typing`s.
#[derive(Debug, Clone)]
pub enum Item {
    Snapshot(Snapshot),
    Event(RoomEvent),
    Presence(Presence),
    Typing { room: RoomId, user: UserId },
}

/// The other member of a subscription, as its stream last described them.
struct Peer {
    signals: Option<SignalReceiver>,
    user: UserId,
    room: RoomId,
    /// The presence version the stream sent last.
    version: i64,
}

/// Everything a subscription needs from the running service.
#[derive(Clone)]
pub struct Subscriptions {
    pub store: Store,
    pub fanout: Fanout,
    pub live: LiveSessions,
    pub instance: Uuid,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
}

impl Subscriptions {
    /// Opens a subscription of `user` to `room`. Errors (not a member, no
    /// such room, storage down) come back before any item.
    pub async fn open(
        &self,
        room: RoomId,
        user: UserId,
        start: Start,
    ) -> Result<mpsc::Receiver<StreamItem>, Error> {
        let (items, rx) = mpsc::channel(STREAM_BUFFER);
        let (ready, opened) = oneshot::channel();
        let this = self.clone();
        self.tasks.spawn(async move {
            let signals = match Box::pin(this.store.room_members(room)).await {
                Ok(members) => members.map(|members| this.fanout.signals.subscribe(room, members)),
                Err(err) => {
                    let _ = ready.send(Err(err));
                    return;
                }
            };
            let receiver = this.fanout.hub.subscribe(room);
            // Database calls are boxed so that the task, which lives as long
            // as the stream, is only as large as its idle state.
            let opened =
                match Box::pin(this.store.open_session(room, user, this.instance, start)).await {
                    Ok(opened) => opened,
                    Err(err) => {
                        let _ = ready.send(Err(err));
                        return;
                    }
                };
            this.fanout.committed(&opened.read_events);
            let session = opened.session;
            this.live.insert(session);
            let feed = feed(&this.store, receiver, room, &opened);
            let _open = this.fanout.metrics.subscription_opened();
            let mut peer = Peer {
                signals,
                user: opened.peer.user,
                room,
                version: opened.peer.version,
            };
            let _ = items.try_send(Box::new(Ok(Item::Snapshot(opened.snapshot))));
            let _ = items.try_send(Box::new(Ok(Item::Presence(opened.peer))));
            let _ = ready.send(Ok(()));
            let pumped = Pump {
                store: &this.store,
                items: &items,
                shutdown: &this.shutdown,
                metrics: &this.fanout.metrics,
            };
            pumped.run(feed, &mut peer).await;
            Box::pin(this.live.end(session, &this.store)).await;
        });
        match opened.await {
            Ok(Ok(())) => Ok(rx),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(Error::Internal("subscription task ended early".into())),
        }
    }
}

fn feed(store: &Store, receiver: super::HubReceiver, room: RoomId, opened: &Opened) -> RoomFeed {
    let mut feed = RoomFeed::new(
        store.clone(),
        receiver,
        room,
        opened.snapshot.seq,
        opened.head,
    );
    if !opened.snapshot.resumed {
        feed.push_known(opened.read_events.iter().cloned());
    }
    feed
}

/// What forwarding a subscription works with.
struct Pump<'a> {
    store: &'a Store,
    items: &'a mpsc::Sender<StreamItem>,
    shutdown: &'a CancellationToken,
    metrics: &'a Metrics,
}

impl Pump<'_> {
    /// Forwards the feed and the peer's signals to the stream until the
    /// caller leaves, the service shuts down, or the feed fails.
    async fn run(&self, mut feed: RoomFeed, peer: &mut Peer) {
        loop {
            let next = tokio::select! {
                _ = self.shutdown.cancelled() => {
                    let _ = self.items.try_send(Box::new(Err(Error::ShuttingDown)));
                    return;
                }
                _ = self.items.closed() => return,
                heard = hear(&mut peer.signals) => {
                    for item in Box::pin(self.signal(peer, heard)).await {
                        if !self.send(Ok(item)).await {
                            return;
                        }
                    }
                    continue;
                }
                next = feed.next() => next,
            };
            let item = match next {
                Ok(Some(event)) => {
                    self.metrics.delivered(&event);
                    Ok(Item::Event(event))
                }
                Ok(None) => return,
                Err(err) => Err(err),
            };
            let failed = item.is_err();
            if !self.send(item).await || failed {
                return;
            }
        }
    }

    /// The items a signal makes for the stream: only the peer's, and only
    /// presence newer than what the stream has.
    async fn signal(&self, peer: &mut Peer, heard: Heard) -> Vec<Item> {
        let presences = match heard {
            Heard::Signal(Signal::Typing(user)) if user == peer.user => {
                let room = peer.room;
                return vec![Item::Typing { room, user }];
            }
            Heard::Signal(Signal::Typing(_)) => return Vec::new(),
            Heard::Signal(Signal::Presence(presence)) => vec![presence],
            Heard::Resync => match self.store.presence(&[peer.user]).await {
                Ok(presences) => presences,
                Err(err) => {
                    tracing::warn!(error = %ErrorChain(&err), "could not read presence again");
                    Vec::new()
                }
            },
        };
        let mut items = Vec::new();
        for presence in presences {
            if presence.user == peer.user && presence.version > peer.version {
                peer.version = presence.version;
                items.push(Item::Presence(presence));
            }
        }
        items
    }

    /// Queues `item`; false when the stream or the service ended. A stream
    /// with room takes it at once; the wait for room is boxed, so that an
    /// idle stream's task does not carry its space.
    async fn send(&self, item: Result<Item, Error>) -> bool {
        match self.items.try_send(Box::new(item)) {
            Ok(()) => true,
            Err(TrySendError::Closed(_)) => false,
            Err(TrySendError::Full(item)) => Box::pin(send(self.items, item, self.shutdown)).await,
        }
    }
}

/// Waits for room for `item`; false when the stream or the service ended.
async fn send(
    items: &mpsc::Sender<StreamItem>,
    item: StreamItem,
    shutdown: &CancellationToken,
) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => false,
        sent = items.send(item) => sent.is_ok(),
    }
}
