//! Explicit limits of the gRPC surface: request size and streams per
//! connection.

use std::time::Duration;

use tonic::Code;

use crate::helpers::{TestCore, assert_code, within};

#[tokio::test]
async fn a_request_over_64_kib_is_refused_before_it_is_handled() {
    let core = TestCore::start().await;
    let (alice, _bob, room) = core.pair().await;
    let huge = "a".repeat(64 * 1024 + 1);
    let status = alice.send(room, &huge).await.unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(
        status.message().len() < 200,
        "the refusal echoes the request"
    );
    let stored: i64 = core
        .sql()
        .await
        .query_one("SELECT count(*) FROM messages", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn streams_per_connection_are_bounded() {
    let db = pg_local::TestDatabase::create().unwrap();
    let core = TestCore::on_database(db.connection_string(), |config| {
        config.grpc_max_streams = 4;
    })
    .await;
    let (alice, _bob, room) = core.pair().await;
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut subscription = alice.subscribe(room).await.unwrap();
        subscription.snapshot().await;
        open.push(subscription);
    }
    // A fifth stream on the same connection waits for a free slot.
    let waiting = alice.clone();
    let mut fifth = tokio::spawn(async move { waiting.subscribe(room).await });
    let early = tokio::time::timeout(Duration::from_millis(500), &mut fifth).await;
    assert!(early.is_err(), "a fifth stream opened beyond the limit");
    drop(open.pop());
    let mut subscription = within(fifth).await.unwrap().unwrap();
    subscription.snapshot().await;
    // The core still answers unary calls once streams close.
    drop(open);
    drop(subscription);
    assert_code(alice.send(0, "x").await, Code::InvalidArgument);
}
