//! An open `Subscribe` stream, read item by item with a deadline.

use std::time::Duration;

use chat_proto::v1 as pb;
use tonic::Streaming;

use super::within;

/// An open `Subscribe` stream.
#[derive(Debug)]
pub struct Subscription {
    pub stream: Streaming<pb::SubscribeResponse>,
}

impl Subscription {
    pub async fn item(&mut self) -> pb::subscribe_response::Item {
        within(self.stream.message())
            .await
            .expect("stream item")
            .expect("stream still open")
            .item
            .expect("item set")
    }

    pub async fn snapshot(&mut self) -> pb::Snapshot {
        match self.item().await {
            pb::subscribe_response::Item::Snapshot(snapshot) => snapshot,
            other => panic!("expected a snapshot, got {other:?}"),
        }
    }

    pub async fn event(&mut self) -> pb::RoomEvent {
        match self.item().await {
            pb::subscribe_response::Item::Event(event) => event,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    pub async fn events(&mut self, count: usize) -> Vec<pb::RoomEvent> {
        let mut events = Vec::with_capacity(count);
        for _ in 0..count {
            events.push(self.event().await);
        }
        events
    }

    /// Asserts nothing more arrives for a short while.
    pub async fn assert_quiet(&mut self) {
        let next = tokio::time::timeout(Duration::from_millis(300), self.stream.message()).await;
        assert!(next.is_err(), "expected no more items, got {next:?}");
    }
}
