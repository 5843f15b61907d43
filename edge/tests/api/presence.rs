//! Presence through `/users/me`: online while at least one socket is open,
//! offline with `last_seen` once the last one closes.

use crate::helpers::{TestApp, is_wire_time};

#[tokio::test]
async fn a_user_is_online_while_a_socket_is_open() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    assert_eq!(app.me(&alice).await["is_online"], false);

    let (first, _) = app.join(&alice, room).await;
    let (second, _) = app.join(&alice, room).await;
    assert_eq!(
        app.me(&alice).await["is_online"],
        true,
        "online once the history arrived"
    );

    first.close().await;
    let me = app.me(&alice).await;
    assert_eq!(me["is_online"], true, "one socket is still open: {me}");

    second.close().await;
    let me = app.wait_for_presence(&alice, false).await;
    assert!(is_wire_time(&me["last_seen"]), "{me}");
}

#[tokio::test]
async fn a_dropped_connection_ends_presence_too() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (ws, _) = app.join(&alice, room).await;
    assert_eq!(app.me(&alice).await["is_online"], true);
    drop(ws);
    let me = app.wait_for_presence(&alice, false).await;
    assert!(is_wire_time(&me["last_seen"]), "{me}");
}
