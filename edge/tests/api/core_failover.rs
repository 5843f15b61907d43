//! Two cores on one database behind one edge: when the core the edge is
//! linked to stops under traffic, or its connections drop at once (as after
//! a SIGKILL), the edge links to the other one and no
//! client notices — no socket closes, every acknowledged message arrives
//! exactly once and in order on both sides, and nobody goes offline.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::helpers::{Frame, TestApp, User, Ws, within};

/// Messages each user sends.
const MESSAGES: usize = 40;
/// Messages each user has acknowledged before the first core stops.
const BEFORE_STOP: usize = 10;
/// Attempts of one send while the edge fails over (the same `client_msg_id`).
const ATTEMPTS: usize = 50;

/// What one socket saw.
struct Seen {
    ws: Ws,
    /// Every event frame, in order.
    events: Vec<Value>,
    /// The `client_msg_id`s the core acknowledged.
    acked: Vec<String>,
}

impl Seen {
    /// Reads the next data frame; a close is a disconnect, which fails the test.
    async fn next(&mut self) -> Value {
        match self.ws.frame().await {
            Frame::Json(frame) => {
                if frame.get("seq").is_some() && frame["type"] != "ack" {
                    self.events.push(frame.clone());
                }
                frame
            }
            Frame::Close(code) => panic!("the socket closed ({code:?}) during failover"),
        }
    }

    /// Sends `id` until it is acknowledged; `unavailable` answers are retried.
    async fn send_acknowledged(&mut self, id: &str) {
        for _ in 0..ATTEMPTS {
            self.ws.say_with_id(id, id).await;
            loop {
                let frame = self.next().await;
                if frame["type"] == "ack" && frame["client_msg_id"] == id {
                    self.acked.push(id.to_owned());
                    return;
                }
                if frame["type"] == "error" {
                    assert_eq!(frame["code"], "unavailable", "{frame}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    break;
                }
            }
        }
        panic!("{id} was never acknowledged");
    }

    /// The texts of the `chat_message` frames seen.
    fn texts(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|frame| frame["type"] == "chat_message")
            .map(|frame| frame["message"]["text"].as_str().unwrap_or("?").to_owned())
            .collect()
    }
}

/// `user` sends [`MESSAGES`] messages on `ws`, telling `halfway` after [`BEFORE_STOP`].
async fn chat(user: User, ws: Ws, halfway: oneshot::Sender<()>) -> Seen {
    let mut seen = Seen {
        ws,
        events: Vec::new(),
        acked: Vec::new(),
    };
    let mut halfway = Some(halfway);
    for i in 0..MESSAGES {
        seen.send_acknowledged(&format!("{}-{i}", user.id)).await;
        if i + 1 == BEFORE_STOP
            && let Some(halfway) = halfway.take()
        {
            let _ = halfway.send(());
        }
    }
    seen
}

/// Reads on until `seen` holds a `chat_message` of every id in `acked`.
async fn drain_until(seen: &mut Seen, acked: &HashSet<String>) {
    while !acked.iter().all(|id| seen.texts().contains(id)) {
        seen.next().await;
    }
}

/// Every acknowledged message exactly once, event `seq`s gapless and increasing.
fn assert_delivered_once_in_order(seen: &Seen, acked: &HashSet<String>) {
    let texts = seen.texts();
    for id in acked {
        let count = texts.iter().filter(|text| *text == id).count();
        assert_eq!(count, 1, "{id} arrived {count} times");
    }
    let seqs: Vec<i64> = seen
        .events
        .iter()
        .filter_map(|f| f["seq"].as_i64())
        .collect();
    for pair in seqs.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "seqs out of order or with a gap: {seqs:?}"
        );
    }
}

