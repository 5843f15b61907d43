//! User streams (`InboxService.Stream`), across two instances: the inbox,
//! then every room's events in order with unread counts that end equal to
//! the room list, rooms created later, resume from a cursor on the other
//! instance, presence and typing of peers, and a stream that does not read.

use std::{collections::BTreeMap, time::Duration};

use chat_proto::v1::inbox_item::Item;
use tonic::Code;

use crate::core_process::CoreProcess;
use crate::helpers::{
    RoomLog, SECRET, TestCore, assert_code, heads, kind, listed_unread, metric, within,
};

#[tokio::test]
async fn the_inbox_comes_first_then_every_rooms_events_in_order_with_the_listed_unread_counts() {
    let a = TestCore::start().await;
    let b = a.join(|_| {}).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let carol = b.user("carol").await;
    let with_bob = alice.room_with(bob.id).await.unwrap();
    let with_carol = alice.room_with(carol.id).await.unwrap();
    bob.send_id(with_bob, "before the stream").await;

    let mut stream = alice.user_stream("").await.unwrap();
    let inbox = stream.inbox().await;
    assert_eq!(inbox.user_id, alice.id);
    assert!(inbox.token_exp > 0);
    assert!(!inbox.cursor.is_empty());
    assert_eq!(inbox.next, "");
    let listed = alice.page(0, "").await.unwrap();
    assert_eq!(
        inbox.conversations, listed.conversations,
        "the list's first page"
    );
    assert_eq!(
        (
            inbox.conversations[0].room_id,
            inbox.conversations[0].unread_count
        ),
        (with_bob, 1),
        "the room with a message first, its unread count"
    );

    // A flood by both members of both rooms, through the other instance.
    let alice_on_b = b.same_user(&alice);
    let mut bobs = Vec::new();
    for i in 0..10 {
        bobs.push(bob.send_id(with_bob, &format!("b{i}")).await);
        let carols = carol.send_id(with_carol, &format!("c{i}")).await;
        alice_on_b.send_id(with_bob, &format!("a{i}")).await;
        if i % 3 == 1 {
            alice_on_b.mark_read(with_bob, Some(bobs[i])).await.unwrap();
            carol.delete(carols).await.unwrap();
        }
    }
    bob.delete(bobs[9]).await.unwrap();
    alice_on_b.mark_read(with_carol, None).await.unwrap();
    carol.send_id(with_carol, "last").await;

    let mut log = RoomLog::from_inbox(&inbox);
    log.follow(&mut stream, &heads(&a, &[with_bob, with_carol]).await)
        .await;
    let unread: BTreeMap<i64, i64> = log.rooms.iter().map(|(r, (_, u))| (*r, *u)).collect();
    assert_eq!(unread, listed_unread(&alice).await);
    assert_eq!(unread[&with_carol], 1);
    assert_eq!(
        unread[&with_bob], 1,
        "b8: b7 and before are read, b9 deleted"
    );
    assert!(
        stream
            .drain(Duration::from_millis(300))
            .await
            .iter()
            .all(|item| matches!(item, Item::Presence(_) | Item::Typing(_))),
        "nothing more, and no event twice"
    );
}

#[tokio::test]
async fn a_room_created_after_the_stream_opened_comes_first_then_its_events() {
    let a = TestCore::start().await;
    let b = a.join(|_| {}).await;
    let alice = a.user("alice").await;
    let dave = b.user("dave").await;
    let mut stream = alice.user_stream("").await.unwrap();
    assert!(stream.inbox().await.conversations.is_empty());

    let room = dave.room_with(alice.id).await.unwrap();
    let created = stream.room_created().await;
    assert!(!created.cursor.is_empty());
    let conversation = created.conversation.expect("the room");
    assert_eq!(conversation.room_id, room);
    assert_eq!((conversation.unread_count, conversation.last_seq), (0, 0));
    assert!(conversation.last_message.is_none());
    let peer = conversation.peer.expect("the peer");
    assert_eq!(
        (peer.id, peer.email.as_str()),
        (dave.id, "dave@example.com")
    );

    let sent = dave.send_id(room, "hello").await;
    let created = stream.event().await;
    let delivered = stream.event().await;
    let kinds: Vec<_> = [&created, &delivered]
        .iter()
        .map(|e| kind(e.event.as_ref().unwrap()))
        .collect();
    assert_eq!(kinds, ["created", "delivered"]);
    let event = delivered.event.unwrap();
    assert_eq!((event.room_id, event.seq), (room, 2));
    assert_eq!(delivered.unread_count, 1);
    assert_eq!(crate::helpers::message_id(&event), sent);
}

