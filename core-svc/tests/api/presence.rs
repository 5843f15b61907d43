//! Presence and typing on `Subscribe` streams and edge links, across two
//! instances: the peer's presence right after the snapshot, a change when
//! they go online or offline (also when the instance holding them dies),
//! none for a second stream, and throttled `typing` for the other member
//! only.

use std::time::Duration;

use chat_proto::v1 as pb;
use tokio::time::Instant;
use tonic::Code;

use crate::core_process::CoreProcess;
use crate::helpers::{Link, SECRET, Subscription, TestCore, assert_code, socket, within};

/// Alice's stream past its snapshot and the presence after it.
async fn opened(stream: &mut Subscription) -> pb::Presence {
    assert!(matches!(
        stream.any_item().await,
        pb::subscribe_response::Item::Snapshot(_)
    ));
    match stream.any_item().await {
        pb::subscribe_response::Item::Presence(presence) => presence,
        other => panic!("expected the peer's presence right after the snapshot, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stream_follows_the_peers_presence_from_the_snapshot_on_across_instances() {
    let a = TestCore::start().await;
    let b = a.join(|_| {}).await;
    let (alice, bob_on_a, room) = a.pair().await;
    let bob = b.same_user(&bob_on_a);
    let mut stream = alice.subscribe(room).await.unwrap();
    let first = opened(&mut stream).await;
    assert_eq!((first.user_id, first.is_online), (bob.id, false));
    assert_eq!(first.last_seen, None, "bob never connected");

    let mut bobs = bob.subscribe(room).await.unwrap();
    let online = stream.presence().await;
    assert!(online.is_online && online.version > first.version);
    let mut second = bob.subscribe(room).await.unwrap();
    second.snapshot().await;
    stream.assert_silent(Duration::from_millis(700)).await;

    drop(second);
    drop(bobs.stream);
    let offline = stream.presence().await;
    assert!(!offline.is_online, "{offline:?}");
    let me = bob.who_am_i().await.unwrap();
    assert_eq!(
        (me.is_online, me.last_seen),
        (false, offline.last_seen),
        "the last presence is the profile"
    );
    bobs = bob.subscribe(room).await.unwrap();
    bobs.snapshot().await;
    assert!(stream.presence().await.is_online);
}

#[tokio::test]
async fn typing_reaches_the_other_member_once_per_two_seconds_across_instances() {
    let a = TestCore::start().await;
    let b = a.join(|_| {}).await;
    let (alice, bob_on_a, room) = a.pair().await;
    let bob = b.same_user(&bob_on_a);
    let mut alices = alice.subscribe(room).await.unwrap();
    opened(&mut alices).await;
    let mut bobs = bob.subscribe(room).await.unwrap();
    opened(&mut bobs).await;
    alices.presence().await;

    assert!(alice.typing(room).await.unwrap(), "the first is forwarded");
    let typing = bobs.typing().await;
    assert_eq!((typing.room_id, typing.user_id), (room, alice.id));
    let alice_on_b = b.same_user(&alice);
    assert!(
        !alice_on_b.typing(room).await.unwrap(),
        "throttled on b too"
    );
    assert!(!alice.typing(room).await.unwrap());
    alices.assert_silent(Duration::from_millis(500)).await;
    bobs.assert_silent(Duration::from_millis(500)).await;

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(alice_on_b.typing(room).await.unwrap(), "a new interval");
    assert_eq!(bobs.typing().await.user_id, alice.id);
    assert!(bob.typing(room).await.unwrap(), "each user has their own");
    assert_eq!(alices.typing().await.user_id, bob.id);

    let carol = a.user("carol").await;
    assert_code(carol.typing(room).await, Code::PermissionDenied);
    assert_code(alice.typing(room + 1000).await, Code::NotFound);
    assert_code(alice.typing(0).await, Code::InvalidArgument);
    // Typing counts for nothing stored: the room's log is untouched.
    assert_eq!(crate::helpers::last_seq(&a, room).await, 0);
}

/// The presence and typing items a link receives within `quiet`.
async fn signals(link: &mut Link, quiet: Duration) -> Vec<pb::link_down::Item> {
    let deadline = Instant::now() + quiet;
    let mut items = Vec::new();
    while let Ok(next) = tokio::time::timeout_at(deadline, link.down.message()).await {
        match next.expect("link still up").and_then(|down| down.item) {
            Some(item @ (pb::link_down::Item::Presence(_) | pb::link_down::Item::Typing(_))) => {
                items.push(item)
            }
            other => panic!("expected only signals, got {other:?}"),
        }
    }
    items
}

/// The users whose presence the items carry, in order.
fn presence_of(items: &[pb::link_down::Item], room: i64) -> Vec<(i64, bool)> {
    items
        .iter()
        .filter_map(|item| match item {
            pb::link_down::Item::Presence(change) => {
                assert_eq!(change.room_id, room);
                let presence = change.presence.expect("set");
                Some((presence.user_id, presence.is_online))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_link_carries_the_peers_presence_in_each_answer_and_each_change_once() {
    let a = TestCore::start().await;
    let b = a.join(|_| {}).await;
    let (alice, bob_on_a, room) = a.pair().await;
    let bob = b.same_user(&bob_on_a);
    let mut link = Link::connect(&a, &uuid::Uuid::new_v4().to_string()).await;
    for id in [1, 2] {
        link.open(socket(&alice, id, room)).await;
        let answer = link.opened().await;
        let peer = answer.peer.expect("the peer's presence");
        assert_eq!((peer.user_id, peer.is_online), (bob.id, false));
    }
    let quiet = Duration::from_millis(700);
    // Alice's own change may come too (the edge keeps it from her sockets).
    signals(&mut link, quiet).await;

    let mut bobs = bob.subscribe(room).await.unwrap();
    bobs.snapshot().await;
    let mut second = bob.subscribe(room).await.unwrap();
    second.snapshot().await;
    let changes = presence_of(&signals(&mut link, quiet).await, room);
    assert_eq!(
        changes,
        [(bob.id, true)],
        "once per room, not per socket or stream"
    );

    link.typing(1, room).await;
    let typing = bobs.typing().await;
    assert_eq!((typing.room_id, typing.user_id), (room, alice.id));
    link.typing(2, room).await;
    link.typing(1, room + 1).await;
    link.typing(99, room).await;
    bobs.assert_silent(quiet).await;
    let items = signals(&mut link, quiet).await;
    assert!(
        matches!(&items[..], [pb::link_down::Item::Typing(own)] if own.user_id == alice.id),
        "the room's one typing, which the edge keeps from alice's sockets: {items:?}"
    );
}

#[tokio::test]
async fn the_peer_goes_offline_within_thirty_seconds_when_its_instance_dies() {
    let first = TestCore::start().await;
    // The surviving instance reaps; it needs the short time-to-live too.
    let a = first.join(|config| config.instance_ttl_secs = 2).await;
    let (alice, bob_on_a, room) = a.pair().await;
    let mut doomed = CoreProcess::spawn(&a.url, SECRET).await;
    let doomed_core = TestCore::remote(&doomed.addr).await;
    let bob = doomed_core.same_user(&bob_on_a);
    let mut stream = alice.subscribe(room).await.unwrap();
    opened(&mut stream).await;
    let mut link = Link::connect(&doomed_core, &uuid::Uuid::new_v4().to_string()).await;
    link.open(socket(&bob, 1, room)).await;
    link.opened().await;
    assert!(stream.presence().await.is_online);

    doomed.kill().await;
    let killed_at = Instant::now();
    let offline = within(stream.presence()).await;
    assert!(killed_at.elapsed() < Duration::from_secs(30));
    assert!(!offline.is_online && offline.last_seen.is_some());
    assert_eq!(
        bob_on_a.who_am_i().await.unwrap().last_seen,
        offline.last_seen
    );
}
