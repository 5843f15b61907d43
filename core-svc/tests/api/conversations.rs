//! The room list, read marks and profiles (`ConversationService`,
//! `UserService.GetUser`), and the truth test of the bookkeeping behind
//! the list.

use std::collections::BTreeMap;

use tonic::Code;

use crate::helpers::{
    Client, TestCore, as_listed, assert_code, kind, last_seq, message_id, truth, within,
};

#[tokio::test]
async fn the_list_shows_peer_last_message_and_unread_count_most_recent_first() {
    let core = TestCore::start().await;
    let (alice, bob, first) = core.pair().await;
    let carol = core.user("carol").await;
    let second = alice.room_with(carol.id).await.unwrap();
    let empty = alice.page(0, "").await.unwrap();
    assert_eq!(empty.conversations.len(), 2);
    assert_eq!(empty.conversations[0].room_id, second, "newer room first");
    assert!(empty.conversations[0].last_message.is_none());
    assert_eq!(empty.next, "");

    bob.send_id(first, "one").await;
    let two = bob.send_id(first, "two").await;
    let page = alice.page(0, "").await.unwrap();
    let listed = &page.conversations[0];
    assert_eq!(listed.room_id, first, "a message moves the room up");
    assert_eq!(listed.unread_count, 2);
    assert_eq!(listed.last_seq, last_seq(&core, first).await);
    assert_eq!(listed.last_message.as_ref().unwrap().message_id, two);
    assert_eq!(listed.last_message.as_ref().unwrap().text, "two");
    let peer = listed.peer.as_ref().unwrap();
    assert_eq!((peer.id, peer.email.as_str()), (bob.id, "bob@example.com"));
    let bobs = bob.page(0, "").await.unwrap();
    assert_eq!(
        bobs.conversations[0].unread_count, 0,
        "own messages never count"
    );
    assert_eq!(bobs.conversations[0].peer.as_ref().unwrap().id, alice.id);
}

#[tokio::test]
async fn deleted_and_edited_messages_keep_the_counts_and_the_last_message_true() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let one = bob.send_id(room, "one").await;
    let two = bob.send_id(room, "two").await;
    bob.edit(two, "two, edited").await.unwrap();
    let listed = &alice.page(0, "").await.unwrap().conversations[0];
    assert_eq!(listed.last_message.as_ref().unwrap().text, "two, edited");
    let activity = listed.activity_at;

    bob.delete(two).await.unwrap();
    let listed = &alice.page(0, "").await.unwrap().conversations[0];
    assert_eq!(
        listed.unread_count, 1,
        "a message deleted unread stops counting"
    );
    assert_eq!(listed.last_message.as_ref().unwrap().message_id, one);
    assert_eq!(
        listed.activity_at, activity,
        "a deleted message still is activity"
    );

    bob.delete(one).await.unwrap();
    let listed = &alice.page(0, "").await.unwrap().conversations[0];
    assert_eq!(listed.unread_count, 0);
    assert!(listed.last_message.is_none());
}

#[tokio::test]
async fn a_message_read_at_once_by_a_subscribed_recipient_never_counts() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut open = alice.subscribe(room).await.unwrap();
    open.snapshot().await;
    bob.send_id(room, "seen").await;
    assert_eq!(
        within(open.events(3)).await.iter().map(kind).next_back(),
        Some("read")
    );
    drop(open);
    assert_eq!(
        alice.page(0, "").await.unwrap().conversations[0].unread_count,
        0
    );
    alice.until_offline().await;
    bob.send_id(room, "unseen").await;
    assert_eq!(
        alice.page(0, "").await.unwrap().conversations[0].unread_count,
        1
    );
    // Opening the room reads it.
    let mut open = alice.subscribe(room).await.unwrap();
    open.snapshot().await;
    assert_eq!(
        alice.page(0, "").await.unwrap().conversations[0].unread_count,
        0
    );
}

