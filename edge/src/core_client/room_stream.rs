//! A room's `Subscribe` stream as the edge reads it: first its [`Snapshot`],
//! then its [`RoomEvent`]s in the core's order, until a [`StreamEnd`].
//! Holding it open is the subscriber's presence; dropping it ends both.

use chat_proto::v1 as pb;
use pb::subscribe_response::Item;
use tonic::Streaming;

use super::convert;
use super::model::{RoomEvent, Snapshot};
use crate::error::Error;

/// Why a room stream yields nothing more.
#[derive(Debug)]
pub enum StreamEnd {
    /// The core ended the stream.
    Ended,
    /// The core sent an item out of place: no snapshot first, a second one, or an empty item.
    Unexpected,
    /// The stream broke: the core's status, or the connection under it.
    Failed(Error),
}

/// An open room stream.
#[derive(Debug)]
pub struct RoomStream {
    inner: Streaming<pb::SubscribeResponse>,
}

impl RoomStream {
    pub(super) fn new(inner: Streaming<pb::SubscribeResponse>) -> Self {
        Self { inner }
    }

    /// The stream's first item, which must be its snapshot.
    pub async fn snapshot(&mut self) -> Result<Snapshot, StreamEnd> {
        match self.item().await? {
            Item::Snapshot(snapshot) => Ok(Snapshot::from(snapshot)),
            Item::Event(_) => Err(StreamEnd::Unexpected),
        }
    }

    /// The next room event. Events of a kind this edge does not know are
    /// skipped (and logged).
    pub async fn next_event(&mut self) -> Result<RoomEvent, StreamEnd> {
        loop {
            let Item::Event(event) = self.item().await? else {
                return Err(StreamEnd::Unexpected);
            };
            let seq = event.seq;
            match convert::event(event) {
                Some(event) => return Ok(event),
                None => tracing::warn!(seq, "skipped a room event of unknown kind"),
            }
        }
    }

    /// The next item of the stream, whatever it is.
    async fn item(&mut self) -> Result<Item, StreamEnd> {
        match self.inner.message().await {
            Ok(Some(response)) => response.item.ok_or(StreamEnd::Unexpected),
            Ok(None) => Err(StreamEnd::Ended),
            Err(status) => Err(StreamEnd::Failed(super::failure(status))),
        }
    }
}
