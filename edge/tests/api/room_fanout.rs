//! Fan-out at the edge: a room with many sockets on one edge costs the core
//! one event per room event (the edge's `chat_edge_link_events_total` counts
//! what its link carried), and every socket still gets every event.

use crate::helpers::{TestApp, Ws, within};

/// Sockets on the room, alternately Alice's and Bob's.
const SOCKETS: usize = 8;
/// Messages sent.
const MESSAGES: usize = 5;

/// The edge's count of room events received on its link.
async fn link_events(app: &TestApp) -> u64 {
    let url = format!("http://{}/metrics", app.rest_addr);
    let text = within(app.http.get(url).send())
        .await
        .expect("the metrics answer");
    let text = within(text.text()).await.expect("a metrics body");
    text.lines()
        .find_map(|line| line.strip_prefix("chat_edge_link_events_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no link event count in {text}"))
}

/// Reads `ws` until the `mark_message_as_delivered` of message text `last`;
/// answers how many event frames (with a `seq`) came.
async fn events_until_delivered(ws: &mut Ws, last: &str) -> usize {
    let frames = ws
        .until(|frame| {
            frame["type"] == "mark_message_as_delivered" && frame["message"]["text"] == last
        })
        .await;
    frames
        .iter()
        .filter(|frame| frame["seq"].is_i64() && frame["type"] != "ack")
        .count()
}

#[tokio::test]
async fn a_room_with_many_sockets_on_one_edge_gets_each_event_once_from_the_core() {
    let app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let mut sockets = Vec::with_capacity(SOCKETS);
    for i in 0..SOCKETS {
        let user = if i % 2 == 0 { &alice } else { &bob };
        sockets.push(app.join(user, room).await.0);
    }
    let before = link_events(&app).await;
    for i in 0..MESSAGES {
        sockets[0].say(&format!("m{i}")).await;
    }
    let last = format!("m{}", MESSAGES - 1);
    let mut seen = Vec::with_capacity(SOCKETS);
    for ws in &mut sockets {
        seen.push(events_until_delivered(ws, &last).await);
    }
    let carried = link_events(&app).await - before;
    let fewest = seen.iter().copied().min().unwrap_or_default() as u64;
    assert!(fewest >= 2 * MESSAGES as u64, "{seen:?}");
    // Once per room event, not once per socket (a trailing read event may
    // have come after the frames read here).
    assert!(
        carried >= fewest && carried < 2 * fewest,
        "the link carried {carried} events for {seen:?} seen per socket"
    );
}
