//! Users and rooms made through the public gRPC API.

use std::time::Duration;

use chat_proto::v1::{
    self as pb, room_service_client::RoomServiceClient, user_service_client::UserServiceClient,
};
use core_svc::auth::dev_token;
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

/// `count` rooms of two new users each, named with `prefix`.
pub async fn rooms(
    core: std::net::SocketAddr,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<Room>> {
    let channel = channel(core);
    let mut rooms = Vec::with_capacity(count);
    for r in 0..count {
        let tokens = [0, 1].map(|m| {
            dev_token(
                SECRET,
                &format!("{prefix}-{r}-{m}"),
                "",
                Duration::from_secs(86_400),
            )
        });
        let mut users = [0; 2];
        for (slot, token) in users.iter_mut().zip(&tokens) {
            let me = UserServiceClient::new(channel.clone())
                .who_am_i(authed(token, pb::WhoAmIRequest {}))
                .await?;
            *slot = me.into_inner().id;
        }
        let request = pb::GetOrCreateDirectRoomRequest {
            user_id_1: users[0],
            user_id_2: users[1],
        };
        let room = RoomServiceClient::new(channel.clone())
            .get_or_create_direct_room(authed(&tokens[0], request))
            .await?
            .into_inner();
        rooms.push(Room {
            id: room.room_id,
            tokens,
            users,
        });
    }
    Ok(rooms)
}
