//! `chat.v1.InboxService`: every room of the caller on one stream (the
//! edge's user socket). Cursors are opaque strings made by
//! [`crate::inbox::Cursor`].

use chat_proto::v1::{self as pb, inbox_item::Item, inbox_service_server::InboxService};
use futures::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{Authenticator, Caller, ServerStream, chunks::OnePerChunk, until_shutdown};
use crate::inbox::{Inbox, Out};

pub struct InboxApi {
    auth: Authenticator,
    inbox: Inbox,
}

impl InboxApi {
    pub fn new(auth: Authenticator, inbox: Inbox) -> Self {
        Self { auth, inbox }
    }
}

#[tonic::async_trait]
impl InboxService for InboxApi {
    type StreamStream = ServerStream<pb::InboxItem>;

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn stream(
        &self,
        request: Request<pb::InboxStreamRequest>,
    ) -> Result<Response<Self::StreamStream>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let cursor = request.into_inner().cursor;
        let items = self.inbox.open(caller.id, cursor).await?;
        let stream = ReceiverStream::new(items).flat_map(move |item| {
            let items: Vec<Result<pb::InboxItem, Status>> = match *item {
                Ok(out) => items_of(out, caller).into_iter().map(Ok).collect(),
                Err(err) => vec![Err(Status::from(err))],
            };
            futures::stream::iter(items)
        });
        // The inbox comes as 50 items at once: one chunk each keeps the
        // encode buffers here and at the edge small (grpc/chunks.rs).
        let stream = OnePerChunk::new(stream);
        Ok(Response::new(until_shutdown(stream, self.inbox.shutdown())))
    }
}

/// The wire form of a stream item: an inbox is its conversations one by
/// one, then the inbox itself; the first item names the caller.
fn items_of(out: Out, caller: Caller) -> Vec<pb::InboxItem> {
    let item = match out {
        Out::Inbox { page, cursor } => {
            let next = page.next.map(super::conversations::encode_cursor);
            let mut items: Vec<pb::InboxItem> = page
                .conversations
                .into_iter()
                .map(|conversation| wrap(Item::InboxConversation(conversation.into())))
                .collect();
            items.push(wrap(Item::Inbox(pb::Inbox {
                next: next.unwrap_or_default(),
                cursor,
                user_id: caller.id.get(),
                token_exp: caller.token_exp,
            })));
            return items;
        }
        Out::Resumed { cursor } => Item::Resumed(pb::InboxResumed {
            cursor,
            user_id: caller.id.get(),
            token_exp: caller.token_exp,
        }),
        Out::Event {
            event,
            cursor,
            unread,
        } => Item::Event(pb::InboxEvent {
            event: Some(event.into()),
            cursor,
            unread_count: unread,
        }),
        Out::RoomCreated {
            conversation,
            cursor,
        } => Item::RoomCreated(pb::InboxRoomCreated {
            conversation: Some(conversation.into()),
            cursor,
        }),
        Out::Presence(presence) => Item::Presence(presence.into()),
        Out::Typing { room, user } => Item::Typing(pb::Typing {
            room_id: room.get(),
            user_id: user.get(),
        }),
    };
    vec![wrap(item)]
}

fn wrap(item: Item) -> pb::InboxItem {
    pb::InboxItem { item: Some(item) }
}
