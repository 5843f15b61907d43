//! The core's `InboxService.Stream` and `RoomService.Typing`: what a user
//! socket needs, as the edge's own types. Each user socket holds its own
//! server stream on the edge's channel (not the room sockets' link): it
//! starts with an `inbox` or `resumed` item, which [`CoreClient::open_inbox`]
//! awaits within the deadline, and then carries every room of the user.

use chat_proto::v1 as pb;
use pb::inbox_item::Item;
use pb::inbox_service_client::InboxServiceClient;
use pb::room_service_client::RoomServiceClient;
use tonic::{Status, Streaming};

use super::{BearerToken, Conversation, ConversationPage, CoreClient, Presence, RoomEvent};
use super::{authorized, convert, failure};
use crate::error::Error;

/// How a user's stream starts.
pub enum InboxStart {
    /// A fresh view: the first page of the room list.
    Inbox {
        /// The first page of `ListConversations` as of the snapshot.
        page: ConversationPage,
        /// The stream's position at the snapshot.
        cursor: String,
        /// Who subscribed, as the core verified the token.
        subscriber: Subscriber,
    },
    /// Exactly the items after the client's cursor follow.
    Resumed {
        /// Where the resumed stream starts.
        cursor: String,
        /// Who subscribed, as the core verified the token.
        subscriber: Subscriber,
    },
}

impl InboxStart {
    /// Who subscribed.
    pub fn subscriber(&self) -> Subscriber {
        match self {
            InboxStart::Inbox { subscriber, .. } | InboxStart::Resumed { subscriber, .. } => {
                *subscriber
            }
        }
    }
}

/// The user a stream's token resolved to, and when that token expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscriber {
    /// The user id (positive when set).
    pub user_id: i64,
    /// The token's `exp`, Unix seconds (0: unset).
    pub token_exp: u64,
}

/// One item of a user's stream after its start.
pub enum InboxItem {
    /// A later start (the core rebuilt the client's view).
    Restart(InboxStart),
    /// An event of one of the user's rooms.
    Event {
        /// The room.
        room_id: i64,
        /// The event.
        event: RoomEvent,
        /// The stream position just after it.
        cursor: String,
        /// The user's unread count in the room, at least as new as the event.
        unread_count: i64,
    },
    /// A room was created with the user.
    RoomCreated {
        /// The room as the room list shows it.
        conversation: Conversation,
        /// The stream position just after it.
        cursor: String,
    },
    /// A peer went online or offline.
    Presence(Presence),
    /// A peer is typing in one of the user's rooms.
    Typing {
        /// The room.
        room_id: i64,
        /// The peer.
        user_id: i64,
    },
}

/// A user's open stream.
pub struct InboxStream {
    inner: Streaming<pb::InboxItem>,
    /// The conversations of the coming inbox, which the core sends one by
    /// one before it; empty between inboxes.
    page: Vec<Conversation>,
}

impl InboxStream {
    /// The next item; `Ok(None)` when the core ended the stream. Items of
    /// kinds this edge does not know are skipped.
    pub async fn next(&mut self) -> Result<Option<InboxItem>, Error> {
        loop {
            match self.inner.message().await {
                Ok(Some(pb::InboxItem {
                    item: Some(Item::InboxConversation(conversation)),
                })) => self.page.push(conversation.into()),
                Ok(Some(item)) => {
                    let page = std::mem::take(&mut self.page);
                    if let Some(item) = item.item.and_then(|item| inbox_item(item, page)) {
                        return Ok(Some(item));
                    }
                }
                Ok(None) => return Ok(None),
                Err(status) => return Err(failure(status)),
            }
        }
    }
}

impl CoreClient {
    /// Opens the caller's stream (after `cursor` when given) and awaits its
    /// start within the deadline. A core that cannot be reached is passed
    /// over for the next one; a core that refuses the cursor as malformed
    /// is asked again without it (a fresh `inbox`).
    pub async fn open_inbox(
        &self,
        token: &BearerToken,
        cursor: Option<&str>,
    ) -> Result<(InboxStream, InboxStart), Error> {
        let mut cursor = cursor;
        let mut attempts = self.channels.len().max(1);
        loop {
            match self.open_inbox_once(token, cursor).await {
                Err(Error::CoreTransport(_)) if attempts > 1 => attempts -= 1,
                Err(error) if cursor.is_some() && error.code() == tonic::Code::InvalidArgument => {
                    cursor = None;
                }
                opened => return opened,
            }
        }
    }

