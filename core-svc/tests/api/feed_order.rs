//! The feed's order within a room when transaction ids and the room's lock
//! disagree: an id is handed out at a transaction's first write, which may
//! come before the transaction waits for the room's lock.

use std::time::Duration;

use chat_proto::v1 as pb;

use crate::{
    feed::{everything, follow_all},
    helpers::{TestCore, within},
};

/// Waits until the backend `pid` waits for a lock; returns its
/// transaction id then (`None`: it has none yet).
async fn waiting_for_a_lock(core: &TestCore, pid: i32) -> Option<String> {
    let sql = core.sql().await;
    within(async {
        loop {
            let row = sql
                .query_opt(
                    "SELECT backend_xid::text FROM pg_stat_activity
                     WHERE pid = $1 AND wait_event_type = 'Lock'",
                    &[&pid],
                )
                .await
                .unwrap();
            if let Some(row) = row {
                return row.get(0);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

async fn begin_with_id(sql: &tokio_postgres::Client) -> i64 {
    sql.batch_execute("BEGIN").await.unwrap();
    let row = sql
        .query_one("SELECT pg_current_xact_id()::text::bigint", &[])
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test]
async fn an_older_transaction_that_waited_for_the_room_lock_still_comes_after_in_the_room() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    alice.send(room, "before").await.unwrap();

    // The older transaction writes first (it takes its id), then waits for
    // the room's lock, which a younger one holds.
    let older = core.sql().await;
    let older_pid: i32 = older
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let sender = alice.id;
    let older_id = begin_with_id(&older).await;
    older
        .execute("INSERT INTO users (sub) VALUES ('first-a-write')", &[])
        .await
        .unwrap();
    let younger = core.sql().await;
    let younger_id = begin_with_id(&younger).await;
    assert!(older_id < younger_id);
    younger
        .execute("SELECT 1 FROM rooms WHERE id = $1 FOR UPDATE", &[&room])
        .await
        .unwrap();
    let waiting = tokio::spawn(async move {
        older
            .execute(
                "SELECT * FROM chat_send_message($1, $2, 'older id, later seq', NULL)",
                &[&room, &sender],
            )
            .await
            .unwrap();
        older.batch_execute("COMMIT").await.unwrap();
    });
    assert!(waiting_for_a_lock(&core, older_pid).await.is_some());
    younger
        .execute(
            "SELECT * FROM chat_send_message($1, $2, 'younger id, earlier seq', NULL)",
            &[&room, &bob.id],
        )
        .await
        .unwrap();
    younger.batch_execute("COMMIT").await.unwrap();
    within(waiting).await.unwrap();

    let items = follow_all(&core, everything(&core).await.len()).await;
    let seqs: Vec<i64> = items.iter().filter_map(room_seq(room)).collect();
    let texts: Vec<String> = items.iter().filter_map(created_text).collect();
    assert_eq!(
        seqs,
        (0..seqs.len() as i64).collect::<Vec<_>>(),
        "room order"
    );
    assert_eq!(
        texts,
        ["before", "younger id, earlier seq", "older id, later seq"]
    );
}

#[tokio::test]
async fn a_send_that_waits_for_the_room_lock_takes_its_id_only_once_it_holds_it() {
    let core = TestCore::start().await;
    let (alice, _bob, room) = core.pair().await;
    let alice = alice.id;
    let holder = core.sql().await;
    begin_with_id(&holder).await;
    holder
        .execute("SELECT 1 FROM rooms WHERE id = $1 FOR UPDATE", &[&room])
        .await
        .unwrap();
    let sender = core.sql().await;
    let sender_pid: i32 = sender
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let waiting = tokio::spawn(async move {
        sender.batch_execute("BEGIN").await.unwrap();
        sender
            .execute(
                "SELECT * FROM chat_send_message($1, $2, 'waits', NULL)",
                &[&room, &alice],
            )
            .await
            .unwrap();
        sender.batch_execute("COMMIT").await.unwrap();
    });
    // The core's way: BEGIN, then the send function, whose first step is
    // the room's lock. While it waits it has no id, so the ids of a room's
    // writers follow the order of the lock.
    assert_eq!(waiting_for_a_lock(&core, sender_pid).await, None);
    holder.batch_execute("COMMIT").await.unwrap();
    within(waiting).await.unwrap();
}

fn room_seq(room: i64) -> impl Fn(&pb::FeedItem) -> Option<i64> {
    move |item| match item.item.as_ref()? {
        pb::feed_item::Item::Event(event) if event.room_id == room => Some(event.seq),
        pb::feed_item::Item::RoomCreated(created) if created.room.as_ref()?.room_id == room => {
            Some(0)
        }
        _ => None,
    }
}

fn created_text(item: &pb::FeedItem) -> Option<String> {
    let pb::feed_item::Item::Event(event) = item.item.as_ref()? else {
        return None;
    };
    match event.kind.as_ref()? {
        pb::room_event::Kind::MessageCreated(message) => Some(message.text.clone()),
        _ => None,
    }
}
