//! The user streams' fast lane: an event committed on a stream's own core
//! reaches it while an older transaction still holds the event feed back,
//! with the right unread count and a cursor that records it; the feed's
//! copy is not sent again, a resume elsewhere from that cursor replays
//! exactly the rest, and bursts that mix both lanes stay gapless.

use std::{collections::BTreeMap, time::Duration};

use chat_proto::v1::inbox_item::Item;
use futures::future::join_all;

use crate::helpers::{Client, RoomLog, TestCore, heads, kind, listed_unread, metric};

/// An open transaction with a transaction id: every later one stays above
/// the feed's horizon until it ends.
struct Blocker(tokio_postgres::Client);

impl Blocker {
    async fn hold(core: &TestCore) -> Self {
        let sql = core.sql().await;
        sql.batch_execute("BEGIN; SELECT txid_current();")
            .await
            .unwrap();
        Self(sql)
    }

    async fn release(self) {
        self.0.batch_execute("COMMIT").await.unwrap();
    }
}

const FAST: &str = "chat_user_stream_fast_events_total";

#[tokio::test]
async fn a_message_sent_on_the_streams_core_overtakes_a_held_back_feed_once() {
    let a = TestCore::start().await;
    let b = a.join(|_| {}).await;
    let (alice, bob, room) = a.pair().await;
    let mut stream = alice.user_stream("").await.unwrap();
    let inbox = stream.inbox().await;
    // The snapshot may hold the new room at seq 0 above its horizon.
    let position = inbox.cursor.split(&format!(".{room}-")).next().unwrap();

    let blocker = Blocker::hold(&a).await;
    bob.send_id(room, "ahead of the feed").await;
    let created = stream.event().await;
    let delivered = stream.event().await;
    let seen: Vec<_> = [&created, &delivered]
        .iter()
        .map(|e| {
            let event = e.event.as_ref().unwrap();
            (kind(event), event.seq, e.unread_count)
        })
        .collect();
    assert_eq!(seen, [("created", 1, 1), ("delivered", 2, 1)]);
    assert_eq!(
        delivered.cursor,
        format!("{position}.{room}-2"),
        "the feed's position, and the room held up to seq 2"
    );
    let fast_cursor = delivered.cursor.clone();
    assert_eq!(metric::<usize>(&a, FAST).await, 2);

    blocker.release().await;
    // Through the other core, so on the feed: behind the feed's copies of
    // seq 1 and 2, which `take` would refuse as repeats.
    let bob_on_b = b.same_user(&bob);
    bob_on_b.send_id(room, "after the feed caught up").await;
    let mut log = RoomLog::from_inbox(&inbox);
    log.take(&created);
    log.take(&delivered);
    log.follow(&mut stream, &heads(&a, &[room]).await).await;
    assert_eq!((log.events, log.rooms[&room]), (4, (4, 2)));
    assert!(
        !log.cursor.contains('-'),
        "the feed passed the room's fast events: {}",
        log.cursor
    );
    let rest = stream.drain(Duration::from_millis(300)).await;
    assert!(
        rest.iter().all(|item| matches!(item, Item::Presence(_))),
        "no event twice: {rest:?}"
    );

    let alice_on_b = b.same_user(&alice);
    let mut resumed = alice_on_b.user_stream(&fast_cursor).await.unwrap();
    assert_eq!(resumed.resumed().await.cursor, fast_cursor);
    let mut again = RoomLog::default();
    again.rooms.insert(room, (2, 1));
    again.follow(&mut resumed, &heads(&a, &[room]).await).await;
    assert_eq!(
        (again.events, again.rooms[&room]),
        (2, (4, 2)),
        "exactly the two events after the fast ones"
    );
    let rest = resumed.drain(Duration::from_millis(300)).await;
    assert!(
        rest.iter().all(|item| matches!(item, Item::Presence(_))),
        "nothing more: {rest:?}"
    );
    assert_eq!(
        metric::<usize>(&a, FAST).await,
        2,
        "the rest came through the feed"
    );
}

/// One round of the burst: every peer and alice send into their room, on
/// core `a` (the fast lane) or `b` (the feed); some rooms are read.
async fn burst(round: usize, alice: [&Client; 2], peers: &[[Client; 2]], rooms: &[i64]) {
    let sends = peers
        .iter()
        .zip(rooms)
        .enumerate()
        .map(|(i, (peer, room))| async move {
            let core = (round + i) % 2;
            let sent = peer[core].send_id(*room, &format!("p{round}.{i}")).await;
            alice[1 - core]
                .send_id(*room, &format!("a{round}.{i}"))
                .await;
            if (round + i).is_multiple_of(3) {
                alice[core].mark_read(*room, Some(sent)).await.unwrap();
            }
        });
    join_all(sends).await;
}

#[tokio::test]
async fn bursts_into_many_rooms_on_both_lanes_stay_gapless_with_the_listed_unread_counts() {
    let a = TestCore::start().await;
    let b = a.join(|_| {}).await;
    let alice = a.user("alice").await;
    let alice_on_b = b.same_user(&alice);
    let mut peers = Vec::new();
    let mut rooms = Vec::new();
    for i in 0..6 {
        let peer = a.user(&format!("peer{i}")).await;
        rooms.push(alice.room_with(peer.id).await.unwrap());
        let on_b = b.same_user(&peer);
        peers.push([peer, on_b]);
    }
    let mut stream = alice.user_stream("").await.unwrap();
    let mut log = RoomLog::from_inbox(&stream.inbox().await);
    let alices = [&alice, &alice_on_b];

    for round in 0..4 {
        let blocker = match round % 2 {
            0 => Some(Blocker::hold(&a).await),
            _ => None,
        };
        burst(round, alices, &peers, &rooms).await;
        if let Some(blocker) = blocker {
            blocker.release().await;
        }
    }
    log.follow(&mut stream, &heads(&a, &rooms).await).await;
    let unread: BTreeMap<i64, i64> = log.rooms.iter().map(|(r, (_, u))| (*r, *u)).collect();
    assert_eq!(unread, listed_unread(&alice).await);
    let expected: usize = heads(&a, &rooms).await.values().sum::<i64>() as usize;
    assert_eq!(log.events, expected, "every event once");
    let fast = metric::<usize>(&a, FAST).await;
    assert!(
        fast > 0 && fast < expected,
        "both lanes carried events: {fast} of {expected} on the fast one"
    );
    let rest = stream.drain(Duration::from_millis(300)).await;
    assert!(
        rest.iter()
            .all(|item| matches!(item, Item::Presence(_) | Item::Typing(_))),
        "no event twice: {rest:?}"
    );
}
