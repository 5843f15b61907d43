//! The edge's deadline reaches the core: a send the edge answered
//! `unavailable` because the core did not answer in time is not stored
//! later, after the sender's next sends.

use std::time::Duration;

use edge::config::Config as EdgeConfig;

use crate::helpers::{TestApp, edge_config};

/// Backends of the test database waiting for a lock.
async fn lock_waiters(sql: &tokio_postgres::Client) -> i64 {
    sql.query_one(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
        &[],
    )
    .await
    .expect("pg_stat_activity")
    .get(0)
}

#[tokio::test]
async fn a_send_answered_unavailable_is_not_stored_once_the_room_is_free() {
    let app = TestApp::spawn_with(|core_url| EdgeConfig {
        core_deadline_ms: 1_000,
        ..edge_config(core_url)
    })
    .await;
    let (alice, _bob, room) = app.pair().await;
    let (mut ws, _history) = app.join(&alice, room).await;
    let holder = app.sql().await;
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM rooms WHERE id = {room} FOR UPDATE"
        ))
        .await
        .expect("the room is locked");

    ws.say("too late").await;
    let answer = ws.json().await;
    assert_eq!(answer["type"], "error", "{answer}");
    assert_eq!(answer["code"], "unavailable", "{answer}");
    // The core gives up too: nothing waits for the room any more. (Without
    // the deadline it waits on, and commits once the room is free.)
    let gave_up = tokio::time::timeout(Duration::from_secs(5), async {
        while lock_waiters(&holder).await > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    holder.batch_execute("COMMIT").await.expect("committed");
    ws.say("in time").await;
    let frame = ws.until(|frame| frame["type"] == "chat_message").await;
    let last = frame.last().expect("a chat_message");
    assert_eq!(last["message"]["text"], "in time", "{last}");

    let texts: Vec<_> = app
        .messages(&alice, room)
        .await
        .into_iter()
        .map(|message| message["text"].clone())
        .collect();
    assert_eq!(texts, ["in time"]);
    assert!(gave_up.is_ok(), "the core still waited for the room");
}
