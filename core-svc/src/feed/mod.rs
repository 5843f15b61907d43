//! The event feed for internal services: every event of every room, read
//! from PostgreSQL in label order below the horizon of ended transactions
//! (`store::feed`), so that no item is ever skipped.
//!
//! The consumer keeps its position; the server keeps nothing per consumer.
//! Each stream reads a page, hands it on, and waits for a wake-up: a commit
//! of this instance or an announcement of another's ([`waker`]); while
//! committed items wait behind an older transaction that nobody announces
//! (one that writes no events: a heartbeat, an `ANALYZE`, another
//! database's), a short look again, growing; and a poll for writes nobody
//! announced.

mod waker;

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use waker::{Wake, wake_on_notify};

use crate::{
    error::Error,
    store::{FeedFilter, FeedItem, FeedPage, FeedPosition, Partition, Store},
};

/// The most items one read of the feed returns.
const PAGE: i64 = 500;
/// Items read but not yet taken by the stream.
const STREAM_BUFFER: usize = 256;
/// How often a waiting stream looks again without a wake-up: writes that
/// were not announced (room creation, a dead instance, plain SQL).
pub const POLL: Duration = Duration::from_millis(50);
/// The first look again while items may be held back behind the horizon;
/// it doubles up to [`POLL`] while the horizon stays where it is.
const HELD_BACK_FIRST: Duration = Duration::from_millis(2);
/// Transaction ids one read spans at first, and its bounds: a span halves
/// after a full page and doubles after one that ended short of the
/// horizon, so a consumer far behind reads a bounded slice of the log per
/// page and crosses stretches without events in a few reads.
const SPAN_START: u64 = 1 << 16;
const SPAN_MIN: u64 = 1 << 6;
const SPAN_MAX: u64 = 1 << 40;

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

/// Where a stream's reads are: after the last item handed on, or further
/// when a read found nothing more below its end.
struct Cursor {
    after: FeedPosition,
    span: u64,
    /// The horizon of the last read, and the next look again while it
    /// holds items back.
    horizon: u64,
    held_back: Duration,
}

/// What a stream does after a read.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Read on at once.
    Read,
    /// Wait for a wake-up or this long.
    Wait(Duration),
}

impl Cursor {
    fn new(after: FeedPosition) -> Self {
        Self {
            after,
            span: SPAN_START,
            horizon: 0,
            held_back: HELD_BACK_FIRST,
        }
    }

    /// Moves past a page (whose items are then handed on).
    fn advance(&mut self, page: &FeedPage) -> Next {
        if page.horizon != self.horizon {
            self.horizon = page.horizon;
            self.held_back = HELD_BACK_FIRST;
        }
        if let Some(last) = page.items.last() {
            self.after = last.position;
        }
        if page.items.len() as i64 == PAGE {
            self.span = (self.span / 2).max(SPAN_MIN);
            return Next::Read;
        }
        self.after = self.after.max(FeedPosition::before_tx(page.scanned_to));
        if !page.reached_horizon() {
            self.span = (self.span * 2).min(SPAN_MAX);
            return Next::Read;
        }
        if !page.held_back {
            return Next::Wait(POLL);
        }
        let wait = self.held_back;
        self.held_back = (self.held_back * 2).min(POLL);
        Next::Wait(wait)
    }
}

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
        after: FeedPosition,
        partition: Partition,
        items: &mpsc::Sender<Result<FeedItem, Error>>,
    ) -> Option<Error> {
        let mut wake = self.wake.subscribe();
        let mut cursor = Cursor::new(after);
        loop {
            // Seen before reading: a wake-up during the read is not lost.
            wake.borrow_and_update();
            let page = match self
                .store
                .feed_page(
                    cursor.after,
                    FeedFilter::Partition(partition),
                    PAGE,
                    cursor.span,
                )
                .await
            {
                Ok(page) => page,
                Err(err) => return Some(err),
            };
            let next = cursor.advance(&page);
            for item in page.items {
                tokio::select! {
                    _ = self.shutdown.cancelled() => return Some(Error::ShuttingDown),
                    sent = items.send(Ok(item)) => if sent.is_err() { return None },
                }
            }
            let Next::Wait(wait) = next else {
                continue;
            };
            tokio::select! {
                _ = self.shutdown.cancelled() => return Some(Error::ShuttingDown),
                _ = items.closed() => return None,
                _ = changed(&mut wake) => {}
                _ = tokio::time::sleep(wait) => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FeedKind;

    fn page(items: usize, scanned_to: u64, horizon: u64, held_back: bool) -> FeedPage {
        let member = |id| crate::domain::UserId::parse(id).unwrap();
        let item = |seq| FeedItem {
            members: [member(1), member(2)],
            unread: [0, 0],
            position: FeedPosition {
                tx: 10,
                room: 1,
                seq,
            },
            kind: FeedKind::RoomCreated {
                room: crate::domain::Room {
                    id: crate::domain::RoomId::parse(1).unwrap(),
                    members: [
                        crate::domain::UserId::parse(1).unwrap(),
                        crate::domain::UserId::parse(2).unwrap(),
                    ],
                    last_seq: 0,
                },
                created_at: time::OffsetDateTime::UNIX_EPOCH,
            },
        };
        FeedPage {
            items: (1..=items as i64).map(item).collect(),
            scanned_to,
            horizon,
            held_back,
        }
    }

    #[test]
    fn a_full_page_reads_on_at_once_over_a_narrower_span() {
        let mut cursor = Cursor::new(FeedPosition::default());
        assert_eq!(
            cursor.advance(&page(PAGE as usize, 20, 90, false)),
            Next::Read
        );
        assert_eq!(cursor.span, SPAN_START / 2);
        assert_eq!(cursor.after.seq, PAGE, "after the last item, not the span");
    }

    #[test]
    fn a_short_page_below_the_horizon_moves_past_its_span_and_widens_it() {
        let mut cursor = Cursor::new(FeedPosition::default());
        assert_eq!(cursor.advance(&page(3, 40, 90, false)), Next::Read);
        assert_eq!(cursor.after, FeedPosition::before_tx(40));
        assert_eq!(cursor.span, SPAN_START * 2);
    }

    #[test]
    fn held_back_items_are_looked_for_soon_then_less_often_while_the_horizon_stays() {
        let mut cursor = Cursor::new(FeedPosition::default());
        let waits: Vec<Next> = (0..7)
            .map(|_| cursor.advance(&page(0, 90, 90, true)))
            .collect();
        let ms = |n| Next::Wait(Duration::from_millis(n));
        assert_eq!(waits, [ms(2), ms(4), ms(8), ms(16), ms(32), ms(50), ms(50)]);
        assert_eq!(cursor.advance(&page(0, 90, 90, false)), Next::Wait(POLL));
        assert_eq!(
            cursor.advance(&page(0, 95, 95, true)),
            ms(2),
            "a new horizon"
        );
    }
}
