//! The fast lane: events committed by this process reach the local user
//! streams of their room's members at once, ahead of the event feed, which
//! releases them only once every older transaction has ended.
//!
//! [`Lane::committed`] never waits: when no user stream is open here it
//! does nothing, and otherwise it queues the commit for one task, which
//! learns the room's members (remembered per room, so that commits into
//! rooms of nobody streaming here read nothing after the first), then
//! reads where the events stand in the feed and the members' unread
//! counts, and hands them to the [`Registry`]. Each stream takes them only
//! when they follow what its client has ([`super::Cursor::fast`]); anything
//! dropped or refused on the way (a full queue, a failed read, a gap)
//! still comes through the feed, in order and once.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::registry::Registry;
use crate::{
    domain::{RoomEvent, RoomId, UserId},
    error::ErrorChain,
    store::{FeedPosition, LaneRead, Store},
};

/// Commits waiting for the lane's task; more are left to the feed.
const QUEUE: usize = 1024;
/// Reads the lane's task runs at once (handing on their results in order).
const READS: usize = 4;
/// Rooms whose members the lane remembers; it forgets them all beyond.
const KNOWN_ROOMS: usize = 1 << 16;

/// Events one transaction of this process committed, all of one room, with
/// their places in the feed.
#[derive(Debug)]
pub struct Fast {
    /// In `seq` order, without gaps.
    pub events: Vec<RoomEvent>,
    /// The events' labels, in the order of `events`.
    pub labels: Vec<u64>,
    /// Where the room's event before the first (or its creation) is.
    pub previous: FeedPosition,
    /// The room's members, lower id first.
    pub members: [UserId; 2],
    /// Each member's unread count, read after the commit.
    pub unread: [i64; 2],
}

impl Fast {
    /// The unread count of `user` in the room; 0 for a non-member.
    pub fn unread_of(&self, user: UserId) -> i64 {
        match self.members.iter().position(|member| *member == user) {
            Some(index) => self.unread[index],
            None => 0,
        }
    }

    /// Each event with its feed position and that of the room's event
    /// before it.
    pub fn steps(&self) -> impl Iterator<Item = (&RoomEvent, FeedPosition, FeedPosition)> {
        let mut previous = self.previous;
        self.events
            .iter()
            .zip(&self.labels)
            .map(move |(event, label)| {
                let at = FeedPosition {
                    tx: *label,
                    room: event.room_id.get(),
                    seq: event.seq,
                };
                (event, at, std::mem::replace(&mut previous, at))
            })
    }
}

/// Where the fan-out hands this process's commits; cheap to clone. The
/// default goes nowhere.
#[derive(Clone, Default)]
pub struct Lane {
    to: Option<(Registry, mpsc::Sender<Vec<RoomEvent>>)>,
}

impl Lane {
    /// Queues committed events (all of one room) for the local user
    /// streams, if there are any; never waits.
    pub fn committed(&self, events: &[RoomEvent]) {
        let Some((registry, commits)) = &self.to else {
            return;
        };
        if events.is_empty() || registry.is_empty() {
            return;
        }
        if commits.try_send(events.to_vec()).is_err() {
            tracing::debug!("the fast lane is full; the feed brings these events");
        }
    }
}

/// Starts the lane's task (until `shutdown`) and returns its entrance.
pub(super) fn start(
    registry: Registry,
    store: Store,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) -> Lane {
    let (commits, queued) = mpsc::channel(QUEUE);
    let resolver = Resolver {
        store,
        registry: registry.clone(),
        known: Mutex::default(),
    };
    tasks.spawn(run(resolver, queued, shutdown));
    Lane {
        to: Some((registry, commits)),
    }
}

/// Resolves queued commits into fast deliveries until `shutdown`.
async fn run(
    resolver: Resolver,
    queued: mpsc::Receiver<Vec<RoomEvent>>,
    shutdown: CancellationToken,
) {
    let resolved = ReceiverStream::new(queued)
        .map(|events| resolver.resolve(events))
        .buffered(READS);
    tokio::pin!(resolved);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            fast = resolved.next() => match fast {
                Some(Some(fast)) => resolver.registry.dispatch_fast(fast),
                Some(None) => {}
                None => return,
            },
        }
    }
}

/// What turns a commit into a fast delivery.
struct Resolver {
    store: Store,
    registry: Registry,
    /// Room → members (they never change).
    known: Mutex<HashMap<RoomId, [UserId; 2]>>,
}

impl Resolver {
    /// The fast delivery of `events`, if a member of their room streams here.
    async fn resolve(&self, events: Vec<RoomEvent>) -> Option<Fast> {
        let room = events.first()?.room_id;
        let (first, last) = (events.first()?.seq, events.last()?.seq);
        let gapless = events.iter().map(|event| event.seq).eq(first..=last);
        if !gapless || events.iter().any(|event| event.room_id != room) {
            return None;
        }
        if self
            .known(room)
            .is_some_and(|members| !self.streaming(members))
        {
            return None;
        }
        let read = match self.store.lane_read(room, first, last).await {
            Ok(read) => read?,
            Err(err) => {
                tracing::debug!(error = %ErrorChain(&err), "the fast lane could not read; the feed brings these events");
                return None;
            }
        };
        self.remember(room, read.members);
        if !self.streaming(read.members) {
            return None;
        }
        let LaneRead {
            members,
            unread,
            previous,
            labels,
        } = read;
        Some(Fast {
            events,
            labels,
            previous,
            members,
            unread,
        })
    }

    fn streaming(&self, members: [UserId; 2]) -> bool {
        members
            .iter()
            .any(|member| self.registry.has_stream(*member))
    }

    fn known(&self, room: RoomId) -> Option<[UserId; 2]> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known.get(&room).copied()
    }

    fn remember(&self, room: RoomId, members: [UserId; 2]) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= KNOWN_ROOMS {
            known.clear();
        }
        known.insert(room, members);
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::domain::{EventKind, MessageId};

    fn event(room: i64, seq: i64) -> RoomEvent {
        RoomEvent {
            room_id: RoomId::parse(room).unwrap(),
            seq,
            occurred_at: OffsetDateTime::UNIX_EPOCH,
            kind: EventKind::Deleted {
                message_id: MessageId::parse(1).unwrap(),
            },
        }
    }

    fn at(tx: u64, room: i64, seq: i64) -> FeedPosition {
        FeedPosition { tx, room, seq }
    }

    #[test]
    fn each_event_of_a_commit_follows_the_one_before_it() {
        let user = |id| UserId::parse(id).unwrap();
        let fast = Fast {
            events: vec![event(4, 7), event(4, 8)],
            labels: vec![50, 50],
            previous: at(40, 4, 6),
            members: [user(1), user(2)],
            unread: [3, 0],
        };
        let steps: Vec<_> = fast
            .steps()
            .map(|(e, at, prev)| (e.seq, at, prev))
            .collect();
        assert_eq!(
            steps,
            [
                (7, at(50, 4, 7), at(40, 4, 6)),
                (8, at(50, 4, 8), at(50, 4, 7))
            ]
        );
        assert_eq!(fast.unread_of(user(1)), 3);
        assert_eq!(fast.unread_of(user(9)), 0);
    }

    #[test]
    fn the_default_lane_goes_nowhere() {
        Lane::default().committed(&[event(1, 1)]);
    }
}
