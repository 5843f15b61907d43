//! `Subscribe`: the snapshot, then every event of the room in order, receipts
//! for the subscribed recipient, resume by `after_seq`, and the end of streams
//! at shutdown.

use chat_proto::v1::{self as pb, room_event::Kind};
use tonic::Code;

use crate::helpers::{TestCore, assert_code, kind, message_id};

fn request(
    room_id: i64,
    history_limit: Option<u32>,
    after_seq: Option<i64>,
) -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        room_id,
        history_limit,
        after_seq,
    }
}

#[tokio::test]
async fn the_snapshot_holds_the_latest_messages_that_are_not_deleted() {
    let core = TestCore::start().await;
    let (alice, _bob, room) = core.pair().await;
    let mut ids = Vec::new();
    for i in 0..55 {
        ids.push(alice.send_id(room, &format!("m{i}")).await);
    }
    alice.delete(ids[54]).await.unwrap();
    let mut stream = alice.subscribe(room).await.unwrap();
    let snapshot = stream.snapshot().await;
    assert!(!snapshot.resumed);
    assert_eq!(snapshot.seq, 55 * 2 + 1);
    let got: Vec<i64> = snapshot.messages.iter().map(|m| m.message_id).collect();
    let expected: Vec<i64> = ids[4..54].iter().rev().copied().collect();
    assert_eq!(
        got, expected,
        "50 newest, newest first, the deleted one left out"
    );

    let mut small = alice
        .subscribe_with(request(room, Some(3), None))
        .await
        .unwrap();
    assert_eq!(small.snapshot().await.messages.len(), 3);
    let mut none = alice
        .subscribe_with(request(room, Some(0), None))
        .await
        .unwrap();
    assert!(none.snapshot().await.messages.is_empty());
    assert_code(
        alice.subscribe_with(request(room, Some(51), None)).await,
        Code::InvalidArgument,
    );
}

#[tokio::test]
async fn only_members_subscribe() {
    let core = TestCore::start().await;
    let (_alice, _bob, room) = core.pair().await;
    let carol = core.user("carol").await;
    assert_code(carol.subscribe(room).await, Code::PermissionDenied);
    assert_code(carol.subscribe(room + 10).await, Code::NotFound);
    assert_code(
        core.anonymous(None).subscribe(room).await,
        Code::Unauthenticated,
    );
    let sessions: i64 = core
        .sql()
        .await
        .query_one("SELECT count(*) FROM room_sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        sessions, 0,
        "refused subscriptions leave no presence behind"
    );
}

#[tokio::test]
async fn with_the_recipient_subscribed_a_send_is_created_delivered_and_read() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut alices = alice.subscribe(room).await.unwrap();
    let mut bobs = bob.subscribe(room).await.unwrap();
    assert_eq!(alices.snapshot().await.seq, 0);
    assert_eq!(bobs.snapshot().await.seq, 0);
    let sent = alice.send(room, "hi bob").await.unwrap();
    assert_eq!(sent.message.unwrap().status(), pb::MessageStatus::Read);
    for stream in [&mut alices, &mut bobs] {
        let events = stream.events(3).await;
        let kinds: Vec<&str> = events.iter().map(kind).collect();
        assert_eq!(kinds, ["created", "delivered", "read"]);
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        let statuses: Vec<i32> = events
            .iter()
            .map(|e| match e.kind.as_ref().unwrap() {
                Kind::MessageCreated(m) | Kind::MessageDelivered(m) | Kind::MessageRead(m) => {
                    m.status
                }
                _ => panic!("unexpected event"),
            })
            .collect();
        let expected = [
            pb::MessageStatus::Send,
            pb::MessageStatus::Delivered,
            pb::MessageStatus::Read,
        ];
        assert_eq!(statuses, expected.map(|s| s as i32));
        stream.assert_quiet().await;
    }
}

