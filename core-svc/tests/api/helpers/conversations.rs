//! The room list, read marks and profiles, as a [`Client`] calls them, and
//! the truth they must equal, computed from the messages by plain SQL.

use chat_proto::v1 as pb;
use tonic::Status;

use super::{Client, TestCore};

impl Client {
    pub async fn page(
        &self,
        limit: u32,
        before: &str,
    ) -> Result<pb::ListConversationsResponse, Status> {
        let request = self.req(pb::ListConversationsRequest {
            limit,
            before: before.into(),
        });
        Ok(self
            .conversations
            .clone()
            .list_conversations(request)
            .await?
            .into_inner())
    }

    /// Every room of the caller, page after page of `limit`.
    pub async fn all_conversations(&self, limit: u32) -> Vec<pb::Conversation> {
        let mut all = Vec::new();
        let mut before = String::new();
        loop {
            let page = self.page(limit, &before).await.expect("a page");
            assert!(page.conversations.len() <= limit as usize);
            all.extend(page.conversations);
            if page.next.is_empty() {
                return all;
            }
            before = page.next;
        }
    }

    pub async fn mark_read(
        &self,
        room_id: i64,
        up_to_message_id: Option<i64>,
    ) -> Result<pb::MarkReadResponse, Status> {
        let request = self.req(pb::MarkReadRequest {
            room_id,
            up_to_message_id,
        });
        Ok(self
            .conversations
            .clone()
            .mark_read(request)
            .await?
            .into_inner())
    }

    pub async fn get_user(&self, user_id: i64) -> Result<pb::User, Status> {
        let request = self.req(pb::GetUserRequest { user_id });
        Ok(self.users.clone().get_user(request).await?.into_inner())
    }
}

/// What a room's list entry must say for one member, from the messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truth {
    pub room_id: i64,
    pub user_id: i64,
    pub unread: i64,
    /// Unix microseconds.
    pub activity: i64,
    pub last_message: Option<i64>,
}

/// The truth for every room and member, by plain SQL over `messages`.
pub async fn truth(core: &TestCore) -> Vec<Truth> {
    let rows = core
        .sql()
        .await
        .query(
            "SELECT r.id AS room_id, mem.user_id,
                 (SELECT count(*) FROM messages m
                  WHERE m.room_id = r.id AND m.sender_id <> mem.user_id
                    AND m.status <> 'read' AND m.deleted_at IS NULL) AS unread,
                 (extract(epoch FROM coalesce(
                     (SELECT max(m.created_at) FROM messages m WHERE m.room_id = r.id),
                     r.created_at)) * 1000000)::bigint AS activity,
                 (SELECT max(m.id) FROM messages m
                  WHERE m.room_id = r.id AND m.deleted_at IS NULL) AS last_message
             FROM rooms r
             CROSS JOIN LATERAL (VALUES (r.user_lo), (r.user_hi)) AS mem(user_id)
             ORDER BY r.id, mem.user_id",
            &[],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|row| Truth {
            room_id: row.get("room_id"),
            user_id: row.get("user_id"),
            unread: row.get("unread"),
            activity: row.get("activity"),
            last_message: row.get("last_message"),
        })
        .collect()
}

/// What `user`'s list says of each of their rooms, in the shape of [`Truth`].
pub fn as_listed(user_id: i64, conversations: &[pb::Conversation]) -> Vec<Truth> {
    conversations
        .iter()
        .map(|c| {
            let at = c.activity_at.as_ref().expect("activity_at");
            Truth {
                room_id: c.room_id,
                user_id,
                unread: c.unread_count,
                activity: at.seconds * 1_000_000 + i64::from(at.nanos) / 1_000,
                last_message: c.last_message.as_ref().map(|m| m.message_id),
            }
        })
        .collect()
}
