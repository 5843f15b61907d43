//! `EdgeLink/Link`: an edge's sockets over one stream, each room followed
//! once per link. The failover of a link between cores is in [`failover`].

mod failover;

use chat_proto::v1 as pb;
use tonic::Code;

use crate::helpers::{
    EDGE_TOKEN_SCOPE, Link, TestCore, hello, kind, last_seq, metric, service_token, socket,
};

/// A fresh edge id.
fn edge() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn seqs(events: &[pb::RoomEvent]) -> Vec<i64> {
    events.iter().map(|event| event.seq).collect()
}

#[tokio::test]
async fn every_event_arrives_once_per_link_however_many_sockets_share_the_room() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut link = Link::connect(&core, &edge()).await;
    for id in 1..=3 {
        link.open(socket(&bob, id, room)).await;
        let opened = link.opened().await;
        assert_eq!(opened.socket_id, id);
        let snapshot = opened.snapshot.expect("a snapshot");
        assert_eq!((snapshot.user_id, snapshot.seq), (bob.id, 0));
        assert!(snapshot.token_exp > 0);
    }
    alice.send(room, "hello").await.unwrap();
    let events = link.events(3).await;
    assert_eq!(seqs(&events), [1, 2, 3]);
    assert_eq!(
        events.iter().map(kind).collect::<Vec<_>>(),
        ["created", "delivered", "read"]
    );
    link.assert_quiet().await;
}

#[tokio::test]
async fn an_opening_is_answered_before_every_event_after_its_snapshot() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut link = Link::connect(&core, &edge()).await;
    link.open(socket(&bob, 1, room)).await;
    link.opened().await;
    let sender = tokio::spawn(async move {
        for i in 0..30 {
            alice.send(room, &format!("#{i}")).await.unwrap();
        }
    });
    for id in 2..=11 {
        link.open(socket(&bob, id, room)).await;
    }
    let (mut sent, mut answered) = (0, 0);
    while answered < 10 || sent < 90 {
        match link.item().await {
            pb::link_down::Item::Event(event) => {
                assert_eq!(event.seq, sent + 1, "each event once, in order");
                sent = event.seq;
            }
            pb::link_down::Item::Opened(opened) => {
                let snapshot = opened.snapshot.expect("a snapshot");
                assert!(
                    sent <= snapshot.seq,
                    "no event after the snapshot came first"
                );
                answered += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    sender.await.unwrap();
    link.assert_quiet().await;
}

/// What `Subscribe` fails with for the same request (an empty
/// `authorization` is a call without the header).
async fn subscribe_refusal(core: &TestCore, open: &pb::OpenSocket) -> (i32, String) {
    let header = Some(open.authorization.clone()).filter(|value| !value.is_empty());
    let client = core.anonymous(header);
    let request = pb::SubscribeRequest {
        room_id: open.room_id,
        history_limit: open.history_limit,
        after_seq: open.after_seq,
    };
    let status = client.subscribe_with(request).await.unwrap_err();
    (status.code() as i32, status.message().to_owned())
}

#[tokio::test]
async fn refusals_carry_exactly_what_subscribe_fails_with() {
    let core = TestCore::start().await;
    let (_alice, bob, room) = core.pair().await;
    let carol = core.user("carol").await;
    let mut link = Link::connect(&core, &edge()).await;
    let bad_token = pb::OpenSocket {
        authorization: "Bearer not-a-jwt".into(),
        ..socket(&bob, 1, room)
    };
    let no_token = pb::OpenSocket {
        authorization: String::new(),
        ..socket(&bob, 2, room)
    };
    let too_long = pb::OpenSocket {
        history_limit: Some(51),
        ..socket(&bob, 6, room)
    };
    let cases = [
        (bad_token, Code::Unauthenticated),
        (no_token, Code::Unauthenticated),
        (socket(&carol, 3, room), Code::PermissionDenied),
        (socket(&bob, 4, room + 1000), Code::NotFound),
        (socket(&bob, 5, 0), Code::InvalidArgument),
        (too_long, Code::InvalidArgument),
    ];
    for (open, code) in cases {
        let expected = subscribe_refusal(&core, &open).await;
        assert_eq!(expected.0, code as i32, "{expected:?}");
        link.open(open.clone()).await;
        let refused = link.refused().await;
        assert_eq!(refused.socket_id, open.socket_id);
        assert_eq!((refused.code, refused.message), expected);
    }
    assert!(!carol.who_am_i().await.unwrap().is_online);
}

#[tokio::test]
async fn a_resume_gets_exactly_the_events_it_missed() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut link = Link::connect(&core, &edge()).await;
    link.open(socket(&bob, 1, room)).await;
    link.opened().await;
    alice.send(room, "one").await.unwrap();
    alice.send(room, "two").await.unwrap();
    assert_eq!(seqs(&link.events(6).await), [1, 2, 3, 4, 5, 6]);

    let resume = |id| pb::OpenSocket {
        after_seq: Some(2),
        ..socket(&bob, id, room)
    };
    link.open(resume(2)).await;
    let opened = link.opened().await;
    let snapshot = opened.snapshot.expect("a snapshot");
    assert!(snapshot.resumed && snapshot.messages.is_empty());
    assert_eq!(snapshot.seq, 6, "where the link's room stands");
    assert_eq!(seqs(&opened.missed), [3, 4, 5, 6]);

    // On a link that does not follow the room yet, the room starts there.
    let mut fresh = Link::connect(&core, &edge()).await;
    fresh.open(resume(1)).await;
    let opened = fresh.opened().await;
    assert_eq!(opened.snapshot.expect("a snapshot").seq, 2);
    assert!(opened.missed.is_empty());
    assert_eq!(seqs(&fresh.events(4).await), [3, 4, 5, 6]);
    fresh.assert_quiet().await;
    link.assert_quiet().await;
}

#[tokio::test]
async fn a_socket_on_a_link_makes_its_user_online_and_a_reader_until_it_closes() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    alice.send(room, "before").await.unwrap();
    let mut link = Link::connect(&core, &edge()).await;
    link.open(socket(&bob, 1, room)).await;
    assert_eq!(link.opened().await.snapshot.expect("a snapshot").seq, 2);
    assert_eq!(
        kind(&link.event().await),
        "read",
        "opening marks the room read"
    );
    assert!(bob.who_am_i().await.unwrap().is_online);
    let sent = alice.send(room, "seen").await.unwrap();
    assert_eq!(sent.message.unwrap().status(), pb::MessageStatus::Read);

    link.close(1).await;
    let me = bob.until_offline().await;
    assert!(me.last_seen.is_some());
    let sent = alice.send(room, "gone").await.unwrap();
    assert_eq!(sent.message.unwrap().status(), pb::MessageStatus::Delivered);
}

