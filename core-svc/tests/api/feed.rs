//! The event feed for internal services (`chat.v1.EventFeed/Follow`).

use std::{collections::HashSet, time::Duration};

use chat_proto::v1::{self as pb, event_feed_client::EventFeedClient};
use core_svc::auth::dev_token;
use tonic::{Code, Request, Status, Streaming};

use crate::helpers::{SECRET, TestCore, assert_code, service_token, within};

async fn follow_as(
    core: &TestCore,
    token: &str,
    request: pb::FollowRequest,
) -> Result<Streaming<pb::FeedItem>, Status> {
    let mut request = Request::new(request);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let mut client = EventFeedClient::new(core.channel.clone());
    Ok(client.follow(request).await?.into_inner())
}

async fn follow(core: &TestCore, request: pb::FollowRequest) -> Streaming<pb::FeedItem> {
    let token = service_token("openid chat:events");
    follow_as(core, &token, request).await.unwrap()
}

fn after(position: &str) -> pb::FollowRequest {
    pb::FollowRequest {
        after: position.into(),
        ..Default::default()
    }
}

/// The next `count` items.
async fn take(stream: &mut Streaming<pb::FeedItem>, count: usize) -> Vec<pb::FeedItem> {
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        items.push(
            within(stream.message())
                .await
                .unwrap()
                .expect("stream open"),
        );
    }
    items
}

async fn assert_quiet(stream: &mut Streaming<pb::FeedItem>) {
    let next = tokio::time::timeout(Duration::from_millis(300), stream.message()).await;
    assert!(next.is_err(), "expected nothing more, got {next:?}");
}

/// (room, seq) of an item; room creation is seq 0.
fn key(item: &pb::FeedItem) -> (i64, i64) {
    match item.item.as_ref().expect("item set") {
        pb::feed_item::Item::Event(event) => (event.room_id, event.seq),
        pb::feed_item::Item::RoomCreated(created) => {
            (created.room.as_ref().expect("room set").room_id, 0)
        }
    }
}

/// The first `count` items of the whole feed.
pub async fn follow_all(core: &TestCore, count: usize) -> Vec<pb::FeedItem> {
    take(&mut follow(core, after("")).await, count).await
}

/// Every (room, seq) the feed must carry, read behind the API.
pub async fn everything(core: &TestCore) -> HashSet<(i64, i64)> {
    let rows = core
        .sql()
        .await
        .query(
            "SELECT id, 0::bigint FROM rooms UNION ALL SELECT room_id, seq FROM room_events",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|row| (row.get(0), row.get(1))).collect()
}

/// No item twice, and each room's items in order from its creation on.
fn assert_in_room_order(items: &[pb::FeedItem]) {
    let mut next = std::collections::HashMap::new();
    for item in items {
        let (room, seq) = key(item);
        let expected = next.entry(room).or_insert(0);
        assert_eq!(seq, *expected, "room {room} out of order");
        *expected += 1;
    }
}

#[tokio::test]
async fn transactions_held_open_while_others_commit_are_neither_skipped_nor_repeated() {
    let core = TestCore::start().await;
    let alice = core.user("alice").await;
    let (bob, carol, dave) = (
        core.user("bob").await,
        core.user("carol").await,
        core.user("dave").await,
    );
    let live = alice.room_with(bob.id).await.unwrap();
    let held_rooms = [
        alice.room_with(carol.id).await.unwrap(),
        alice.room_with(dave.id).await.unwrap(),
    ];
    let mut consumer = follow(&core, after("")).await;
    take(&mut consumer, 3).await;

    // Two transactions append events the way the product does and stay
    // open while later ones commit around them.
    let mut held = Vec::new();
    for (i, room) in held_rooms.into_iter().enumerate() {
        let sql = core.sql().await;
        sql.batch_execute("BEGIN").await.unwrap();
        sql.execute(
            "SELECT * FROM chat_send_message($1, $2, 'held', NULL)",
            &[&room, &alice.id],
        )
        .await
        .unwrap();
        held.push(sql);
        for n in 0..5 {
            alice.send(live, &format!("live {i}.{n}")).await.unwrap();
        }
    }
    let mut seen = Vec::new();
    while let Ok(item) = tokio::time::timeout(Duration::from_millis(300), consumer.message()).await
    {
        seen.push(item.unwrap().expect("stream open"));
    }
    // Younger transactions committed first; the older ones end last, in
    // reverse order, and the consumer kept reading all along.
    for sql in held.into_iter().rev() {
        sql.batch_execute("COMMIT").await.unwrap();
    }
    alice.send(live, "after").await.unwrap();
    let expected = everything(&core).await;
    let missing = expected.len() - 3 - seen.len();
    seen.extend(take(&mut consumer, missing).await);
    assert_quiet(&mut consumer).await;

    let mut all = take(&mut follow(&core, after("")).await, 3).await;
    all.extend(seen);
    let keys: Vec<(i64, i64)> = all.iter().map(key).collect();
    assert_eq!(keys.iter().copied().collect::<HashSet<_>>(), expected);
    assert_eq!(keys.len(), expected.len(), "nothing twice");
    assert_in_room_order(&all);
}

