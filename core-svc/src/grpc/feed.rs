//! `chat.v1.EventFeed`: every event of every room, for internal services
//! whose token grants the `chat:events` scope. Positions are opaque strings
//! on the wire: `v1.<tx>.<room>.<seq>`.

use chat_proto::v1::{self as pb, event_feed_server::EventFeed};
use futures::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{Authenticator, ServerStream, convert::timestamp, until_shutdown};
use crate::{
    domain::InvalidInput,
    error::Error,
    feed::{Feed, Start},
    store::{FeedItem, FeedKind, FeedPosition, Partition},
};

/// The scope a token needs to follow the feed.
pub const EVENTS_SCOPE: &str = "chat:events";

pub struct FeedApi {
    auth: Authenticator,
    feed: Feed,
}

impl FeedApi {
    pub fn new(auth: Authenticator, feed: Feed) -> Self {
        Self { auth, feed }
    }
}

type ItemStream = ServerStream<pb::FeedItem>;

#[tonic::async_trait]
impl EventFeed for FeedApi {
    type FollowStream = ItemStream;

    #[tracing::instrument(skip_all, fields(partition = request.get_ref().partition))]
    async fn follow(
        &self,
        request: Request<pb::FollowRequest>,
    ) -> Result<Response<Self::FollowStream>, Status> {
        self.auth.service(&request, EVENTS_SCOPE).await?;
        let request = request.into_inner();
        let partition = partition(&request).map_err(Error::from)?;
        let start = if request.from_end {
            Start::End
        } else {
            Start::After(parse_position(&request.after).map_err(Error::from)?)
        };
        let items = self.feed.follow(start, partition).await?;
        let stream = ReceiverStream::new(items)
            .map(|item| item.map(pb::FeedItem::from).map_err(Status::from));
        let shutdown = self.feed.shutdown.clone();
        Ok(Response::new(until_shutdown(stream, shutdown)))
    }
}

fn partition(request: &pb::FollowRequest) -> Result<Partition, InvalidInput> {
    match (request.partitions, request.partition) {
        (0 | 1, 0) => Ok(Partition::ALL),
        (0 | 1, _) => Err(InvalidInput("partition must be 0 without partitions")),
        (count, index) if index < count => Ok(Partition { count, index }),
        _ => Err(InvalidInput("partition must be below partitions")),
    }
}

/// `v1.<tx>.<room>.<seq>`; empty: the beginning.
pub fn encode_position(position: FeedPosition) -> String {
    let FeedPosition { tx, room, seq } = position;
    format!("v1.{tx}.{room}.{seq}")
}

/// The inverse of [`encode_position`].
pub fn parse_position(raw: &str) -> Result<FeedPosition, InvalidInput> {
    const INVALID: InvalidInput = InvalidInput("after is not a position of this feed");
    if raw.is_empty() {
        return Ok(FeedPosition::default());
    }
    let mut parts = raw.split('.');
    if parts.next() != Some("v1") {
        return Err(INVALID);
    }
    let mut number = || parts.next().and_then(|part| part.parse::<u64>().ok());
    let (Some(tx), Some(room), Some(seq)) = (number(), number(), number()) else {
        return Err(INVALID);
    };
    if parts.next().is_some() {
        return Err(INVALID);
    }
    let room = i64::try_from(room).map_err(|_| INVALID)?;
    let seq = i64::try_from(seq).map_err(|_| INVALID)?;
    Ok(FeedPosition { tx, room, seq })
}

impl From<FeedItem> for pb::FeedItem {
    fn from(item: FeedItem) -> Self {
        let kind = match item.kind {
            FeedKind::Event(event) => pb::feed_item::Item::Event(event.into()),
            FeedKind::RoomCreated { room, created_at } => {
                pb::feed_item::Item::RoomCreated(pb::RoomCreated {
                    room: Some(room.into()),
                    created_at: Some(timestamp(created_at)),
                })
            }
        };
        Self {
            position: encode_position(item.position),
            item: Some(kind),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip() {
        let position = FeedPosition {
            tx: u64::MAX,
            room: 7,
            seq: 42,
        };
        assert_eq!(parse_position(&encode_position(position)), Ok(position));
    }

    #[test]
    fn an_empty_position_is_the_beginning() {
        assert_eq!(parse_position(""), Ok(FeedPosition::default()));
    }

    #[test]
    fn foreign_positions_are_refused() {
        for raw in [
            "x",
            "v1.1.2",
            "v1.1.2.3.4",
            "v2.1.2.3",
            "v1.-1.2.3",
            "v1.a.2.3",
        ] {
            assert!(parse_position(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn a_partition_must_lie_below_the_count() {
        let request = |partitions, partition| pb::FollowRequest {
            partitions,
            partition,
            ..Default::default()
        };
        assert_eq!(partition(&request(0, 0)), Ok(Partition::ALL));
        assert_eq!(partition(&request(1, 0)), Ok(Partition::ALL));
        assert_eq!(
            partition(&request(3, 2)),
            Ok(Partition { count: 3, index: 2 })
        );
        assert!(partition(&request(3, 3)).is_err());
        assert!(partition(&request(0, 1)).is_err());
    }
}
