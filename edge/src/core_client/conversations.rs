//! The core's `ConversationService` and `UserService.GetUser`: a caller's
//! room list, read marks and the profiles they may see, as the edge's own
//! types.

use chat_proto::v1 as pb;
use pb::conversation_service_client::ConversationServiceClient;
use pb::user_service_client::UserServiceClient;
use time::OffsetDateTime;

use super::convert::time;
use super::{CoreClient, Message, User};
use crate::core_client::BearerToken;
use crate::error::Error;

/// One room of the caller's list.
#[derive(Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The room id.
    pub room_id: i64,
    /// The other member, with their presence.
    pub peer: User,
    /// The newest message that is not deleted.
    pub last_message: Option<Message>,
    /// The peer's messages that are neither deleted nor read.
    pub unread_count: i64,
    /// The room's latest event `seq`.
    pub last_seq: i64,
    /// When the room was created.
    pub created_at: Option<OffsetDateTime>,
}

/// One page of the caller's room list.
#[derive(Clone, PartialEq, Eq)]
pub struct ConversationPage {
    /// Most recent activity first.
    pub conversations: Vec<Conversation>,
    /// The opaque start of the next page; `None` on the last page.
    pub next: Option<String>,
}

/// Which page of the room list to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationQuery {
    /// The page size, 1 to 100.
    pub limit: u32,
    /// A `next` of an earlier page; `None`: the first page.
    pub before: Option<String>,
}

impl CoreClient {
    /// `ConversationService.ListConversations`.
    pub async fn list_conversations(
        &self,
        token: &BearerToken,
        query: ConversationQuery,
    ) -> Result<ConversationPage, Error> {
        let (core, channel) = self.pick();
        let mut client = ConversationServiceClient::new(channel);
        let message = pb::ListConversationsRequest {
            limit: query.limit,
            before: query.before.unwrap_or_default(),
        };
        let response = self
            .unary(
                core,
                client.list_conversations(self.deadlined(token, message)),
            )
            .await?;
        Ok(ConversationPage {
            conversations: response.conversations.into_iter().map(Into::into).collect(),
            next: Some(response.next).filter(|next| !next.is_empty()),
        })
    }

    /// `ConversationService.MarkRead`: the other member's messages in the
    /// room (up to `up_to` when given) become read.
    pub async fn mark_read(
        &self,
        token: &BearerToken,
        room_id: i64,
        up_to: Option<i64>,
    ) -> Result<(), Error> {
        let (core, channel) = self.pick();
        let mut client = ConversationServiceClient::new(channel);
        let message = pb::MarkReadRequest {
            room_id,
            up_to_message_id: up_to,
        };
        self.unary(core, client.mark_read(self.deadlined(token, message)))
            .await
            .map(|_| ())
    }

    /// `UserService.GetUser`: the caller, or someone sharing a room with them.
    pub async fn get_user(&self, token: &BearerToken, user_id: i64) -> Result<User, Error> {
        let (core, channel) = self.pick();
        let mut client = UserServiceClient::new(channel);
        let message = pb::GetUserRequest { user_id };
        self.unary(core, client.get_user(self.deadlined(token, message)))
            .await
            .map(User::from)
    }
}

impl From<pb::Conversation> for Conversation {
    fn from(conversation: pb::Conversation) -> Self {
        Self {
            room_id: conversation.room_id,
            peer: conversation.peer.unwrap_or_default().into(),
            last_message: conversation.last_message.map(Message::from),
            unread_count: conversation.unread_count,
            last_seq: conversation.last_seq,
            created_at: time(conversation.created_at.as_ref()),
        }
    }
}
