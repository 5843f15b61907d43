//! The event feed for internal services: every event of every room, read
//! from PostgreSQL in transaction order below the horizon of ended
//! transactions (`store::feed`), so that no item is ever skipped.
//!
//! The consumer keeps its position; the server keeps nothing per consumer.
//! Each stream reads a page, hands it on, and waits for a wake-up: an
//! announcement of committed events on the instances' `NOTIFY` channel
//! ([`waker`]), or a short poll for writes nobody announced.

mod waker;

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use waker::{Wake, wake_on_notify};

use crate::{
    error::Error,
    store::{FeedItem, FeedPosition, Partition, Store},
};

/// The most items one read of the feed returns.
const PAGE: i64 = 500;
/// Items read but not yet taken by the stream.
const STREAM_BUFFER: usize = 256;
/// How often a waiting stream looks again without a wake-up: writes that
/// were not announced (room creation, a dead instance, plain SQL).
pub const POLL: Duration = Duration::from_millis(50);

/// Where a stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// After this position (the default position: from the beginning).
    After(FeedPosition),
    /// At the horizon: after everything that ended before the oldest
    /// transaction still running (a few items committed just before may
    /// follow).
    End,
}

/// Opens feed streams; cheap to clone.
#[derive(Clone)]
pub struct Feed {
    pub store: Store,
    pub wake: Wake,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
}

/// What a feed stream carries: items, and at most one error, last.
pub type Followed = mpsc::Receiver<Result<FeedItem, Error>>;

impl Feed {
    /// A stream of the items of `partition` from `start` on, until the
    /// caller goes away, the service stops or storage fails.
    pub async fn follow(&self, start: Start, partition: Partition) -> Result<Followed, Error> {
        let after = match start {
            Start::After(position) => position,
            Start::End => self.store.feed_end().await?,
        };
        let (items, rx) = mpsc::channel(STREAM_BUFFER);
        let this = self.clone();
        self.tasks.spawn(async move {
            let failure = this.pump(after, partition, &items).await;
            if let Some(err) = failure {
                let _ = items.try_send(Err(err));
            }
        });
        Ok(rx)
    }

    /// Reads and forwards pages; returns the error that ends the stream,
    /// if any.
    async fn pump(
        &self,
        mut after: FeedPosition,
        partition: Partition,
        items: &mpsc::Sender<Result<FeedItem, Error>>,
    ) -> Option<Error> {
        let mut wake = self.wake.subscribe();
        loop {
            // Seen before reading: a wake-up during the read is not lost.
            wake.borrow_and_update();
            let page = match self.store.feed_page(after, partition, PAGE).await {
                Ok(page) => page,
                Err(err) => return Some(err),
            };
            let full = page.len() as i64 == PAGE;
            for item in page {
                after = item.position;
                tokio::select! {
                    _ = self.shutdown.cancelled() => return Some(Error::ShuttingDown),
                    sent = items.send(Ok(item)) => if sent.is_err() { return None },
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return Some(Error::ShuttingDown),
                _ = items.closed() => return None,
                _ = changed(&mut wake) => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

/// Resolves on the next wake-up; never, once the waker is gone.
async fn changed(wake: &mut watch::Receiver<u64>) {
    if wake.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}