#[tokio::test]
async fn a_user_stream_makes_its_user_online_but_a_reader_of_no_room() {
    let a = TestCore::start().await;
    let b = a.join(|_| {}).await;
    let (alice, bob_on_a, room) = a.pair().await;
    let bob = b.same_user(&bob_on_a);
    let mut bobs_room = bob.subscribe(room).await.unwrap();
    bobs_room.snapshot().await;
    assert!(!bobs_room.presence().await.is_online);

    let mut stream = alice.user_stream("").await.unwrap();
    stream.inbox().await;
    assert!(bobs_room.presence().await.is_online, "alice went online");
    assert!(bob.get_user(alice.id).await.unwrap().is_online);

    bob.send_id(room, "hello").await;
    let events = within(bobs_room.events(2)).await;
    assert_eq!(
        events.iter().map(kind).collect::<Vec<_>>(),
        ["created", "delivered"]
    );
    stream.event().await;
    let delivered = stream.event().await;
    assert_eq!(kind(delivered.event.as_ref().unwrap()), "delivered");
    assert_eq!(delivered.unread_count, 1);
    bobs_room.assert_quiet().await;
    let listed = alice.page(0, "").await.unwrap();
    assert_eq!(
        listed.conversations[0].unread_count, 1,
        "delivered, not read"
    );

    drop(stream);
    let offline = bobs_room.presence().await;
    assert!(!offline.is_online);
    assert!(!bob.get_user(alice.id).await.unwrap().is_online);
}

#[tokio::test]
async fn an_unauthenticated_stream_is_refused() {
    let core = TestCore::start().await;
    let anonymous = core.anonymous(None);
    assert_code(anonymous.user_stream("").await, Code::Unauthenticated);
    let forged = core.anonymous(Some("Bearer not-a-token".into()));
    assert_code(forged.user_stream("").await, Code::Unauthenticated);
}

#[tokio::test]
async fn a_resumed_stream_carries_exactly_the_missed_events_and_the_peers_presence() {
    let a = TestCore::start().await;
    let b = a.join(|_| {}).await;
    let alice = a.user("alice").await;
    let bob = a.user("bob").await;
    let carol = b.user("carol").await;
    let with_bob = alice.room_with(bob.id).await.unwrap();
    let with_carol = carol.room_with(alice.id).await.unwrap();
    let rooms = [with_bob, with_carol];
    let mut stream = alice.user_stream("").await.unwrap();
    let mut log = RoomLog::from_inbox(&stream.inbox().await);
    for i in 0..5 {
        bob.send_id(with_bob, &format!("b{i}")).await;
        carol.send_id(with_carol, &format!("c{i}")).await;
    }
    log.follow(&mut stream, &heads(&a, &rooms).await).await;
    let noted = log.clone();

    for i in 5..12 {
        let sent = bob.send_id(with_bob, &format!("b{i}")).await;
        carol.send_id(with_carol, &format!("c{i}")).await;
        if i % 4 == 0 {
            bob.edit(sent, "edited").await.unwrap();
        }
    }
    let alice_on_b = b.same_user(&alice);
    alice_on_b.mark_read(with_carol, None).await.unwrap();
    log.follow(&mut stream, &heads(&a, &rooms).await).await;
    drop(stream);
    bob.send_id(with_bob, "while away").await;

    let mut resumed = alice_on_b.user_stream(&noted.cursor).await.unwrap();
    let first = resumed.resumed().await;
    assert_eq!(first.cursor, noted.cursor);
    assert_eq!(first.user_id, alice.id);
    assert!(first.token_exp > 0);
    let mut again = noted.clone();
    again.follow(&mut resumed, &heads(&a, &rooms).await).await;
    assert_eq!(
        again.events,
        log.events + 2,
        "what alice had, and the two while away"
    );
    let unread: BTreeMap<i64, i64> = again.rooms.iter().map(|(r, (_, u))| (*r, *u)).collect();
    assert_eq!(unread, listed_unread(&alice).await);
    for item in resumed.drain(Duration::from_millis(300)).await {
        match item {
            Item::Presence(presence) => again.presence.push(presence),
            other => panic!("nothing more but presence, got {other:?}"),
        }
    }
    let mut peers: Vec<i64> = again.presence.iter().map(|p| p.user_id).collect();
    peers.sort_unstable();
    assert_eq!(peers, [bob.id, carol.id], "each peer's presence once");
}