    async fn open_inbox_once(
        &self,
        token: &BearerToken,
        cursor: Option<&str>,
    ) -> Result<(InboxStream, InboxStart), Error> {
        let (core, channel) = self.pick();
        let mut client = InboxServiceClient::new(channel);
        let message = pb::InboxStreamRequest {
            cursor: cursor.unwrap_or_default().to_owned(),
        };
        // No `grpc-timeout`: the stream lives as long as the socket.
        let call = client.stream(authorized(token, message));
        let mut stream = InboxStream {
            inner: self.unary(core, call).await?,
            page: Vec::new(),
        };
        let first = tokio::time::timeout(self.deadline, stream.next()).await;
        match first.map_err(|_elapsed| Error::CoreDeadline(self.deadline))?? {
            Some(InboxItem::Restart(start)) => Ok((stream, start)),
            Some(_) | None => Err(Error::Core(Status::internal(
                "the user stream did not start with an inbox",
            ))),
        }
    }

    /// `RoomService.Typing`: the caller is typing in the room (members only);
    /// `false` when the core dropped it under its 2-second throttle.
    pub async fn typing(&self, token: &BearerToken, room_id: i64) -> Result<bool, Error> {
        let (core, channel) = self.pick();
        let mut client = RoomServiceClient::new(channel);
        let message = pb::TypingRequest { room_id };
        self.unary(core, client.typing(self.deadlined(token, message)))
            .await
            .map(|answer| answer.forwarded)
    }
}

/// The edge's item of a stream item, an inbox with the conversations that
/// came before it; `None` for one it does not know.
fn inbox_item(item: Item, page: Vec<Conversation>) -> Option<InboxItem> {
    Some(match item {
        Item::Inbox(inbox) => InboxItem::Restart(InboxStart::Inbox {
            page: ConversationPage {
                conversations: page,
                next: Some(inbox.next).filter(|next| !next.is_empty()),
            },
            cursor: inbox.cursor,
            subscriber: Subscriber {
                user_id: inbox.user_id,
                token_exp: inbox.token_exp,
            },
        }),
        Item::Resumed(resumed) => InboxItem::Restart(InboxStart::Resumed {
            cursor: resumed.cursor,
            subscriber: Subscriber {
                user_id: resumed.user_id,
                token_exp: resumed.token_exp,
            },
        }),
        Item::Event(event) => {
            let room_event = event.event?;
            InboxItem::Event {
                room_id: room_event.room_id,
                event: convert::event(room_event)?,
                cursor: event.cursor,
                unread_count: event.unread_count,
            }
        }
        Item::RoomCreated(created) => InboxItem::RoomCreated {
            conversation: created.conversation?.into(),
            cursor: created.cursor,
        },
        Item::Presence(presence) => InboxItem::Presence(presence.into()),
        Item::Typing(typing) => InboxItem::Typing {
            room_id: typing.room_id,
            user_id: typing.user_id,
        },
        Item::InboxConversation(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inbox_item_starts_a_stream_with_the_page_sent_before_it_and_its_subscriber() {
        let page = vec![
            pb::Conversation {
                room_id: 3,
                ..Default::default()
            }
            .into(),
        ];
        let item = Item::Inbox(pb::Inbox {
            next: String::new(),
            cursor: "u1.4".into(),
            user_id: 7,
            token_exp: 1_700_000_000,
        });
        let Some(InboxItem::Restart(start)) = inbox_item(item, page) else {
            panic!("expected a start");
        };
        assert_eq!(
            start.subscriber(),
            Subscriber {
                user_id: 7,
                token_exp: 1_700_000_000
            }
        );
        let InboxStart::Inbox { page, cursor, .. } = start else {
            panic!("expected an inbox");
        };
        assert_eq!(cursor, "u1.4");
        assert_eq!(page.next, None, "an empty next is the last page");
        assert_eq!(page.conversations[0].room_id, 3);
    }

    #[test]
    fn an_event_keeps_its_room_cursor_and_unread_count() {
        let item = Item::Event(pb::InboxEvent {
            event: Some(pb::RoomEvent {
                room_id: 2,
                seq: 5,
                occurred_at: None,
                kind: Some(pb::room_event::Kind::MessageDeleted(pb::MessageDeleted {
                    message_id: 9,
                })),
            }),
            cursor: "u1.5".into(),
            unread_count: 1,
        });
        let Some(InboxItem::Event {
            room_id,
            event,
            cursor,
            unread_count,
        }) = inbox_item(item, Vec::new())
        else {
            panic!("expected an event");
        };
        assert_eq!(
            (room_id, event.seq, cursor.as_str(), unread_count),
            (2, 5, "u1.5", 1)
        );
    }

    #[test]
    fn items_missing_their_content_are_skipped() {
        let empty_event = Item::Event(pb::InboxEvent::default());
        assert!(inbox_item(empty_event, Vec::new()).is_none());
        let empty_room = Item::RoomCreated(pb::InboxRoomCreated::default());
        assert!(inbox_item(empty_room, Vec::new()).is_none());
    }
}
