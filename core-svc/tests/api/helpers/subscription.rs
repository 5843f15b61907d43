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

/// Whether an item is a presence or typing signal rather than a room item.
fn is_signal(item: &pb::subscribe_response::Item) -> bool {
    use pb::subscribe_response::Item;
    matches!(item, Item::Presence(_) | Item::Typing(_))
}

impl Subscription {
    /// The next snapshot or event, past any presence and typing.
    pub async fn item(&mut self) -> pb::subscribe_response::Item {
        loop {
            let item = self.any_item().await;
            if !is_signal(&item) {
                return item;
            }
        }
    }

    /// The next item of any kind.
    pub async fn any_item(&mut self) -> pb::subscribe_response::Item {
        within(self.stream.message())
            .await
            .expect("stream item")
            .expect("stream still open")
            .item
            .expect("item set")
    }

    /// The next presence, past any typing; fails on a room item.
    pub async fn presence(&mut self) -> pb::Presence {
        loop {
            match self.any_item().await {
                pb::subscribe_response::Item::Presence(presence) => return presence,
                pb::subscribe_response::Item::Typing(_) => {}
                other => panic!("expected a presence, got {other:?}"),
            }
        }
    }

    /// The next typing, past any presence; fails on a room item.
    pub async fn typing(&mut self) -> pb::Typing {
        loop {
            match self.any_item().await {
                pb::subscribe_response::Item::Typing(typing) => return typing,
                pb::subscribe_response::Item::Presence(_) => {}
                other => panic!("expected a typing, got {other:?}"),
            }
        }
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

    /// Asserts no snapshot or event arrives for a short while.
    pub async fn assert_quiet(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        loop {
            let next = tokio::time::timeout_at(deadline, self.stream.message()).await;
            match next {
                Err(_elapsed) => return,
                Ok(Ok(Some(pb::SubscribeResponse { item: Some(item) }))) if is_signal(&item) => {}
                other => panic!("expected no more items, got {other:?}"),
            }
        }
    }

    /// Asserts nothing at all arrives for `quiet`.
    pub async fn assert_silent(&mut self, quiet: Duration) {
        let next = tokio::time::timeout(quiet, self.stream.message()).await;
        assert!(next.is_err(), "expected no item, got {next:?}");
    }
}
