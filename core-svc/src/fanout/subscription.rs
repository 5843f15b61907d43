//! Opening and pumping a `Subscribe` stream.
//!
//! The work runs in a task of its own, not in the request future: once the
//! session row is written, the same task is the one that removes it, however
//! the caller goes away.

use tokio::sync::{
    mpsc::{self, error::TrySendError},
    oneshot,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use uuid::Uuid;

use super::{Fanout, RoomFeed};
use crate::{
    cluster::LiveSessions,
    domain::{RoomEvent, RoomId, Snapshot, UserId},
    error::Error,
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

/// One item of a subscription: the snapshot first, then events.
#[derive(Debug, Clone)]
pub enum Item {
    Snapshot(Snapshot),
    Event(RoomEvent),
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
            let _ = items.try_send(Box::new(Ok(Item::Snapshot(opened.snapshot))));
            let _ = ready.send(Ok(()));
            pump(feed, &items, &this.shutdown, &this.fanout.metrics).await;
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

/// Forwards the feed to the stream until the caller leaves, the service
/// shuts down, or the feed fails.
async fn pump(
    mut feed: RoomFeed,
    items: &mpsc::Sender<StreamItem>,
    shutdown: &CancellationToken,
    metrics: &Metrics,
) {
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = items.try_send(Box::new(Err(Error::ShuttingDown)));
                return;
            }
            _ = items.closed() => return,
            next = feed.next() => next,
        };
        let item = match next {
            Ok(Some(event)) => {
                metrics.delivered(&event);
                Ok(Item::Event(event))
            }
            Ok(None) => return,
            Err(err) => Err(err),
        };
        let failed = item.is_err();
        // A stream with room takes the item at once; the wait for room is
        // boxed, so that an idle stream's task does not carry its space.
        let sent = match items.try_send(Box::new(item)) {
            Ok(()) => true,
            Err(TrySendError::Closed(_)) => false,
            Err(TrySendError::Full(item)) => Box::pin(send(items, item, shutdown)).await,
        };
        if !sent || failed {
            return;
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
