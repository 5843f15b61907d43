//! Deadlines: a write whose caller stopped waiting (its `grpc-timeout`
//! passed, or it went away) is never committed afterwards, so a send that
//! was answered as failed is never stored after the sender's later sends.

use std::time::Duration;

use chat_proto::v1 as pb;
use tonic::{Code, Status};

use crate::{
    core_process::CoreProcess,
    helpers::{Client, SECRET, TestCore, within},
};

/// The callers' deadline in these tests.
const DEADLINE: Duration = Duration::from_secs(1);

/// A send with [`DEADLINE`], like the edge's: `grpc-timeout` on the
/// request, and the call dropped when it passes.
async fn send_by_deadline(client: &Client, room_id: i64, text: &str) -> Result<(), Status> {
    let mut request = client.req(pb::SendMessageRequest {
        room_id,
        text: text.into(),
        client_msg_id: String::new(),
    });
    request.set_timeout(DEADLINE);
    let mut messages = client.messages.clone();
    let call = messages.send_message(request);
    match tokio::time::timeout(DEADLINE, call).await {
        Ok(outcome) => outcome.map(|_| ()),
        Err(_elapsed) => Err(Status::deadline_exceeded("the test stopped waiting")),
    }
}

/// The texts of the room's messages in the order they were stored.
async fn texts_in_seq_order(core: &TestCore, room: i64) -> Vec<String> {
    core.sql()
        .await
        .query(
            "SELECT text FROM messages WHERE room_id = $1 ORDER BY seq",
            &[&room],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Backends of this database waiting for a lock.
async fn lock_waiters(sql: &tokio_postgres::Client) -> i64 {
    sql.query_one(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// A transaction of the test that holds `room`'s row lock until it commits.
async fn lock_room(core: &TestCore, room: i64) -> tokio_postgres::Client {
    let holder = core.sql().await;
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM rooms WHERE id = {room} FOR UPDATE"
        ))
        .await
        .unwrap();
    holder
}

/// Waits until some backend waits for a lock.
async fn until_a_lock_is_awaited(sql: &tokio_postgres::Client) {
    within(async {
        while lock_waiters(sql).await == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// Asserts that `late`, when stored at all, was stored before every one of `after`.
fn assert_stored_before(texts: &[String], late: &str, after: &[&str]) {
    let Some(position) = texts.iter().position(|text| text == late) else {
        return;
    };
    for later in after {
        let later_position = texts.iter().position(|text| text == later);
        assert!(
            later_position.is_some_and(|p| p > position),
            "{late:?} was stored after {later:?}: {texts:?}"
        );
    }
}

#[tokio::test]
async fn a_send_that_timed_out_behind_a_locked_room_is_not_stored_when_the_lock_is_released() {
    let core = TestCore::start().await;
    let (alice, _bob, room) = core.pair().await;
    let holder = lock_room(&core, room).await;

    let status = send_by_deadline(&alice, room, "too late")
        .await
        .unwrap_err();
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    // The core gives up on its own: its statement stops waiting for the
    // room. (Without a deadline it waits on; released then, it would commit.)
    let gave_up = tokio::time::timeout(Duration::from_secs(5), async {
        while lock_waiters(&holder).await > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    holder.batch_execute("COMMIT").await.unwrap();
    alice.send(room, "in time").await.unwrap();

    assert_eq!(texts_in_seq_order(&core, room).await, ["in time"]);
    assert!(gave_up.is_ok(), "the send still waited for the room");
}

/// A core stalls (SIGSTOP) with a send waiting inside it for its one
/// pooled connection; the sender's deadline passes, it sends on through
/// another core, and the stalled core resumes with the connection free.
#[tokio::test]
async fn a_send_stalled_in_a_stopped_core_is_not_stored_after_the_senders_later_sends() {
    let core = TestCore::start().await;
    let stalled = CoreProcess::spawn_with(&core.url, SECRET, &["--db-pool-size", "1"]).await;
    let stalled_core = TestCore::remote(&stalled.addr).await;
    let (alice, _bob, room) = core.pair().await;
    let carol = core.user("carol").await;
    let dave = core.user("dave").await;
    let other_room = carol.room_with(dave.id).await.unwrap();
    let alice_there = stalled_core.same_user(&alice);
    let carol_there = stalled_core.same_user(&carol);
    alice_there.who_am_i().await.unwrap();
    carol_there.who_am_i().await.unwrap();

    // Carol's send holds the stalled core's only connection, waiting for
    // the other room; Alice's then waits for the connection.
    let holder = lock_room(&core, other_room).await;
    let blocker = tokio::spawn(async move { carol_there.send(other_room, "blocker").await });
    until_a_lock_is_awaited(&holder).await;
    let first = {
        let alice_there = alice_there.clone();
        tokio::spawn(async move { send_by_deadline(&alice_there, room, "first").await })
    };
    // Time for the send to reach the pool's queue; nothing outside shows it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stalled.pause();
    let paused_at = tokio::time::Instant::now();

    assert!(within(first).await.unwrap().is_err());
    alice.send(room, "second").await.unwrap();
    holder.batch_execute("COMMIT").await.unwrap();
    // Stalled for longer than the deadline, wherever it started counting.
    tokio::time::sleep_until(paused_at + DEADLINE).await;
    stalled.resume();
    within(blocker).await.unwrap().unwrap();
    // Behind the first send in the pool's queue: once it is stored, the
    // first one is stored or never will be.
    alice_there.send(room, "third").await.unwrap();

    let texts = texts_in_seq_order(&core, room).await;
    assert_stored_before(&texts, "first", &["second", "third"]);
}
