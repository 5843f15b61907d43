//! An open user stream (`InboxService.Stream`), read item by item with a
//! deadline, and what a client keeps of it per room.

use std::{collections::BTreeMap, time::Duration};

use chat_proto::v1::{self as pb, inbox_item::Item};
use tonic::{Status, Streaming};

use super::{Client, within};

/// An inbox as a client puts it together.
#[derive(Debug, Clone)]
pub struct Inbox {
    pub conversations: Vec<pb::Conversation>,
    pub next: String,
    pub cursor: String,
    pub user_id: i64,
    pub token_exp: u64,
}

/// An open user stream.
#[derive(Debug)]
pub struct UserStream {
    pub stream: Streaming<pb::InboxItem>,
}

impl Client {
    /// Opens a user stream, resuming at `cursor` unless it is empty.
    pub async fn user_stream(&self, cursor: &str) -> Result<UserStream, Status> {
        let request = self.req(pb::InboxStreamRequest {
            cursor: cursor.into(),
        });
        let stream = self.inbox.clone().stream(request).await?.into_inner();
        Ok(UserStream { stream })
    }
}

impl UserStream {
    /// The next item of any kind.
    pub async fn any_item(&mut self) -> Item {
        within(self.stream.message())
            .await
            .expect("stream item")
            .expect("stream still open")
            .item
            .expect("item set")
    }

    /// The next item that is not a presence or a typing.
    pub async fn item(&mut self) -> Item {
        loop {
            match self.any_item().await {
                Item::Presence(_) | Item::Typing(_) => {}
                item => return item,
            }
        }
    }

    /// The inbox, put together from its conversations (sent one by one
    /// before it) and itself; fails on anything else first.
    pub async fn inbox(&mut self) -> Inbox {
        let mut conversations = Vec::new();
        loop {
            match self.any_item().await {
                Item::InboxConversation(conversation) => conversations.push(conversation),
                Item::Inbox(inbox) => {
                    return Inbox {
                        conversations,
                        next: inbox.next,
                        cursor: inbox.cursor,
                        user_id: inbox.user_id,
                        token_exp: inbox.token_exp,
                    };
                }
                other => panic!("expected the inbox first, got {other:?}"),
            }
        }
    }

    pub async fn resumed(&mut self) -> pb::InboxResumed {
        match self.any_item().await {
            Item::Resumed(resumed) => resumed,
            other => panic!("expected resumed first, got {other:?}"),
        }
    }

    pub async fn event(&mut self) -> pb::InboxEvent {
        match self.item().await {
            Item::Event(event) => event,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    pub async fn room_created(&mut self) -> pb::InboxRoomCreated {
        match self.item().await {
            Item::RoomCreated(created) => created,
            other => panic!("expected room_created, got {other:?}"),
        }
    }

    /// The next presence, past any typing; fails on anything else.
    pub async fn presence(&mut self) -> pb::Presence {
        loop {
            match self.any_item().await {
                Item::Presence(presence) => return presence,
                Item::Typing(_) => {}
                other => panic!("expected a presence, got {other:?}"),
            }
        }
    }

    /// The next typing, past any presence; fails on anything else.
    pub async fn typing(&mut self) -> pb::Typing {
        loop {
            match self.any_item().await {
                Item::Typing(typing) => return typing,
                Item::Presence(_) => {}
                other => panic!("expected a typing, got {other:?}"),
            }
        }
    }

    /// Everything that arrives until nothing has for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Item> {
        let mut items = Vec::new();
        while let Ok(next) = tokio::time::timeout(quiet, self.stream.message()).await {
            match next.expect("stream still open") {
                Some(pb::InboxItem { item: Some(item) }) => items.push(item),
                other => panic!("expected an item, got {other:?}"),
            }
        }
        items
    }

    /// The error that ended the stream, reading past whatever came before.
    pub async fn ended(&mut self) -> Status {
        within(async {
            loop {
                match self.stream.message().await {
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("the stream ended without an error"),
                    Err(status) => return status,
                }
            }
        })
        .await
    }
}

/// What a client keeps per room: the last `seq`, unread count and cursor.
#[derive(Debug, Default, Clone)]
pub struct RoomLog {
    /// Room → (last seq, last unread count).
    pub rooms: BTreeMap<i64, (i64, i64)>,
    pub cursor: String,
    pub events: usize,
    /// The presence items met while following.
    pub presence: Vec<pb::Presence>,
}

impl RoomLog {
    /// Starts from the inbox: each listed room at its `last_seq`.
    pub fn from_inbox(inbox: &Inbox) -> Self {
        let rooms = inbox
            .conversations
            .iter()
            .map(|c| (c.room_id, (c.last_seq, c.unread_count)))
            .collect();
        Self {
            rooms,
            cursor: inbox.cursor.clone(),
            ..Self::default()
        }
    }

    /// Takes an event, which must follow its room's last one exactly.
    pub fn take(&mut self, event: &pb::InboxEvent) {
        let room_event = event.event.as_ref().expect("event set");
        let (last, unread) = self.rooms.entry(room_event.room_id).or_default();
        assert_eq!(
            room_event.seq,
            *last + 1,
            "room {} goes on from {last} with no gap and no repeat",
            room_event.room_id
        );
        *last = room_event.seq;
        *unread = event.unread_count;
        assert!(!event.cursor.is_empty(), "every event carries a cursor");
        self.cursor = event.cursor.clone();
        self.events += 1;
    }

    /// Takes events from `stream` until every room of `heads` reached its head.
    pub async fn follow(&mut self, stream: &mut UserStream, heads: &BTreeMap<i64, i64>) {
        while heads
            .iter()
            .any(|(room, head)| self.rooms.get(room).map_or(0, |(seq, _)| *seq) < *head)
        {
            match stream.any_item().await {
                Item::Event(event) => self.take(&event),
                Item::Presence(presence) => self.presence.push(presence),
                Item::Typing(_) => {}
                Item::RoomCreated(created) => {
                    let room = created.conversation.expect("set").room_id;
                    assert!(self.rooms.insert(room, (0, 0)).is_none(), "a new room");
                    self.cursor = created.cursor;
                }
                other => panic!("expected events, got {other:?}"),
            }
        }
    }
}