#[tokio::test]
async fn messages_sent_while_away_become_read_when_the_recipient_subscribes() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut alices = alice.subscribe(room).await.unwrap();
    alices.snapshot().await;
    let first = alice.send(room, "one").await.unwrap().message.unwrap();
    let second = alice.send(room, "two").await.unwrap().message.unwrap();
    assert_eq!(first.status(), pb::MessageStatus::Delivered);
    let kinds: Vec<&str> = alices.events(4).await.iter().map(kind).collect();
    assert_eq!(kinds, ["created", "delivered", "created", "delivered"]);

    let mut bobs = bob.subscribe(room).await.unwrap();
    let snapshot = bobs.snapshot().await;
    assert_eq!(snapshot.seq, 4);
    assert!(
        snapshot
            .messages
            .iter()
            .all(|m| m.status() == pb::MessageStatus::Delivered)
    );
    for stream in [&mut bobs, &mut alices] {
        let events = stream.events(2).await;
        assert_eq!(
            events.iter().map(kind).collect::<Vec<_>>(),
            ["read", "read"]
        );
        assert_eq!(
            events.iter().map(message_id).collect::<Vec<_>>(),
            [first.message_id, second.message_id]
        );
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 6]);
    }
    // Bob's own messages are not marked read by bob subscribing.
    bob.send(room, "reply").await.unwrap();
    let listed = bob.list(room, 0, 0).await.unwrap();
    assert_eq!(
        listed[0].status(),
        pb::MessageStatus::Read,
        "alice is subscribed"
    );
}

#[tokio::test]
async fn edits_and_deletes_reach_subscribers_in_order() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let id = alice.send_id(room, "draft").await;
    let mut bobs = bob.subscribe(room).await.unwrap();
    bobs.snapshot().await;
    assert_eq!(kind(&bobs.event().await), "read");
    alice.edit(id, "final").await.unwrap();
    alice.delete(id).await.unwrap();
    let edited = bobs.event().await;
    match edited.kind.unwrap() {
        Kind::MessageEdited(edit) => {
            assert_eq!(edit.message_id, id);
            assert_eq!(edit.text, "final");
        }
        other => panic!("expected an edit, got {other:?}"),
    }
    let deleted = bobs.event().await;
    assert_eq!(deleted.seq, edited.seq + 1);
    assert!(
        matches!(deleted.kind, Some(Kind::MessageDeleted(pb::MessageDeleted { message_id })) if message_id == id)
    );
}

#[tokio::test]
async fn resuming_after_a_sequence_number_delivers_exactly_the_rest() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    for i in 0..5 {
        alice.send(room, &format!("m{i}")).await.unwrap();
    }
    // 10 events so far; resume after the 4th.
    let mut resumed = bob
        .subscribe_with(request(room, None, Some(4)))
        .await
        .unwrap();
    let snapshot = resumed.snapshot().await;
    assert!(snapshot.resumed);
    assert_eq!(snapshot.seq, 4);
    assert!(snapshot.messages.is_empty());
    // Six logged events, then the five read receipts bob's subscription caused.
    let events = resumed.events(11).await;
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (5..=15).collect::<Vec<_>>()
    );
    assert_eq!(events[10].seq, 15);
    assert!(events[6..].iter().all(|e| kind(e) == "read"));
    resumed.assert_quiet().await;

    // A sequence number the room never reached gets a normal snapshot.
    let mut ahead = bob
        .subscribe_with(request(room, None, Some(999)))
        .await
        .unwrap();
    let snapshot = ahead.snapshot().await;
    assert!(!snapshot.resumed);
    assert_eq!(snapshot.messages.len(), 5);
    assert_code(
        bob.subscribe_with(request(room, None, Some(-1))).await,
        Code::InvalidArgument,
    );
}

#[tokio::test]
async fn a_subscriber_that_falls_far_behind_loses_nothing() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut slow = bob.subscribe(room).await.unwrap();
    slow.snapshot().await;
    // Far more events than the live channel and stream buffers hold.
    for i in 0..200 {
        alice.send(room, &format!("m{i}")).await.unwrap();
    }
    let events = slow.events(600).await;
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=600).collect::<Vec<_>>());
    slow.assert_quiet().await;
}

#[tokio::test]
async fn shutdown_ends_streams_with_unavailable_and_ends_presence() {
    let mut core = TestCore::start().await;
    let (alice, _bob, room) = core.pair().await;
    let mut stream = alice.subscribe(room).await.unwrap();
    stream.snapshot().await;
    stream.presence().await;
    let sql = core.sql().await;
    core.stop().await;
    let status = crate::helpers::within(stream.stream.message())
        .await
        .expect_err("the stream ends with a status");
    assert_eq!(status.code(), Code::Unavailable);
    let row = sql
        .query_one(
            "SELECT (SELECT count(*) FROM room_sessions), last_seen IS NOT NULL FROM users WHERE id = $1",
            &[&alice.id],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, i64>(0),
        0,
        "sessions are closed before the core exits"
    );
    assert!(row.get::<_, bool>(1));
}
