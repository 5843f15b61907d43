//! `chat.v1.RoomService`: direct rooms and their live event streams.

use chat_proto::v1::{self as pb, room_service_server::RoomService};
use futures::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{Authenticator, Caller, ServerStream, until_shutdown};
use crate::{
    access,
    domain::{InvalidInput, RoomId, UserId},
    error::Error,
    fanout::Subscriptions,
    store::{Start, Store},
};

/// The most messages a subscription snapshot holds, and its default.
pub const MAX_SNAPSHOT: u32 = 50;

pub struct RoomApi {
    auth: Authenticator,
    store: Store,
    subscriptions: Subscriptions,
}

impl RoomApi {
    pub fn new(auth: Authenticator, store: Store, subscriptions: Subscriptions) -> Self {
        Self {
            auth,
            store,
            subscriptions,
        }
    }
}

type EventStream = ServerStream<pb::SubscribeResponse>;

#[tonic::async_trait]
impl RoomService for RoomApi {
    #[tracing::instrument(skip_all, fields(user_id))]
    async fn get_or_create_direct_room(
        &self,
        request: Request<pb::GetOrCreateDirectRoomRequest>,
    ) -> Result<Response<pb::Room>, Status> {
        let caller = self.auth.caller(&request).await?;
        let pb::GetOrCreateDirectRoomRequest {
            user_id_1,
            user_id_2,
        } = request.into_inner();
        let a = UserId::parse(user_id_1).map_err(Error::from)?;
        let b = UserId::parse(user_id_2).map_err(Error::from)?;
        access::open_direct(caller, a, b).map_err(Error::from)?;
        let room = self.store.get_or_create_direct_room(a, b).await?;
        Ok(Response::new(room.into()))
    }

    type SubscribeStream = EventStream;

    #[tracing::instrument(skip_all, fields(user_id, room_id = request.get_ref().room_id))]
    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let request = request.into_inner();
        let room = RoomId::parse(request.room_id).map_err(Error::from)?;
        let start = start(request.history_limit, request.after_seq).map_err(Error::from)?;
        let items = self.subscriptions.open(room, caller.id, start).await?;
        let stream = ReceiverStream::new(items).map(move |item| {
            (*item)
                .map(|item| with_subscriber(item.into(), caller))
                .map_err(Status::from)
        });
        let shutdown = self.subscriptions.shutdown.clone();
        Ok(Response::new(until_shutdown(stream, shutdown)))
    }

    #[tracing::instrument(skip_all, fields(user_id, room_id = request.get_ref().room_id))]
    async fn typing(
        &self,
        request: Request<pb::TypingRequest>,
    ) -> Result<Response<pb::TypingResponse>, Status> {
        let caller = self.auth.caller(&request).await?;
        let room = RoomId::parse(request.get_ref().room_id).map_err(Error::from)?;
        self.store.member_room(room, caller).await?;
        let typing = &self.subscriptions.fanout.typing;
        let forwarded = typing.typed(&self.store, room, caller).await?;
        Ok(Response::new(pb::TypingResponse { forwarded }))
    }
}

/// The snapshot names its subscriber and the expiry of their token.
fn with_subscriber(mut response: pb::SubscribeResponse, caller: Caller) -> pb::SubscribeResponse {
    if let Some(pb::subscribe_response::Item::Snapshot(snapshot)) = &mut response.item {
        snapshot.user_id = caller.id.get();
        snapshot.token_exp = caller.token_exp;
    }
    response
}

/// Where a subscriber (or a socket on an edge link) starts, from its request.
pub(super) fn start(
    history_limit: Option<u32>,
    after_seq: Option<i64>,
) -> Result<Start, InvalidInput> {
    let limit = history_limit.unwrap_or(MAX_SNAPSHOT);
    if limit > MAX_SNAPSHOT {
        return Err(InvalidInput("history_limit must be at most 50"));
    }
    let limit = i64::from(limit);
    match after_seq {
        None => Ok(Start::Snapshot { limit }),
        Some(after_seq) if after_seq >= 0 => Ok(Start::Resume {
            after_seq,
            fallback_limit: limit,
        }),
        Some(_) => Err(InvalidInput("after_seq must not be negative")),
    }
}
