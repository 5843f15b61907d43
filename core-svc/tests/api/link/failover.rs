//! Links across the life of cores and edges: a link broken by a dying core
//! and taken up by another loses nothing and flickers nobody offline; an
//! edge that never comes back has its users go offline.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use chat_proto::v1 as pb;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::Code;

use super::{edge, seqs};
use crate::{
    core_process::CoreProcess,
    helpers::{Client, Link, SECRET, TestCore, socket},
};

/// Watches `client`'s presence until the token is cancelled: how many
/// times it was looked at, and whether it was ever offline.
fn watch_presence(
    client: Client,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<(usize, bool)> {
    let (looks, offline) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    tokio::spawn(async move {
        while !stop.is_cancelled() {
            let me = client.who_am_i().await.expect("who am i");
            looks.fetch_add(1, Ordering::Relaxed);
            if !me.is_online {
                offline.store(true, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (
            looks.load(Ordering::Relaxed),
            offline.load(Ordering::Relaxed),
        )
    })
}

async fn sessions_of(core: &TestCore, user: i64) -> Vec<(i64, String)> {
    let sql = core.sql().await;
    let rows = sql
        .query(
            "SELECT id, instance_id::text FROM room_sessions WHERE user_id = $1",
            &[&user],
        )
        .await
        .unwrap();
    rows.iter().map(|row| (row.get(0), row.get(1))).collect()
}

#[tokio::test]
async fn a_link_to_a_killed_core_is_taken_up_by_another_with_no_loss_and_no_offline() {
    let survivor = TestCore::start().await;
    let (alice, bob, room) = survivor.pair().await;
    let mut doomed = CoreProcess::spawn(&survivor.url, SECRET).await;
    let doomed_core = TestCore::remote(&doomed.addr).await;
    let edge = edge();
    let mut link = Link::connect(&doomed_core, &edge).await;
    let open = socket(&bob, 1, room);
    link.open(open.clone()).await;
    link.opened().await;
    alice.send(room, "one").await.unwrap();
    assert_eq!(seqs(&link.events(3).await), [1, 2, 3]);
    let before = sessions_of(&survivor, bob.id).await;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].1, edge, "the session is the edge's");

    let stop = CancellationToken::new();
    let watcher = watch_presence(bob.clone(), stop.clone());
    doomed.kill().await;
    assert!(link.ended().await.is_err(), "the link broke");
    let sent = alice.send(room, "while unlinked").await.unwrap();
    let read = pb::MessageStatus::Read;
    assert_eq!(sent.message.unwrap().status(), read, "bob still reads");

    let hello = pb::LinkHello {
        edge_id: edge.clone(),
        sockets: vec![open],
        rooms: vec![pb::RoomPosition {
            room_id: room,
            seq: 3,
        }],
        continued: false,
    };
    let mut link = Link::connect_with(&survivor, hello).await.unwrap();
    assert_eq!(
        seqs(&link.events(3).await),
        [4, 5, 6],
        "from the position on"
    );
    let sent = alice.send(room, "relinked").await.unwrap();
    assert_eq!(sent.message.unwrap().status(), read);
    assert_eq!(seqs(&link.events(3).await), [7, 8, 9]);
    link.assert_quiet().await;
    stop.cancel();
    let (looks, offline) = watcher.await.unwrap();
    assert!(looks > 1);
    assert!(!offline, "bob never went offline");
    assert_eq!(sessions_of(&survivor, bob.id).await, before, "the same row");
}

#[tokio::test]
async fn on_shutdown_links_end_unavailable_and_their_sessions_stay() {
    let mut stopping = TestCore::start().await;
    let other = stopping.join(|_| {}).await;
    let (_alice, bob, room) = stopping.pair().await;
    let mut link = Link::connect(&stopping, &edge()).await;
    link.open(socket(&bob, 1, room)).await;
    link.opened().await;
    stopping.stop().await;
    let status = link.ended().await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    let bob = other.same_user(&bob);
    assert!(bob.who_am_i().await.unwrap().is_online);
}

#[tokio::test]
async fn a_refused_hello_socket_is_the_only_one_that_goes() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let carol = core.user("carol").await;
    let edge = edge();
    let expired = pb::OpenSocket {
        authorization: "Bearer expired.token.here".into(),
        ..socket(&alice, 2, room)
    };
    let hello = pb::LinkHello {
        edge_id: edge,
        sockets: vec![socket(&bob, 1, room), expired, socket(&carol, 3, room)],
        rooms: vec![pb::RoomPosition {
            room_id: room,
            seq: 0,
        }],
        continued: false,
    };
    let mut link = Link::connect_with(&core, hello).await.unwrap();
    let mut refused = [link.refused().await, link.refused().await];
    refused.sort_by_key(|refused| refused.socket_id);
    let codes: Vec<_> = refused.iter().map(|r| (r.socket_id, r.code)).collect();
    let expected = [
        (2, Code::Unauthenticated as i32),
        (3, Code::PermissionDenied as i32),
    ];
    assert_eq!(codes, expected);
    assert!(bob.who_am_i().await.unwrap().is_online);
    assert!(!alice.who_am_i().await.unwrap().is_online);
    alice.send(room, "to bob").await.unwrap();
    assert_eq!(seqs(&link.events(3).await), [1, 2, 3]);
    link.assert_quiet().await;
}

#[tokio::test]
async fn the_users_of_an_edge_whose_link_never_returns_go_offline() {
    let core = TestCore::start_tuned(|config| config.instance_ttl_secs = 1).await;
    let (_alice, bob, room) = core.pair().await;
    let link = {
        let mut link = Link::connect(&core, &edge()).await;
        link.open(socket(&bob, 1, room)).await;
        link.opened().await;
        link
    };
    // Three times the time-to-live: the link keeps its edge alive.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert!(bob.who_am_i().await.unwrap().is_online, "kept alive");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(link);
    let gone_at = Instant::now();
    let me = bob.until_offline().await;
    assert!(gone_at.elapsed() < Duration::from_secs(30));
    assert!(me.last_seen.is_some());
    assert!(sessions_of(&core, bob.id).await.is_empty());
}

#[tokio::test]
async fn a_close_on_a_new_link_ends_a_socket_lost_between_links() {
    let core = TestCore::start().await;
    let (_alice, bob, room) = core.pair().await;
    let edge = edge();
    let mut broken = Link::connect(&core, &edge).await;
    broken.open(socket(&bob, 1, room)).await;
    broken.opened().await;
    drop(broken);
    let link = Link::connect(&core, &edge).await;
    assert!(bob.who_am_i().await.unwrap().is_online, "the session stays");
    link.close(1).await;
    let me = bob.until_offline().await;
    assert!(me.last_seen.is_some());
    assert!(sessions_of(&core, bob.id).await.is_empty());
}

#[tokio::test]
async fn a_hello_in_parts_takes_every_socket_and_room_back_from_all_its_parts() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let carol = core.user("carol").await;
    let carol_room = carol.room_with(alice.id).await.unwrap();
    let edge = edge();
    let (bob_open, carol_open) = (socket(&bob, 1, room), socket(&carol, 2, carol_room));
    let mut broken = Link::connect(&core, &edge).await;
    broken.open(bob_open.clone()).await;
    broken.opened().await;
    broken.open(carol_open.clone()).await;
    broken.opened().await;
    let before = (
        sessions_of(&core, bob.id).await,
        sessions_of(&core, carol.id).await,
    );
    drop(broken);
    alice.send(room, "while unlinked").await.unwrap();

    let position = |room_id| pb::RoomPosition { room_id, seq: 0 };
    let hello = pb::LinkHello {
        edge_id: edge.clone(),
        sockets: vec![bob_open],
        rooms: Vec::new(),
        continued: true,
    };
    let parts = vec![
        pb::link_up::Item::HelloPart(pb::HelloPart {
            sockets: vec![carol_open],
            rooms: vec![position(room)],
            continued: true,
        }),
        pb::link_up::Item::HelloPart(pb::HelloPart {
            sockets: Vec::new(),
            rooms: vec![position(carol_room)],
            continued: false,
        }),
    ];
    let mut link = Link::connect_in_parts(&core, hello, parts).await.unwrap();
    assert_eq!(seqs(&link.events(3).await), [1, 2, 3], "bob's room, from 0");
    alice.send(carol_room, "to carol").await.unwrap();
    let events = link.events(3).await;
    assert!(events.iter().all(|event| event.room_id == carol_room));
    assert_eq!(seqs(&events), [1, 2, 3], "carol's room, from its position");
    link.assert_quiet().await;
    let after = (
        sessions_of(&core, bob.id).await,
        sessions_of(&core, carol.id).await,
    );
    assert_eq!(after, before, "the same sessions, never ended");
}

