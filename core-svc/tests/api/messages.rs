//! Sending, editing, deleting and paging messages over gRPC: trimming, the
//! refusals that change nothing, idempotent resends, and who may change what.

use chat_proto::v1 as pb;
use tonic::Code;

use crate::helpers::{TestCore, assert_code, last_seq};

#[tokio::test]
async fn a_sent_message_is_trimmed_stored_and_delivered() {
    let core = TestCore::start().await;
    let (alice, _bob, room) = core.pair().await;
    let sent = alice.send(room, "  hello bob \n").await.unwrap();
    let message = sent.message.unwrap();
    assert_eq!(message.text, "hello bob");
    assert_eq!(message.sender_id, alice.id);
    assert_eq!(message.sender_email, "alice@example.com");
    assert_eq!(message.status(), pb::MessageStatus::Delivered);
    assert_eq!(message.created_at, message.updated_at);
    assert!(!sent.duplicate);
    assert_eq!(sent.seq, 1);
    assert_eq!(
        last_seq(&core, room).await,
        2,
        "created and delivered events"
    );
}

#[tokio::test]
async fn invalid_sends_are_refused_and_change_nothing() {
    let core = TestCore::start().await;
    let (alice, _bob, room) = core.pair().await;
    let carol = core.user("carol").await;
    assert_code(alice.send(room, "").await, Code::InvalidArgument);
    assert_code(alice.send(room, " \n\t ").await, Code::InvalidArgument);
    assert_code(
        alice.send(room, &"x".repeat(4097)).await,
        Code::InvalidArgument,
    );
    assert_code(alice.send(0, "hi").await, Code::InvalidArgument);
    assert_code(alice.send(room + 100, "hi").await, Code::NotFound);
    assert_code(carol.send(room, "hi").await, Code::PermissionDenied);
    assert_code(
        alice.send_keyed(room, "hi", &"k".repeat(65)).await,
        Code::InvalidArgument,
    );
    assert_eq!(last_seq(&core, room).await, 0);
    assert!(alice.list(room, 0, 0).await.unwrap().is_empty());
    // The longest allowed text is accepted.
    alice.send(room, &"é".repeat(4096)).await.unwrap();
}

#[tokio::test]
async fn an_idempotent_resend_returns_the_original_and_stores_nothing_new() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let first = alice.send_keyed(room, "once", "key-1").await.unwrap();
    let seq = last_seq(&core, room).await;
    let again = alice
        .send_keyed(room, "once (retry)", "key-1")
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.message, first.message);
    assert_eq!(again.seq, first.seq);
    assert_eq!(last_seq(&core, room).await, seq, "no new events");
    assert_eq!(alice.list(room, 0, 0).await.unwrap().len(), 1);
    // Keys belong to their sender: bob may use the same one.
    let bobs = bob.send_keyed(room, "mine", "key-1").await.unwrap();
    assert!(!bobs.duplicate);
}

#[tokio::test]
async fn the_sender_edits_and_the_room_sees_it() {
    let core = TestCore::start().await;
    let (alice, _bob, room) = core.pair().await;
    let sent = alice.send(room, "draft").await.unwrap().message.unwrap();
    let edited = alice.edit(sent.message_id, "  final ").await.unwrap();
    assert_eq!(edited.text, "final");
    assert_ne!(edited.updated_at, sent.updated_at);
    assert_eq!(edited.created_at, sent.created_at);
    assert_eq!(edited.status, sent.status, "edits keep the status");
    let listed = alice.list(room, 0, 0).await.unwrap();
    assert_eq!(listed[0].text, "final");
    assert_eq!(last_seq(&core, room).await, 3);
}

#[tokio::test]
async fn only_the_sender_may_edit_or_delete() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let carol = core.user("carol").await;
    let id = alice.send_id(room, "mine").await;
    let seq = last_seq(&core, room).await;
    assert_code(bob.edit(id, "hijacked").await, Code::PermissionDenied);
    assert_code(bob.delete(id).await, Code::PermissionDenied);
    // Outside the room the message does not exist.
    assert_code(carol.edit(id, "hijacked").await, Code::NotFound);
    assert_code(carol.delete(id).await, Code::NotFound);
    assert_code(alice.edit(id + 1000, "nope").await, Code::NotFound);
    assert_code(alice.delete(id + 1000).await, Code::NotFound);
    assert_code(alice.edit(id, "").await, Code::InvalidArgument);
    assert_code(
        alice.edit(id, &"y".repeat(4097)).await,
        Code::InvalidArgument,
    );
    assert_eq!(last_seq(&core, room).await, seq);
    assert_eq!(alice.list(room, 0, 0).await.unwrap()[0].text, "mine");
}

#[tokio::test]
async fn deleting_erases_the_text_from_storage() {
    let core = TestCore::start().await;
    let (alice, _bob, room) = core.pair().await;
    let id = alice.send_id(room, "secret").await;
    alice.delete(id).await.unwrap();
    let row = core
        .sql()
        .await
        .query_one(
            "SELECT text, deleted_at IS NOT NULL FROM messages WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0), None);
    assert!(row.get::<_, bool>(1));
    assert!(alice.list(room, 0, 0).await.unwrap().is_empty());
    // A deleted message is gone for edits and deletes alike.
    assert_code(alice.edit(id, "back").await, Code::NotFound);
    assert_code(alice.delete(id).await, Code::NotFound);
}

#[tokio::test]
async fn history_pages_newest_first_before_an_id() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let carol = core.user("carol").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let sender = if i % 2 == 0 { &alice } else { &bob };
        ids.push(sender.send_id(room, &format!("m{i}")).await);
    }
    alice.delete(ids[6]).await.unwrap();
    let newest = alice.list(room, 0, 3).await.unwrap();
    let got: Vec<i64> = newest.iter().map(|m| m.message_id).collect();
    assert_eq!(
        got,
        vec![ids[5], ids[4], ids[3]],
        "newest first, deleted left out"
    );
    let older = alice.list(room, ids[3], 100).await.unwrap();
    let got: Vec<i64> = older.iter().map(|m| m.message_id).collect();
    assert_eq!(got, vec![ids[2], ids[1], ids[0]]);
    assert_code(alice.list(room, 0, 101).await, Code::InvalidArgument);
    assert_code(alice.list(room, -1, 10).await, Code::InvalidArgument);
    assert_code(carol.list(room, 0, 10).await, Code::PermissionDenied);
    assert_code(alice.list(room + 50, 0, 10).await, Code::NotFound);
}