#[tokio::test]
async fn pages_follow_activity_then_room_id_across_ties_without_gaps_or_repeats() {
    let core = TestCore::start().await;
    let alice = core.user("alice").await;
    let mut rooms = Vec::new();
    for i in 0..7 {
        let peer = core.user(&format!("peer-{i}")).await;
        rooms.push(alice.room_with(peer.id).await.unwrap());
    }
    // Three rooms share one activity: ties go to the higher room id.
    core.sql()
        .await
        .execute(
            "UPDATE rooms SET activity_at = '2030-01-01T00:00:00Z' WHERE id = ANY($1)",
            &[&vec![rooms[1], rooms[3], rooms[5]]],
        )
        .await
        .unwrap();
    let listed: Vec<i64> = alice
        .all_conversations(2)
        .await
        .iter()
        .map(|c| c.room_id)
        .collect();
    let mut others: Vec<i64> = [0, 2, 4, 6].map(|i| rooms[i]).to_vec();
    others.reverse();
    let expected: Vec<i64> = [rooms[5], rooms[3], rooms[1]]
        .into_iter()
        .chain(others)
        .collect();
    assert_eq!(listed, expected);
    let last = alice.page(7, "").await.unwrap();
    assert_eq!(last.conversations.len(), 7);
    assert_eq!(last.next, "", "no next page after the last room");
}

#[tokio::test]
async fn bad_limits_and_cursors_are_invalid_arguments() {
    let core = TestCore::start().await;
    let (alice, _bob, _room) = core.pair().await;
    assert_code(alice.page(101, "").await, Code::InvalidArgument);
    for before in ["nope", "c1.1.0", "c1.01.2", "c1.1.2.3"] {
        assert_code(alice.page(10, before).await, Code::InvalidArgument);
    }
    assert_code(
        core.anonymous(None).page(10, "").await,
        Code::Unauthenticated,
    );
}

#[tokio::test]
async fn a_profile_is_visible_to_oneself_and_to_those_sharing_a_room_only() {
    let core = TestCore::start().await;
    let (alice, bob, _room) = core.pair().await;
    let carol = core.user("carol").await;
    assert_eq!(
        alice.get_user(alice.id).await.unwrap().email,
        "alice@example.com"
    );
    let seen = alice.get_user(bob.id).await.unwrap();
    assert_eq!((seen.id, seen.email.as_str()), (bob.id, "bob@example.com"));
    assert!(!seen.is_online);
    assert_code(alice.get_user(carol.id).await, Code::NotFound);
    assert_code(alice.get_user(carol.id + 1000).await, Code::NotFound);
    assert_code(alice.get_user(0).await, Code::InvalidArgument);
    assert_code(
        core.anonymous(None).get_user(alice.id).await,
        Code::Unauthenticated,
    );
}

#[tokio::test]
async fn mark_read_sends_one_read_event_per_message_oldest_first_in_the_room_log() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut watching = alice.subscribe(room).await.unwrap();
    watching.snapshot().await;
    let ids = [
        alice.send_id(room, "1").await,
        alice.send_id(room, "2").await,
        alice.send_id(room, "3").await,
    ];
    let sent = within(watching.events(6)).await;
    let head = sent.last().unwrap().seq;

    let marked = bob.mark_read(room, Some(ids[1])).await.unwrap();
    assert_eq!((marked.marked, marked.last_seq), (2, head + 2));
    let read = within(watching.events(2)).await;
    assert_eq!(
        read.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [head + 1, head + 2]
    );
    assert_eq!(read.iter().map(message_id).collect::<Vec<_>>(), ids[..2]);
    assert!(read.iter().all(|e| kind(e) == "read"));
    assert_eq!(
        bob.page(0, "").await.unwrap().conversations[0].unread_count,
        1
    );

    assert_eq!(bob.mark_read(room, None).await.unwrap().marked, 1);
    let rest = within(watching.event()).await;
    assert_eq!((rest.seq, message_id(&rest)), (head + 3, ids[2]));
    assert_eq!(bob.mark_read(room, None).await.unwrap().marked, 0);
    watching.assert_quiet().await;
    assert_eq!(
        bob.page(0, "").await.unwrap().conversations[0].unread_count,
        0
    );
    assert_eq!(
        alice.mark_read(room, None).await.unwrap().marked,
        0,
        "own messages"
    );
}