#[tokio::test]
async fn a_continued_hello_must_go_on_with_its_parts() {
    let core = TestCore::start().await;
    let hello = pb::LinkHello {
        continued: true,
        ..crate::helpers::hello(&edge())
    };
    let typing = pb::link_up::Item::Typing(pb::TypingUp {
        socket_id: 1,
        room_id: 1,
    });
    let status = match Link::connect_in_parts(&core, hello, vec![typing]).await {
        Ok(mut link) => link.ended().await.unwrap_err(),
        Err(status) => status,
    };
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
}

#[tokio::test]
async fn one_batch_of_closes_ends_open_sockets_and_those_lost_between_links() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let edge = edge();
    let mut broken = Link::connect(&core, &edge).await;
    broken.open(socket(&bob, 1, room)).await;
    broken.opened().await;
    drop(broken);
    let mut link = Link::connect(&core, &edge).await;
    link.open(socket(&alice, 2, room)).await;
    link.opened().await;
    assert!(bob.who_am_i().await.unwrap().is_online, "the session stays");

    link.close_all(&[1, 2, 99]).await;
    bob.until_offline().await;
    alice.until_offline().await;
    assert!(sessions_of(&core, bob.id).await.is_empty());
    assert!(sessions_of(&core, alice.id).await.is_empty());
}
