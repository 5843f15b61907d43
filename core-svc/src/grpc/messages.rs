//! `chat.v1.MessageService`: send, edit, delete and page through messages.

use chat_proto::v1::{self as pb, message_service_server::MessageService};
use tonic::{Request, Response, Status};

use super::{Authenticator, Writer, deadline};
use crate::{
    domain::{ClientMsgId, InvalidInput, MessageId, MessageText, RoomId},
    error::Error,
    store::{NewMessage, Store},
};

/// The most messages one page of history holds, and the default.
pub const MAX_PAGE: u32 = 100;
pub const DEFAULT_PAGE: u32 = 50;

pub struct MessageApi {
    auth: Authenticator,
    store: Store,
    writer: Writer,
}

impl MessageApi {
    pub fn new(auth: Authenticator, store: Store, writer: Writer) -> Self {
        Self {
            auth,
            store,
            writer,
        }
    }
}

#[tonic::async_trait]
impl MessageService for MessageApi {
    #[tracing::instrument(skip_all, fields(user_id, room_id = request.get_ref().room_id))]
    async fn send_message(
        &self,
        request: Request<pb::SendMessageRequest>,
    ) -> Result<Response<pb::SendMessageResponse>, Status> {
        let deadline = deadline(&request);
        let caller = self.auth.caller(&request).await?;
        let request = request.into_inner();
        let new = NewMessage {
            room_id: RoomId::parse(request.room_id).map_err(Error::from)?,
            sender_id: caller,
            text: MessageText::parse(&request.text).map_err(Error::from)?,
            client_msg_id: ClientMsgId::parse(&request.client_msg_id).map_err(Error::from)?,
        };
        let store = self.store.clone();
        let sent = self
            .writer
            .commit(&deadline, |deadline| async move {
                let sent = store.send_message(&new, &deadline).await?;
                let events = sent.events.clone();
                Ok((sent, events))
            })
            .await?;
        Ok(Response::new(pb::SendMessageResponse {
            message: Some(sent.message.into()),
            duplicate: sent.duplicate,
            seq: sent.seq,
        }))
    }

    #[tracing::instrument(skip_all, fields(user_id, message_id = request.get_ref().message_id))]
    async fn edit_message(
        &self,
        request: Request<pb::EditMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let deadline = deadline(&request);
        let caller = self.auth.caller(&request).await?;
        let request = request.into_inner();
        let id = MessageId::parse(request.message_id).map_err(Error::from)?;
        let text = MessageText::parse(&request.text).map_err(Error::from)?;
        let store = self.store.clone();
        let message = self
            .writer
            .commit(&deadline, |deadline| async move {
                store.edit_message(id, caller, &text, &deadline).await
            })
            .await?;
        Ok(Response::new(message.into()))
    }

    #[tracing::instrument(skip_all, fields(user_id, message_id = request.get_ref().message_id))]
    async fn delete_message(
        &self,
        request: Request<pb::DeleteMessageRequest>,
    ) -> Result<Response<pb::DeleteMessageResponse>, Status> {
        let deadline = deadline(&request);
        let caller = self.auth.caller(&request).await?;
        let id = MessageId::parse(request.get_ref().message_id).map_err(Error::from)?;
        let store = self.store.clone();
        self.writer
            .commit(&deadline, |deadline| async move {
                Ok(((), store.delete_message(id, caller, &deadline).await?))
            })
            .await?;
        Ok(Response::new(pb::DeleteMessageResponse {
            message_id: id.get(),
        }))
    }

    #[tracing::instrument(skip_all, fields(user_id, room_id = request.get_ref().room_id))]
    async fn list_messages(
        &self,
        request: Request<pb::ListMessagesRequest>,
    ) -> Result<Response<pb::ListMessagesResponse>, Status> {
        let caller = self.auth.caller(&request).await?;
        let request = request.into_inner();
        let room = RoomId::parse(request.room_id).map_err(Error::from)?;
        let before = match request.before_message_id {
            0 => None,
            id => Some(MessageId::parse(id).map_err(Error::from)?),
        };
        let limit = page_limit(request.limit).map_err(Error::from)?;
        let messages = self
            .store
            .list_messages(room, caller, before, limit)
            .await?;
        Ok(Response::new(pb::ListMessagesResponse {
            messages: messages.into_iter().map(Into::into).collect(),
        }))
    }
}

fn page_limit(raw: u32) -> Result<i64, InvalidInput> {
    match raw {
        0 => Ok(i64::from(DEFAULT_PAGE)),
        1..=MAX_PAGE => Ok(i64::from(raw)),
        _ => Err(InvalidInput("limit must be between 1 and 100")),
    }
}
