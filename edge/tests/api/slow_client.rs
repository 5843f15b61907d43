//! A client that does not read is closed on purpose (1013) once its bounded
//! outbound queue fills, while the other member's session carries on.

use edge::config::Config;

use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TestApp, within};

/// Bound on the messages sent before the stalled socket must have been closed.
const MAX_MESSAGES: usize = 2_000;

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_1013() {
    let app = TestApp::spawn_with(|core_url| Config {
        ws_queue: 8,
        ..Config::new(core_url)
    })
    .await;
    let (alice, bob, room) = app.pair().await;
    let (mut stalled, _) = app.join(&alice, room).await;
    let (mut bob_ws, _) = app.join(&bob, room).await;

    // Alice reads nothing; Bob sends the largest messages (4096 four-byte
    // characters) until the network buffers and her queue are full.
    let text = "𝄞".repeat(4096);
    let mut sent = 0;
    loop {
        bob_ws.say(&text).await;
        while bob_ws.json().await["type"] != "mark_message_as_delivered" {}
        sent += 1;
        if sent % 10 == 0 && app.me(&alice).await["is_online"] == false {
            break;
        }
        assert!(sent < MAX_MESSAGES, "the stalled socket was never closed");
    }

    // Alice finally reads: what the network held, then the close frame.
    let mut frames = 0;
    let code = loop {
        match within(stalled.stream.next()).await {
            Some(Ok(Message::Close(close))) => break close.map(|frame| u16::from(frame.code)),
            Some(Ok(_)) => frames += 1,
            Some(Err(_)) | None => break None,
        }
    };
    assert_eq!(code, Some(1013), "after {frames} frames");
    bob_ws.say("still here").await;
    while bob_ws.json().await["type"] != "chat_message" {}
    assert_eq!(
        app.me(&bob).await["is_online"],
        true,
        "Bob's session carries on"
    );
}