/// Both users are online: a `503` while the edge's calls move to the other
/// core is asked again, an `is_online` of `false` fails the test.
async fn assert_online(app: &TestApp, users: &[&User]) {
    for user in users {
        for _ in 0..ATTEMPTS {
            let (status, me) = app
                .call(Method::GET, "/en/api/v1/users/me/", Some(&user.token))
                .await;
            if status == StatusCode::SERVICE_UNAVAILABLE {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
            assert_eq!(status, StatusCode::OK, "{me}");
            assert_eq!(me["is_online"], true, "{me}");
            break;
        }
    }
}

/// How the core the edge is linked to goes away.
enum Fault {
    /// It shuts down (its links end UNAVAILABLE).
    Stop,
    /// Its connections drop at once, as after a SIGKILL.
    Cut,
}

#[tokio::test]
async fn stopping_the_linked_core_under_traffic_loses_nothing_and_closes_nothing() {
    fail_over(Fault::Stop).await;
}

#[tokio::test]
async fn cutting_the_linked_core_off_under_traffic_loses_nothing_and_closes_nothing() {
    fail_over(Fault::Cut).await;
}

/// Two users chat through one edge while its linked core goes away as `fault` says.
async fn fail_over(fault: Fault) {
    let mut app = TestApp::spawn_with_two_cores().await;
    let (alice, bob, room) = app.pair().await;
    let (alice_ws, _) = app.join(&alice, room).await;
    let (bob_ws, _) = app.join(&bob, room).await;
    let (alice_half, alice_halfway) = oneshot::channel();
    let (bob_half, bob_halfway) = oneshot::channel();
    let alice_chat = tokio::spawn(chat(alice.clone(), alice_ws, alice_half));
    let bob_chat = tokio::spawn(chat(bob.clone(), bob_ws, bob_half));
    within(alice_halfway).await.expect("alice is halfway");
    within(bob_halfway).await.expect("bob is halfway");

    match fault {
        Fault::Stop => app.stop_core().await,
        Fault::Cut => app.cut_core().await,
    }
    assert_online(&app, &[&alice, &bob]).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_online(&app, &[&alice, &bob]).await;

    let mut alice_seen = within(alice_chat).await.expect("alice chatted");
    let mut bob_seen = within(bob_chat).await.expect("bob chatted");
    let acked: HashSet<String> = alice_seen
        .acked
        .iter()
        .chain(&bob_seen.acked)
        .cloned()
        .collect();
    assert_eq!(acked.len(), 2 * MESSAGES);
    within(drain_until(&mut alice_seen, &acked)).await;
    within(drain_until(&mut bob_seen, &acked)).await;
    assert_delivered_once_in_order(&alice_seen, &acked);
    assert_delivered_once_in_order(&bob_seen, &acked);
    assert_online(&app, &[&alice, &bob]).await;
}

/// Rooms, each with one socket, in the hello cut into parts.
const ROOMS: usize = 30;
/// The size of a hello's part: a few sockets each (a socket's token alone is
/// about 300 bytes).
const PART_BYTES: usize = 1024;

/// Sends `id` on `ws` until its own message comes back on the socket; an
/// `unavailable` answer (the edge is failing over) is sent again.
async fn echo(ws: &mut Ws, id: &str) {
    for _ in 0..ATTEMPTS {
        ws.say_with_id(id, id).await;
        loop {
            let frame = match ws.frame().await {
                Frame::Json(frame) => frame,
                Frame::Close(code) => panic!("the socket closed ({code:?}) during failover"),
            };
            if frame["type"] == "chat_message" && frame["message"]["text"] == id {
                return;
            }
            if frame["type"] == "error" {
                assert_eq!(frame["code"], "unavailable", "{frame}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                break;
            }
        }
    }
    panic!("{id} never came back");
}

#[tokio::test]
async fn a_hello_in_many_parts_brings_every_room_and_socket_back_after_a_cut() {
    let mut app = TestApp::spawn_with_two_cores_and(|urls| edge::config::Config {
        link_hello_part_bytes: PART_BYTES,
        ..crate::helpers::edge_config(urls)
    })
    .await;
    let alice = app.user("alice").await;
    let mut sockets = Vec::with_capacity(ROOMS);
    for i in 0..ROOMS {
        let peer = app.user(&format!("peer-{i}")).await;
        let room = app.room(&alice, peer.id).await;
        let (ws, _) = app.join(&peer, room).await;
        sockets.push((peer, ws));
    }
    assert_eq!(app.links_opened().await, 1);

    app.cut_core().await;
    // Every room is followed again only if the core read every part.
    for (peer, ws) in &mut sockets {
        within(echo(ws, &format!("after-{}", peer.id))).await;
    }
    assert!(app.links_opened().await >= 2, "the edge linked again");
    for (peer, _) in sockets.iter().take(3) {
        assert_eq!(app.me(peer).await["is_online"], true);
    }
}
