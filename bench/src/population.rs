//! Users and rooms made through the public gRPC API.

use std::time::Duration;

use chat_proto::v1::{
    self as pb, room_service_client::RoomServiceClient, user_service_client::UserServiceClient,
};
use core_svc::auth::dev_token;
use futures::{StreamExt, TryStreamExt};
use tonic::{Request, transport::Channel};

use crate::system::SECRET;

/// A direct room and its two members' tokens and ids.
#[derive(Debug, Clone)]
pub struct Room {
    pub id: i64,
    pub tokens: [String; 2],
    pub users: [i64; 2],
}

pub fn channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("a valid URL")
        .connect_lazy()
}

pub fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let value = format!("Bearer {token}").parse().expect("an ASCII token");
    request.metadata_mut().insert("authorization", value);
    request
}

/// Calls in flight while populating: enough to keep the core's pool and
/// PostgreSQL's group commit busy.
const CONCURRENCY: usize = 32;

/// `count` rooms of two new users each, named with `prefix`, made
/// [`CONCURRENCY`] at a time (in order).
pub async fn rooms(
    core: std::net::SocketAddr,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<Room>> {
    let channel = channel(core);
    futures::stream::iter(0..count)
        .map(|r| {
            room(
                &channel,
                [0, 1].map(|m| token(&format!("{prefix}-{r}-{m}"))),
            )
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await
}

/// A development token of `sub`, valid for a day.
fn token(sub: &str) -> String {
    dev_token(SECRET, sub, "", Duration::from_secs(86_400))
}

/// The direct room of the users of `tokens`, both made on the way.
async fn room(channel: &Channel, tokens: [String; 2]) -> anyhow::Result<Room> {
    let who = |token: &str| {
        let request = authed(token, pb::WhoAmIRequest {});
        let mut users = UserServiceClient::new(channel.clone());
        async move { anyhow::Ok(users.who_am_i(request).await?.into_inner().id) }
    };
    let (first, second) = futures::try_join!(who(&tokens[0]), who(&tokens[1]))?;
    let request = pb::GetOrCreateDirectRoomRequest {
        user_id_1: first,
        user_id_2: second,
    };
    let room = RoomServiceClient::new(channel.clone())
        .get_or_create_direct_room(authed(&tokens[0], request))
        .await?
        .into_inner();
    Ok(Room {
        id: room.room_id,
        tokens,
        users: [first, second],
    })
}
