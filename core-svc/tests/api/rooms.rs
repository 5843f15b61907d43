//! Direct rooms: one room per pair whatever the order or concurrency, and the
//! codes for bad room requests.

use chat_proto::v1 as pb;
use tonic::Code;

use crate::helpers::{TestCore, assert_code};

#[tokio::test]
async fn the_same_room_serves_both_orders_of_the_pair() {
    let core = TestCore::start().await;
    let alice = core.user("alice").await;
    let bob = core.user("bob").await;
    let room = alice.room_with(bob.id).await.unwrap();
    assert_eq!(bob.room_with(alice.id).await.unwrap(), room);
    let request = alice.req(pb::GetOrCreateDirectRoomRequest {
        user_id_1: bob.id,
        user_id_2: alice.id,
    });
    let reply = alice
        .rooms
        .clone()
        .get_or_create_direct_room(request)
        .await
        .unwrap();
    let reply = reply.into_inner();
    assert_eq!(reply.room_id, room);
    let mut members = reply.member_ids;
    members.sort();
    assert_eq!(members, vec![alice.id, bob.id]);
}

#[tokio::test]
async fn concurrent_get_or_create_calls_in_both_orders_make_one_room() {
    let core = TestCore::start().await;
    let alice = core.user("alice").await;
    let bob = core.user("bob").await;
    let calls = (0..20).map(|i| {
        let (caller, other) = if i % 2 == 0 {
            (&alice, bob.id)
        } else {
            (&bob, alice.id)
        };
        let caller = caller.clone();
        async move { caller.room_with(other).await }
    });
    let rooms: Vec<i64> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(rooms.iter().all(|&room| room == rooms[0]), "{rooms:?}");
    let sql = core.sql().await;
    let count: i64 = sql
        .query_one("SELECT count(*) FROM rooms", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
    let members: i64 = sql
        .query_one("SELECT count(*) FROM room_members", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(members, 2);
}

#[tokio::test]
async fn bad_room_requests_get_the_documented_codes_and_create_nothing() {
    let core = TestCore::start().await;
    let alice = core.user("alice").await;
    let bob = core.user("bob").await;
    let carol = core.user("carol").await;
    let ask = |a: i64, b: i64| {
        let alice = alice.clone();
        async move {
            let request = alice.req(pb::GetOrCreateDirectRoomRequest {
                user_id_1: a,
                user_id_2: b,
            });
            alice.rooms.clone().get_or_create_direct_room(request).await
        }
    };
    assert_code(ask(alice.id, alice.id).await, Code::InvalidArgument);
    assert_code(ask(0, bob.id).await, Code::InvalidArgument);
    assert_code(ask(alice.id, -3).await, Code::InvalidArgument);
    assert_code(ask(bob.id, carol.id).await, Code::PermissionDenied);
    assert_code(ask(alice.id, 9_999).await, Code::NotFound);
    let count: i64 = core
        .sql()
        .await
        .query_one("SELECT count(*) FROM rooms", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0);
}