#[tokio::test]
async fn mark_read_is_refused_outside_the_callers_rooms() {
    let core = TestCore::start().await;
    let (_alice, _bob, room) = core.pair().await;
    let carol = core.user("carol").await;
    assert_code(carol.mark_read(room, None).await, Code::PermissionDenied);
    assert_code(carol.mark_read(room + 100, None).await, Code::NotFound);
    assert_code(carol.mark_read(0, None).await, Code::InvalidArgument);
    assert_code(carol.mark_read(room, Some(0)).await, Code::InvalidArgument);
}

/// A small deterministic generator, so a failing flood can be replayed.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % sides
    }
}

/// One member's flood on one room: sends, edits and deletes of its own
/// messages, read marks, and room streams held open for a while (messages
/// the other member sends meanwhile are read at once), on either core.
async fn flood(on: [Client; 2], room: i64, seed: u64) {
    let mut dice = Dice(seed);
    let mut mine: Vec<i64> = Vec::new();
    let mut open = None;
    for step in 0..60 {
        let client = &on[dice.roll(2) as usize];
        match dice.roll(10) {
            0..=4 => mine.push(client.send_id(room, &format!("{seed} #{step}")).await),
            5 if !mine.is_empty() => {
                let id = mine[dice.roll(mine.len() as u64) as usize];
                let _ = client.edit(id, "edited").await;
            }
            6 if !mine.is_empty() => {
                let id = mine.swap_remove(dice.roll(mine.len() as u64) as usize);
                client.delete(id).await.unwrap();
            }
            7 => {
                let up_to = (dice.roll(2) == 0).then(|| mine.last().copied()).flatten();
                client.mark_read(room, up_to).await.unwrap();
            }
            8 => match open.take() {
                Some(stream) => drop(stream),
                None => open = Some(client.subscribe(room).await.unwrap()),
            },
            _ => tokio::task::yield_now().await,
        }
    }
}

#[tokio::test]
async fn counts_activity_and_last_messages_equal_the_truth_after_floods_on_two_cores() {
    let a = TestCore::start().await;
    let b = a.join(|_| {}).await;
    let users = [a.user("u0").await, a.user("u1").await, a.user("u2").await];
    let mut rooms = Vec::new();
    for (x, y) in [(0, 1), (0, 2), (1, 2)] {
        rooms.push((x, y, users[x].room_with(users[y].id).await.unwrap()));
    }
    let mut floods = Vec::new();
    for (n, &(x, y, room)) in rooms.iter().enumerate() {
        for (k, member) in [x, y].into_iter().enumerate() {
            let on = [users[member].clone(), b.same_user(&users[member])];
            floods.push(tokio::spawn(flood(on, room, (n * 2 + k) as u64 + 1)));
        }
    }
    for flood in floods {
        within(flood).await.unwrap();
    }
    let truth = truth(&a).await;
    assert!(
        truth.iter().any(|t| t.unread > 0),
        "the floods left unread messages"
    );
    let mut listed = Vec::new();
    for (user, core) in users.iter().zip([&a, &b, &a]) {
        let view = core.same_user(user).all_conversations(2).await;
        let order: Vec<_> = view
            .iter()
            .map(|c| (c.activity_at.unwrap(), c.room_id))
            .map(|(at, room)| {
                (
                    std::cmp::Reverse((at.seconds, at.nanos)),
                    std::cmp::Reverse(room),
                )
            })
            .collect();
        assert!(order.is_sorted(), "most recent activity first");
        listed.extend(as_listed(user.id, &view));
    }
    let by_key = |rows: Vec<crate::helpers::Truth>| {
        rows.into_iter()
            .map(|t| ((t.room_id, t.user_id), t))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(by_key(listed), by_key(truth));
}
