//! gRPC clients of the chat services under one identity.

use std::time::Duration;

use chat_proto::v1::{
    self as pb, conversation_service_client::ConversationServiceClient,
    inbox_service_client::InboxServiceClient, message_service_client::MessageServiceClient,
    room_service_client::RoomServiceClient, user_service_client::UserServiceClient,
};
use tonic::{Request, Status, transport::Channel};

use super::{Subscription, within};

/// gRPC clients of all three services with one identity.
#[derive(Clone)]
pub struct Client {
    pub id: i64,
    pub(super) authorization: Option<String>,
    pub users: UserServiceClient<Channel>,
    pub rooms: RoomServiceClient<Channel>,
    pub messages: MessageServiceClient<Channel>,
    pub conversations: ConversationServiceClient<Channel>,
    pub inbox: InboxServiceClient<Channel>,
}

impl Client {
    pub(super) fn new(channel: Channel, token: Option<String>) -> Self {
        Self::with_header(channel, token.map(|token| format!("Bearer {token}")))
    }

    pub(super) fn with_header(channel: Channel, authorization: Option<String>) -> Self {
        Self {
            id: 0,
            authorization,
            users: UserServiceClient::new(channel.clone()),
            rooms: RoomServiceClient::new(channel.clone()),
            messages: MessageServiceClient::new(channel.clone()),
            conversations: ConversationServiceClient::new(channel.clone()),
            inbox: InboxServiceClient::new(channel),
        }
    }

    /// The `authorization` value this client sends, if any.
    pub fn authorization(&self) -> Option<String> {
        self.authorization.clone()
    }

    pub fn req<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.parse().unwrap());
        }
        request
    }

    pub async fn who_am_i(&self) -> Result<pb::User, Status> {
        let request = self.req(pb::WhoAmIRequest {});
        Ok(self.users.clone().who_am_i(request).await?.into_inner())
    }

    /// The caller as `WhoAmI` answers once they are offline (polled).
    pub async fn until_offline(&self) -> pb::User {
        within(async {
            loop {
                let me = self.who_am_i().await.unwrap();
                if !me.is_online {
                    return me;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }

    pub async fn room_with(&self, other: i64) -> Result<i64, Status> {
        let request = self.req(pb::GetOrCreateDirectRoomRequest {
            user_id_1: self.id,
            user_id_2: other,
        });
        Ok(self
            .rooms
            .clone()
            .get_or_create_direct_room(request)
            .await?
            .into_inner()
            .room_id)
    }

    pub async fn send(&self, room_id: i64, text: &str) -> Result<pb::SendMessageResponse, Status> {
        self.send_keyed(room_id, text, "").await
    }

    /// Sends `text` and returns the stored message's id (the test fails if the send does).
    pub async fn send_id(&self, room_id: i64, text: &str) -> i64 {
        let sent = self.send(room_id, text).await.expect("sent");
        sent.message.expect("the message").message_id
    }

    pub async fn send_keyed(
        &self,
        room_id: i64,
        text: &str,
        client_msg_id: &str,
    ) -> Result<pb::SendMessageResponse, Status> {
        let request = self.req(pb::SendMessageRequest {
            room_id,
            text: text.into(),
            client_msg_id: client_msg_id.into(),
        });
        Ok(self
            .messages
            .clone()
            .send_message(request)
            .await?
            .into_inner())
    }

    pub async fn edit(&self, message_id: i64, text: &str) -> Result<pb::Message, Status> {
        let request = self.req(pb::EditMessageRequest {
            message_id,
            text: text.into(),
        });
        Ok(self
            .messages
            .clone()
            .edit_message(request)
            .await?
            .into_inner())
    }

    pub async fn delete(&self, message_id: i64) -> Result<(), Status> {
        let request = self.req(pb::DeleteMessageRequest { message_id });
        self.messages.clone().delete_message(request).await?;
        Ok(())
    }

    pub async fn list(
        &self,
        room_id: i64,
        before: i64,
        limit: u32,
    ) -> Result<Vec<pb::Message>, Status> {
        let request = self.req(pb::ListMessagesRequest {
            room_id,
            before_message_id: before,
            limit,
        });
        Ok(self
            .messages
            .clone()
            .list_messages(request)
            .await?
            .into_inner()
            .messages)
    }

    /// `RoomService/Typing`: whether the typing was forwarded.
    pub async fn typing(&self, room_id: i64) -> Result<bool, Status> {
        let request = self.req(pb::TypingRequest { room_id });
        Ok(self
            .rooms
            .clone()
            .typing(request)
            .await?
            .into_inner()
            .forwarded)
    }

    pub async fn subscribe(&self, room_id: i64) -> Result<Subscription, Status> {
        self.subscribe_with(pb::SubscribeRequest {
            room_id,
            history_limit: None,
            after_seq: None,
        })
        .await
    }

    pub async fn subscribe_with(
        &self,
        request: pb::SubscribeRequest,
    ) -> Result<Subscription, Status> {
        let stream = self
            .rooms
            .clone()
            .subscribe(self.req(request))
            .await?
            .into_inner();
        Ok(Subscription { stream })
    }
}