#[tokio::test]
async fn a_consumer_resumes_from_its_position_with_exactly_the_rest_on_any_instance() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let first = alice.send(room, "one").await.unwrap();
    alice.send(room, "two").await.unwrap();
    alice
        .edit(first.message.unwrap().message_id, "one, edited")
        .await
        .unwrap();
    let mut reading = bob.subscribe(room).await.unwrap();
    reading.snapshot().await;
    let last = alice.send(room, "three").await.unwrap();
    alice
        .delete(last.message.unwrap().message_id)
        .await
        .unwrap();
    let total = everything(&core).await.len();

    let whole = take(&mut follow(&core, after("")).await, total).await;
    let kinds: HashSet<&str> = whole
        .iter()
        .filter_map(|item| match item.item.as_ref()? {
            pb::feed_item::Item::Event(event) => Some(crate::helpers::kind(event)),
            pb::feed_item::Item::RoomCreated(_) => Some("room_created"),
        })
        .collect();
    let every_kind = [
        "room_created",
        "created",
        "delivered",
        "read",
        "edited",
        "deleted",
    ];
    assert_eq!(kinds, every_kind.into_iter().collect());
    assert_in_room_order(&whole);

    let other = core.join(|_| {}).await;
    for cut in [1, total / 2, total - 1] {
        let mut resumed = follow(&other, after(&whole[cut - 1].position)).await;
        let rest = take(&mut resumed, total - cut).await;
        assert_eq!(rest, whole[cut..].to_vec());
        assert_quiet(&mut resumed).await;
    }
}

#[tokio::test]
async fn from_end_skips_the_past_and_carries_what_comes_next() {
    let core = TestCore::start().await;
    let (alice, _bob, room) = core.pair().await;
    alice.send(room, "old").await.unwrap();
    let request = pb::FollowRequest {
        from_end: true,
        ..Default::default()
    };
    let mut consumer = follow(&core, request).await;
    let sent = alice.send(room, "new").await.unwrap();
    // The start is the horizon of the whole PostgreSQL cluster: a
    // transaction of another test's database may hold it before "old"
    // (or the room's creation); without one, only "new" comes.
    let mut items = take(&mut consumer, 2).await;
    while key(&items[items.len() - 2]) != (room, sent.seq) {
        items.extend(take(&mut consumer, 1).await);
    }
    assert_in_room_order_from(&items, key(&items[0]).1);
    assert_eq!(key(&items[items.len() - 1]), (room, sent.seq + 1));
    assert_quiet(&mut consumer).await;
}

/// Items of one room with consecutive seqs from `first`.
fn assert_in_room_order_from(items: &[pb::FeedItem], first: i64) {
    let seqs: Vec<i64> = items.iter().map(|item| key(item).1).collect();
    let expected: Vec<i64> = (first..first + items.len() as i64).collect();
    assert_eq!(seqs, expected);
}

#[tokio::test]
async fn only_tokens_with_the_events_scope_may_follow_and_none_becomes_a_user() {
    let core = TestCore::start().await;
    let (alice, _bob, _room) = core.pair().await;
    assert!(alice.id > 0);
    let user_token = dev_token(
        SECRET,
        "alice",
        "alice@example.com",
        Duration::from_secs(600),
    );
    let refused = follow_as(&core, &user_token, after("")).await;
    assert_code(refused, Code::PermissionDenied);
    let unscoped = follow_as(&core, &service_token("openid chat:eventsx"), after("")).await;
    assert_code(unscoped, Code::PermissionDenied);
    let garbage = follow_as(&core, "not-a-jwt", after("")).await;
    assert_code(garbage, Code::Unauthenticated);
    let bad_position = follow_as(&core, &service_token("chat:events"), after("v9.1")).await;
    assert_code(bad_position, Code::InvalidArgument);

    let mut consumer = follow(&core, after("")).await;
    take(&mut consumer, 1).await;
    let users: i64 = core
        .sql()
        .await
        .query_one("SELECT count(*) FROM users WHERE sub = 'indexer'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(users, 0, "a service token creates no user");
}

#[tokio::test]
async fn partitions_split_the_feed_disjointly_and_completely() {
    let core = TestCore::start().await;
    let alice = core.user("alice").await;
    for i in 0..7 {
        let other = core.user(&format!("peer-{i}")).await;
        let room = alice.room_with(other.id).await.unwrap();
        alice.send(room, "hello").await.unwrap();
    }
    let expected = everything(&core).await;
    let mut union = Vec::new();
    for partition in 0..3u32 {
        let request = pb::FollowRequest {
            partitions: 3,
            partition,
            ..Default::default()
        };
        let mut stream = follow(&core, request).await;
        let share = expected
            .iter()
            .filter(|(room, _)| room % 3 == i64::from(partition))
            .count();
        let items = take(&mut stream, share).await;
        assert_quiet(&mut stream).await;
        assert!(items.iter().all(|i| key(i).0 % 3 == i64::from(partition)));
        assert_in_room_order(&items);
        union.extend(items.iter().map(key));
    }
    assert_eq!(union.len(), expected.len(), "disjoint");
    assert_eq!(union.into_iter().collect::<HashSet<_>>(), expected);
}

#[tokio::test]
async fn a_stopping_core_ends_feed_streams_with_unavailable() {
    let mut core = TestCore::start().await;
    let (_alice, _bob, _room) = core.pair().await;
    let mut consumer = follow(&core, after("")).await;
    take(&mut consumer, 1).await;
    let stopping = tokio::spawn(async move { core.stop().await });
    let ended = within(async {
        loop {
            match consumer.message().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await;
    assert_eq!(ended.unwrap_err().code(), Code::Unavailable);
    within(stopping).await.unwrap();
}
