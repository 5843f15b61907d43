//! Starts a real core on 127.0.0.1:0 against a fresh database, and gives
//! tests authenticated clients: [`TestCore`] (the core), [`Client`] (its
//! callers), [`Subscription`] (an open stream), [`UserStream`] (a user
//! stream), [`Link`] (an edge's link),
//! and small assertions.

mod client;
mod conversations;
mod inbox;
mod link;
mod subscription;
mod test_core;

use std::{future::Future, time::Duration};

use chat_proto::v1 as pb;
use tonic::{Code, Status};

pub use client::Client;
pub use conversations::{Truth, as_listed, truth};
pub use inbox::RoomLog;
pub use link::{EDGE_TOKEN_SCOPE, Link, hello, socket};
pub use subscription::Subscription;
pub use test_core::TestCore;

pub const SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";
/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Awaits `future`, failing the test if it takes longer than [`PATIENCE`].
pub async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(PATIENCE, future)
        .await
        .expect("timed out")
}

/// A token for a service with `scope` (`sub` `indexer`, no email).
pub fn service_token(scope: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let claims = serde_json::json!({"sub": "indexer", "exp": exp, "scope": scope});
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
}

/// The name of an event's kind, for compact assertions.
pub fn kind(event: &pb::RoomEvent) -> &'static str {
    use pb::room_event::Kind;
    match event.kind.as_ref().expect("kind set") {
        Kind::MessageCreated(_) => "created",
        Kind::MessageDelivered(_) => "delivered",
        Kind::MessageRead(_) => "read",
        Kind::MessageEdited(_) => "edited",
        Kind::MessageDeleted(_) => "deleted",
    }
}

/// The message an event is about.
pub fn message_id(event: &pb::RoomEvent) -> i64 {
    use pb::room_event::Kind;
    match event.kind.as_ref().expect("kind set") {
        Kind::MessageCreated(m) | Kind::MessageDelivered(m) | Kind::MessageRead(m) => m.message_id,
        Kind::MessageEdited(e) => e.message_id,
        Kind::MessageDeleted(d) => d.message_id,
    }
}

pub fn assert_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) {
    match result {
        Err(status) => assert_eq!(status.code(), code, "{status:?}"),
        Ok(value) => panic!("expected {code:?}, got {value:?}"),
    }
}

/// The room's event counter, read behind the API.
pub async fn last_seq(core: &TestCore, room: i64) -> i64 {
    core.sql()
        .await
        .query_one("SELECT last_seq FROM rooms WHERE id = $1", &[&room])
        .await
        .unwrap()
        .get(0)
}

/// Each room's head, read behind the API.
pub async fn heads(core: &TestCore, rooms: &[i64]) -> std::collections::BTreeMap<i64, i64> {
    let mut heads = std::collections::BTreeMap::new();
    for room in rooms {
        heads.insert(*room, last_seq(core, *room).await);
    }
    heads
}

/// The value of a series of the core's `/metrics`.
pub async fn metric<T: std::str::FromStr>(core: &TestCore, series: &str) -> T {
    let addr = core.ops_addr.expect("an ops listener");
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("a body");
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from\n{text}"))
}

/// Each room's unread count for `user` as the room list says it.
pub async fn listed_unread(user: &Client) -> std::collections::BTreeMap<i64, i64> {
    user.all_conversations(100)
        .await
        .iter()
        .map(|c| (c.room_id, c.unread_count))
        .collect()
}