#[tokio::test]
async fn a_cursor_the_core_cannot_replay_gets_a_fresh_inbox() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    bob.send_id(room, "hello").await;
    let xmax: i64 = core
        .sql()
        .await
        .query_one(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let ahead = format!("u1.{}.0.0", xmax + 1_000);
    for cursor in ["garbage", "v1.1.2.3", "u1.1.2", ahead.as_str()] {
        let mut stream = alice.user_stream(cursor).await.unwrap();
        let inbox = stream.inbox().await;
        assert_eq!(inbox.conversations.len(), 1, "{cursor}");
        assert_eq!(inbox.conversations[0].last_seq, 2);
    }
}

#[tokio::test]
async fn a_peers_presence_reaches_the_stream_once_per_change_and_typing_only_the_other_member() {
    let a = TestCore::start().await;
    let b = a.join(|_| {}).await;
    let (alice, bob_on_a, room) = a.pair().await;
    let bob = b.same_user(&bob_on_a);
    let mut alices = alice.user_stream("").await.unwrap();
    let inbox = alices.inbox().await;
    assert!(!inbox.conversations[0].peer.as_ref().unwrap().is_online);

    let mut bobs = bob.user_stream("").await.unwrap();
    bobs.inbox().await;
    let online = alices.presence().await;
    assert_eq!((online.user_id, online.is_online), (bob.id, true));
    let mut bobs_room = bob.subscribe(room).await.unwrap();
    bobs_room.snapshot().await;
    let quiet = Duration::from_millis(700);
    let items = alices.drain(quiet).await;
    assert!(items.is_empty(), "a second session is no change: {items:?}");

    assert!(bob.typing(room).await.unwrap());
    let typing = alices.typing().await;
    assert_eq!((typing.room_id, typing.user_id), (room, bob.id));
    assert!(alice.typing(room).await.unwrap());
    assert_eq!(bobs.typing().await.user_id, alice.id);
    let bobs_items = bobs.drain(quiet).await;
    assert!(
        bobs_items
            .iter()
            .all(|item| !matches!(item, Item::Typing(t) if t.user_id == bob.id)),
        "the typer's own stream gets nothing: {bobs_items:?}"
    );
    let items = alices.drain(quiet).await;
    assert!(items.is_empty(), "nor alice's own typing: {items:?}");

    drop(bobs_room);
    drop(bobs);
    let offline = alices.presence().await;
    assert_eq!((offline.user_id, offline.is_online), (bob.id, false));
    assert!(offline.version > online.version);
    assert_eq!(
        alice.get_user(bob.id).await.unwrap().last_seen,
        offline.last_seen
    );
    assert!(alices.drain(quiet).await.is_empty(), "once per change");
}