#[tokio::test]
async fn the_last_close_of_a_room_stops_its_events() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut link = Link::connect(&core, &edge()).await;
    for id in [1, 2] {
        link.open(socket(&bob, id, room)).await;
        link.opened().await;
    }
    link.close(1).await;
    alice.send(room, "still followed").await.unwrap();
    assert_eq!(seqs(&link.events(3).await), [1, 2, 3]);
    link.close(2).await;
    bob.until_offline().await;
    alice.send(room, "not followed").await.unwrap();
    link.assert_quiet().await;
    // Opened again, the room is followed from the new snapshot.
    let head = last_seq(&core, room).await;
    link.open(socket(&bob, 3, room)).await;
    assert_eq!(link.opened().await.snapshot.expect("a snapshot").seq, head);
    let read = link.event().await;
    assert_eq!((read.seq, kind(&read)), (head + 1, "read"));
    link.assert_quiet().await;
}

#[tokio::test]
async fn a_link_refuses_sockets_and_rooms_beyond_its_limits() {
    let core = TestCore::start_tuned(|config| {
        config.link_max_rooms = 1;
        config.link_max_sockets = 2;
    })
    .await;
    let (alice, bob, room) = core.pair().await;
    let carol = core.user("carol").await;
    let other = carol.room_with(bob.id).await.unwrap();
    let mut link = Link::connect(&core, &edge()).await;
    link.open(socket(&bob, 1, room)).await;
    link.opened().await;
    link.open(socket(&bob, 2, other)).await;
    let refused = link.refused().await;
    assert_eq!(refused.code, Code::ResourceExhausted as i32);
    link.open(socket(&alice, 3, room)).await;
    link.opened().await;
    link.open(socket(&bob, 4, room)).await;
    assert_eq!(link.refused().await.code, Code::ResourceExhausted as i32);
    // A close makes room for another.
    link.close(3).await;
    link.open(socket(&bob, 5, room)).await;
    assert_eq!(link.opened().await.socket_id, 5);
}

