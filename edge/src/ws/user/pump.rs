//! The stream pump of a user session: the items of the user's
//! `InboxService.Stream` → frames on the outbound queue, in the core's
//! order. Room events become the room socket's frames (`ws/events.rs`)
//! with `room_id`, `cursor` and `unread_count`; a new room becomes
//! `room_created`; presence and typing are the room socket's frames. When
//! the core ends or breaks the stream the socket closes (1011, clients
//! reconnect with their last cursor; see `Failure::on_user_stream`).

use tungstenite::Utf8Bytes;

use crate::core_client::{InboxItem, InboxStart, InboxStream};
use crate::wire::{ConversationView, RoomList};
use crate::ws::close::{CloseReason, End};
use crate::ws::protocol::ServerFrame;
use crate::ws::protocol::user::{RoomEventFrame, UserFrame};
use crate::ws::writer::Outbound;
use crate::ws::{event_frame, presence_frame};

/// The stream's items → the outbound queue until the stream ends or the
/// queue refuses (the client is gone or too slow).
pub(super) async fn pump_inbox(stream: &mut InboxStream, out: &Outbound) -> End {
    loop {
        let item = match stream.next().await {
            Ok(Some(item)) => item,
            Ok(None) => {
                tracing::warn!("the core ended the user stream");
                return End::Close(CloseReason::CORE_UNAVAILABLE);
            }
            Err(error) => {
                tracing::warn!(code = ?error.code(), "the user stream failed");
                return End::Close(error.failure().on_user_stream());
            }
        };
        let text = match item_text(item) {
            Ok(text) => text,
            Err(error) => {
                tracing::error!(%error, "a frame did not serialize");
                return End::Close(CloseReason::CORE_UNAVAILABLE);
            }
        };
        if let Err(end) = out.push_text(text).await {
            return end;
        }
    }
}

/// The first frame of a user socket: `inbox` or `resumed`.
pub(super) fn start_frame(start: InboxStart) -> UserFrame {
    match start {
        InboxStart::Inbox { page, cursor, .. } => {
            let list = RoomList::from(page);
            UserFrame::Inbox {
                rooms: list.rooms,
                next: list.next,
                cursor,
            }
        }
        InboxStart::Resumed { cursor, .. } => UserFrame::Resumed { cursor },
    }
}

/// The encoded frame of one stream item.
fn item_text(item: InboxItem) -> Result<Utf8Bytes, serde_json::Error> {
    let text = match item {
        InboxItem::Restart(start) => serde_json::to_string(&start_frame(start)),
        InboxItem::Event {
            room_id,
            event,
            cursor,
            unread_count,
        } => serde_json::to_string(&RoomEventFrame {
            frame: event_frame(event),
            room_id,
            cursor,
            unread_count,
        }),
        InboxItem::RoomCreated {
            conversation,
            cursor,
        } => serde_json::to_string(&UserFrame::RoomCreated {
            room: ConversationView::from(conversation),
            cursor,
        }),
        InboxItem::Presence(presence) => serde_json::to_string(&presence_frame(presence)),
        InboxItem::Typing { room_id, user_id } => {
            serde_json::to_string(&ServerFrame::Typing { room_id, user_id })
        }
    }?;
    Ok(Utf8Bytes::from(text))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::core_client::{Change, Presence, RoomEvent};

    fn json_of(item: InboxItem) -> Value {
        let text = item_text(item).expect("serializes");
        serde_json::from_str(text.as_str()).expect("JSON")
    }

    #[test]
    fn an_event_is_the_room_sockets_frame_with_its_room_cursor_and_unread_count() {
        let value = json_of(InboxItem::Event {
            room_id: 2,
            event: RoomEvent {
                seq: 5,
                change: Change::Edited {
                    message_id: 9,
                    text: "new".into(),
                },
            },
            cursor: "u1.5".into(),
            unread_count: 1,
        });
        assert_eq!(
            value,
            json!({"type": "message_edited", "message_id": 9, "text": "new", "seq": 5,
                   "room_id": 2, "cursor": "u1.5", "unread_count": 1})
        );
    }

    #[test]
    fn presence_and_typing_are_the_room_sockets_frames() {
        let presence = json_of(InboxItem::Presence(Presence {
            user_id: 4,
            is_online: true,
            last_seen: None,
            version: 3,
        }));
        assert_eq!(
            presence,
            json!({"type": "presence", "user_id": 4, "is_online": true, "last_seen": null})
        );
        let typing = json_of(InboxItem::Typing {
            room_id: 1,
            user_id: 4,
        });
        assert_eq!(
            typing,
            json!({"type": "typing", "room_id": 1, "user_id": 4})
        );
    }
}
