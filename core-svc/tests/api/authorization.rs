//! Authorization on every gRPC operation: each is tried as a non-member, as
//! the other member, with another room's message id, and with identity
//! smuggled in request metadata. Only the documented code comes back, the
//! message leaks nothing, and the database does not change.

use chat_proto::v1 as pb;
use tonic::{Code, Status};

use crate::helpers::{Client, TestCore, assert_code};

/// Two rooms with a message each: alice–bob (`ab`) and carol–dave (`cd`).
struct World {
    alice: Client,
    bob: Client,
    carol: Client,
    dave: Client,
    ab: i64,
    cd: i64,
    ab_msg: i64,
    cd_msg: i64,
}

async fn world(core: &TestCore) -> World {
    let (alice, bob, ab) = core.pair().await;
    let carol = core.user("carol").await;
    let dave = core.user("dave").await;
    let cd = carol.room_with(dave.id).await.unwrap();
    let ab_msg = alice.send_id(ab, "alice to bob").await;
    let cd_msg = carol.send_id(cd, "carol to dave").await;
    World {
        ab_msg,
        cd_msg,
        alice,
        bob,
        carol,
        dave,
        ab,
        cd,
    }
}

/// Everything a refused call could have changed, as one comparable text.
async fn fingerprint(core: &TestCore) -> String {
    let sql = core.sql().await;
    let row = sql
        .query_one(
            "SELECT
               (SELECT string_agg(concat_ws('|', id, room_id, sender_id, seq, text, status,
                                            updated_at), ',' ORDER BY id) FROM messages),
               (SELECT string_agg(concat_ws('|', id, user_lo, user_hi, last_seq), ','
                                  ORDER BY id) FROM rooms),
               (SELECT count(*) FROM room_members)::text,
               (SELECT count(*) FROM room_events)::text,
               (SELECT count(*) FROM users)::text",
            &[],
        )
        .await
        .unwrap();
    (0..5)
        .map(|i| row.get::<_, Option<String>>(i).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A refusal's text must not carry another user's data or internals.
fn assert_no_leak(status: &Status) {
    let text = format!("{} {:?}", status.message(), status.metadata()).to_lowercase();
    for secret in [
        "carol to dave",
        "alice to bob",
        "@example.com",
        "select",
        "postgres",
        "sql",
        "constraint",
        ".rs:",
    ] {
        assert!(!text.contains(secret), "{secret:?} leaked in {status:?}");
    }
}

/// Every operation with its inputs, run as `who`, so a table can name them.
enum Op {
    Room(i64, i64),
    Send(i64),
    Edit(i64),
    Delete(i64),
    List(i64),
    Subscribe(i64),
}

async fn attempt(who: &Client, op: &Op) -> Result<(), Status> {
    match *op {
        Op::Room(a, b) => {
            let request = who.req(pb::GetOrCreateDirectRoomRequest {
                user_id_1: a,
                user_id_2: b,
            });
            who.rooms.clone().get_or_create_direct_room(request).await?;
        }
        Op::Send(room) => {
            who.send(room, "smuggled").await?;
        }
        Op::Edit(message) => {
            who.edit(message, "hijacked").await?;
        }
        Op::Delete(message) => who.delete(message).await?,
        Op::List(room) => {
            who.list(room, 0, 50).await?;
        }
        Op::Subscribe(room) => {
            who.subscribe(room).await?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn every_operation_refuses_outsiders_and_the_other_member() {
    let core = TestCore::start().await;
    let w = world(&core).await;
    let before = fingerprint(&core).await;
    let cases = [
        (
            "room of two others",
            &w.alice,
            Op::Room(w.carol.id, w.dave.id),
            Code::PermissionDenied,
        ),
        (
            "room of another and a stranger",
            &w.alice,
            Op::Room(w.bob.id, w.carol.id),
            Code::PermissionDenied,
        ),
        (
            "send to a room not in",
            &w.alice,
            Op::Send(w.cd),
            Code::PermissionDenied,
        ),
        (
            "send to no room",
            &w.alice,
            Op::Send(w.cd + 100),
            Code::NotFound,
        ),
        (
            "list a room not in",
            &w.alice,
            Op::List(w.cd),
            Code::PermissionDenied,
        ),
        (
            "subscribe to a room not in",
            &w.alice,
            Op::Subscribe(w.cd),
            Code::PermissionDenied,
        ),
        (
            "subscribe to no room",
            &w.alice,
            Op::Subscribe(w.cd + 100),
            Code::NotFound,
        ),
        (
            "edit another room's message",
            &w.alice,
            Op::Edit(w.cd_msg),
            Code::NotFound,
        ),
        (
            "delete another room's message",
            &w.alice,
            Op::Delete(w.cd_msg),
            Code::NotFound,
        ),
        (
            "edit the other member's message",
            &w.bob,
            Op::Edit(w.ab_msg),
            Code::PermissionDenied,
        ),
        (
            "delete the other member's message",
            &w.bob,
            Op::Delete(w.ab_msg),
            Code::PermissionDenied,
        ),
        (
            "edit no message",
            &w.alice,
            Op::Edit(w.cd_msg + 100),
            Code::NotFound,
        ),
        (
            "list no room",
            &w.dave,
            Op::List(w.ab + 100),
            Code::NotFound,
        ),
    ];
    for (name, who, op, code) in &cases {
        let status = attempt(who, op).await.expect_err(name);
        assert_eq!(status.code(), *code, "{name}: {status:?}");
        assert_no_leak(&status);
    }
    assert_eq!(
        fingerprint(&core).await,
        before,
        "a refused call changed data"
    );
}

#[tokio::test]
async fn identity_smuggled_in_metadata_is_ignored() {
    let core = TestCore::start().await;
    let w = world(&core).await;
    let carol_id = w.carol.id.to_string();
    let smuggled = [
        ("x-user-id", carol_id.as_str()),
        ("user_id", carol_id.as_str()),
        ("sender_id", carol_id.as_str()),
        ("x-forwarded-user", "carol"),
        ("x-sub", "carol"),
    ];
    for (key, value) in smuggled {
        let metadata = |mut request: tonic::Request<pb::SendMessageRequest>| {
            request.metadata_mut().insert(key, value.parse().unwrap());
            request
        };
        // Into carol's room as alice: still refused.
        let request = metadata(w.alice.req(pb::SendMessageRequest {
            room_id: w.cd,
            text: "as carol?".into(),
            client_msg_id: String::new(),
        }));
        let refused = w.alice.messages.clone().send_message(request).await;
        assert_code(refused, Code::PermissionDenied);
        // Into alice's own room: stored as alice's, whatever the header says.
        let request = metadata(w.alice.req(pb::SendMessageRequest {
            room_id: w.ab,
            text: "mine".into(),
            client_msg_id: String::new(),
        }));
        let sent = w
            .alice
            .messages
            .clone()
            .send_message(request)
            .await
            .unwrap();
        assert_eq!(sent.into_inner().message.unwrap().sender_id, w.alice.id);
        let who = w.alice.req(pb::WhoAmIRequest {});
        let mut who = who;
        who.metadata_mut().insert(key, value.parse().unwrap());
        let me = w.alice.users.clone().who_am_i(who).await.unwrap();
        assert_eq!(me.into_inner().id, w.alice.id);
    }
}

#[tokio::test]
async fn events_and_receipts_reach_members_only() {
    let core = TestCore::start().await;
    let w = world(&core).await;
    let mut outsider = w.carol.subscribe(w.cd).await.unwrap();
    outsider.snapshot().await;
    let mut member = w.bob.subscribe(w.ab).await.unwrap();
    member.snapshot().await;
    // Bob's subscription read alice's message: that receipt stays in ab.
    let id = w.alice.send_id(w.ab, "private").await;
    w.alice.edit(id, "private, edited").await.unwrap();
    w.alice.delete(id).await.unwrap();
    let events = member.events(6).await;
    assert!(
        events
            .iter()
            .all(|e| crate::helpers::message_id(e) != w.cd_msg)
    );
    outsider.assert_quiet().await;
    // A refused subscription marked nothing read in the other room.
    let unread: i64 = core
        .sql()
        .await
        .query_one(
            "SELECT count(*) FROM messages WHERE room_id = $1 AND status = 'read'",
            &[&w.cd],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unread, 0);
    let _ = &w.dave;
}

#[tokio::test]
async fn every_rpc_refuses_a_call_without_a_token() {
    let core = TestCore::start().await;
    let w = world(&core).await;
    let before = fingerprint(&core).await;
    let anonymous = core.anonymous(None);
    let ops = [
        Op::Room(w.alice.id, w.bob.id),
        Op::Send(w.ab),
        Op::Edit(w.ab_msg),
        Op::Delete(w.ab_msg),
        Op::List(w.ab),
        Op::Subscribe(w.ab),
    ];
    for op in &ops {
        let status = attempt(&anonymous, op).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_no_leak(&status);
    }
    assert_code(anonymous.who_am_i().await, Code::Unauthenticated);
    assert_eq!(fingerprint(&core).await, before);
}