#[tokio::test]
async fn a_link_needs_a_service_token_that_grants_the_edge_scope() {
    let core = TestCore::start().await;
    let alice = core.user("alice").await;
    let refusal = |authorization: Option<String>| {
        let core = &core;
        async move {
            let linked = Link::connect_as(core, authorization.as_deref(), hello(&edge())).await;
            linked.err().expect("the link is refused").code()
        }
    };
    assert_eq!(refusal(None).await, Code::Unauthenticated);
    assert_eq!(
        refusal(Some("Bearer not-a-jwt".into())).await,
        Code::Unauthenticated
    );
    assert_eq!(
        refusal(alice.authorization()).await,
        Code::PermissionDenied,
        "a user's token opens no link"
    );
    let feed_token = format!("Bearer {}", service_token("chat:events"));
    assert_eq!(refusal(Some(feed_token)).await, Code::PermissionDenied);
}

#[tokio::test]
async fn an_edge_token_links_and_creates_no_user() {
    let core = TestCore::start().await;
    let (_alice, bob, room) = core.pair().await;
    let authorization = format!(
        "Bearer {}",
        service_token(&format!("openid {EDGE_TOKEN_SCOPE}"))
    );
    let mut link = Link::connect_as(&core, Some(&authorization), hello(&edge()))
        .await
        .expect("linked");
    link.open(socket(&bob, 1, room)).await;
    assert_eq!(link.opened().await.socket_id, 1);
    let users = core
        .sql()
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await;
    let users: i64 = users.expect("a count").get(0);
    assert_eq!(users, 2, "alice and bob only: the edge is no user");
}

#[tokio::test]
async fn a_link_must_start_with_a_hello_that_names_its_edge() {
    let core = TestCore::start().await;
    let status = Link::connect_with(&core, hello("not-a-uuid"))
        .await
        .err()
        .expect("refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut link = Link::connect(&core, &edge()).await;
    link.send(pb::link_up::Item::Hello(hello(&edge()))).await;
    let status = link.ended().await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn metrics_count_links_rooms_followed_and_sockets() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut link = Link::connect(&core, &edge()).await;
    for (id, user) in [(1, &bob), (2, &bob), (3, &alice)] {
        link.open(socket(user, id, room)).await;
        link.opened().await;
    }
    assert_eq!(metric::<i64>(&core, "chat_edge_links").await, 1);
    assert_eq!(metric::<i64>(&core, "chat_edge_link_rooms").await, 1);
    assert_eq!(metric::<i64>(&core, "chat_edge_link_sockets").await, 3);
    for id in 1..=3 {
        link.close(id).await;
    }
    alice.until_offline().await;
    bob.until_offline().await;
    crate::helpers::within(async {
        while metric::<i64>(&core, "chat_edge_link_rooms").await != 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(metric::<i64>(&core, "chat_edge_link_sockets").await, 0);
    drop(link);
    crate::helpers::within(async {
        while metric::<i64>(&core, "chat_edge_links").await != 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn the_streams_limit_of_a_connection_does_not_cap_a_links_sockets() {
    let core = TestCore::start_tuned(|config| config.grpc_max_streams = 2).await;
    let (alice, bob, room) = core.pair().await;
    let mut link = Link::connect(&core, &edge()).await;
    for id in 1..=10 {
        link.open(socket(&bob, id, room)).await;
        assert_eq!(link.opened().await.socket_id, id);
    }
    alice.send(room, "to ten sockets").await.unwrap();
    assert_eq!(seqs(&link.events(3).await), [1, 2, 3]);
}

#[tokio::test]
async fn a_resume_from_too_far_behind_the_link_gets_a_fresh_snapshot() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut link = Link::connect(&core, &edge()).await;
    link.open(socket(&bob, 1, room)).await;
    link.opened().await;
    for i in 0..170 {
        alice.send(room, &format!("#{i}")).await.unwrap();
    }
    assert_eq!(
        link.events(510).await.last().map(|event| event.seq),
        Some(510)
    );
    link.open(pb::OpenSocket {
        after_seq: Some(3),
        ..socket(&bob, 2, room)
    })
    .await;
    let opened = link.opened().await;
    let snapshot = opened.snapshot.expect("a snapshot");
    assert!(!snapshot.resumed);
    assert_eq!((snapshot.seq, snapshot.messages.len()), (510, 50));
    assert!(opened.missed.is_empty());
    link.assert_quiet().await;
}
