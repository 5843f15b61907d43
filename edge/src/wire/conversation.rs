//! The JSON shapes of the room list: a user's profile (`GET /users/{id}`,
//! `GET /users/me` and a conversation's `peer`) and a conversation `C`.

use serde::{Deserialize, Serialize};

use super::{HistoryItem, wire_time};
use crate::core_client::{Conversation, ConversationPage, User};

/// `{"id": 3, "email": "a@example.com", "is_online": false, "last_seen": "…" | null}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Profile {
    /// The user id.
    pub id: i64,
    /// The user's email.
    pub email: String,
    /// True while at least one socket of the user is open.
    pub is_online: bool,
    /// When the user's last socket closed; `null` if they never connected.
    pub last_seen: Option<String>,
}

impl From<User> for Profile {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            is_online: user.is_online,
            last_seen: wire_time(user.last_seen),
            email: user.email,
        }
    }
}

/// `C`: one room of the caller's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationView {
    /// The room id.
    pub room_id: i64,
    /// The other member.
    pub peer: Profile,
    /// The newest message that is not deleted, or `null`.
    pub last_message: Option<HistoryItem>,
    /// The peer's messages in the room that are neither deleted nor `read`.
    pub unread_count: i64,
    /// The `seq` of the room's latest event (0 when it has none).
    pub last_seq: i64,
    /// When the room was created.
    pub created_at: Option<String>,
}

impl From<Conversation> for ConversationView {
    fn from(conversation: Conversation) -> Self {
        Self {
            room_id: conversation.room_id,
            peer: conversation.peer.into(),
            last_message: conversation.last_message.map(HistoryItem::from),
            unread_count: conversation.unread_count,
            last_seq: conversation.last_seq,
            created_at: wire_time(conversation.created_at),
        }
    }
}

/// `{"rooms": [C, …], "next": "<opaque>" | null}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RoomList {
    /// Most recent activity first; ties go to the higher `room_id`.
    pub rooms: Vec<ConversationView>,
    /// Pass as `before` for the next page; `null` on the last page.
    pub next: Option<String>,
}

impl From<ConversationPage> for RoomList {
    fn from(page: ConversationPage) -> Self {
        Self {
            rooms: page.conversations.into_iter().map(Into::into).collect(),
            next: page.next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_serializes_in_the_documented_shape() {
        let conversation = Conversation {
            room_id: 1,
            peer: User {
                id: 4,
                email: "b@example.com".into(),
                is_online: true,
                last_seen: None,
                token_exp: 0,
            },
            last_message: None,
            unread_count: 2,
            last_seq: 17,
            created_at: Some(time::OffsetDateTime::UNIX_EPOCH),
        };
        let text = serde_json::to_string(&ConversationView::from(conversation)).unwrap();
        assert_eq!(
            text,
            r#"{"room_id":1,"peer":{"id":4,"email":"b@example.com","is_online":true,"last_seen":null},"last_message":null,"unread_count":2,"last_seq":17,"created_at":"1970-01-01T00:00:00.000000+00:00"}"#
        );
    }
}