#[tokio::test]
async fn a_stream_that_does_not_read_is_ended_without_affecting_another() {
    // Small enough that the stalled stream's 600 events overflow it, with
    // room for the reading stream's bursts of 40 and their fast copies.
    let core = TestCore::start_tuned(|config| config.inbox_queue = 300).await;
    let (alice, bob, room) = core.pair().await;
    let mut reading = alice.user_stream("").await.unwrap();
    let mut log = RoomLog::from_inbox(&reading.inbox().await);
    let mut stalled = core.same_user_apart(&alice).user_stream("").await.unwrap();
    stalled.inbox().await;
    // In bursts the reading stream keeps up with; the stalled one reads nothing.
    for burst in 0..15 {
        for i in 0..20 {
            bob.send_id(
                room,
                &format!("flood {burst}.{i} with some text to fill windows"),
            )
            .await;
        }
        log.follow(&mut reading, &heads(&core, &[room]).await).await;
    }
    assert_eq!(log.events, 600);
    let ended = stalled.ended().await;
    assert_eq!(ended.code(), Code::ResourceExhausted, "{ended:?}");
    assert_eq!(
        metric::<i64>(&core, "chat_user_streams_behind_total").await,
        1
    );
    within(async {
        while metric::<i64>(&core, "chat_user_streams").await != 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    bob.send_id(room, "after").await;
    log.follow(&mut reading, &heads(&core, &[room]).await).await;
    assert_eq!(log.events, 602);
}

#[tokio::test]
async fn a_user_streams_session_ends_with_its_instance() {
    let first = TestCore::start().await;
    // The surviving instance reaps; it needs the short time-to-live too.
    let a = first.join(|config| config.instance_ttl_secs = 2).await;
    let (alice, bob_on_a, room) = a.pair().await;
    let mut doomed = CoreProcess::spawn(&a.url, SECRET).await;
    let doomed_core = TestCore::remote(&doomed.addr).await;
    let bob = doomed_core.same_user(&bob_on_a);
    let mut alices_room = alice.subscribe(room).await.unwrap();
    alices_room.snapshot().await;
    assert!(!alices_room.presence().await.is_online);
    let mut stream = bob.user_stream("").await.unwrap();
    stream.inbox().await;
    assert!(alices_room.presence().await.is_online);

    doomed.kill().await;
    let offline = within(alices_room.presence()).await;
    assert!(!offline.is_online && offline.last_seen.is_some());
    assert!(!alice.get_user(bob.id).await.unwrap().is_online);
}

#[tokio::test]
async fn a_stream_reads_its_peers_presence_again_when_its_core_may_have_missed_changes() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut stream = alice.user_stream("").await.unwrap();
    stream.inbox().await;
    let mut bobs_room = bob.subscribe(room).await.unwrap();
    bobs_room.snapshot().await;
    assert!(stream.presence().await.is_online);

    let killed: i64 = core
        .sql()
        .await
        .query_one(
            "SELECT count(*) FROM (
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE application_name = 'chat-listener' AND datname = current_database()
             ) t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 1);
    let again = stream.presence().await;
    assert_eq!((again.user_id, again.is_online), (bob.id, true));
}

#[tokio::test]
async fn the_next_stream_after_the_last_one_closed_still_gets_every_event() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut first = alice.user_stream("").await.unwrap();
    first.inbox().await;
    bob.send_id(room, "one").await;
    assert_eq!(first.event().await.event.unwrap().seq, 1);
    drop(first);
    within(async {
        while metric::<i64>(&core, "chat_user_streams").await != 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    bob.send_id(room, "two").await;

    let mut next = alice.user_stream("").await.unwrap();
    let mut log = RoomLog::from_inbox(&next.inbox().await);
    assert_eq!(log.rooms[&room].0, 4);
    bob.send_id(room, "three").await;
    log.follow(&mut next, &heads(&core, &[room]).await).await;
    assert_eq!((log.events, log.rooms[&room]), (2, (6, 3)));
}
