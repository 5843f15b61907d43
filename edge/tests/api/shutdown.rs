//! Shutting the edge down: open sockets get a close frame telling clients to
//! reconnect (1012), and `edge::run` returns.

use crate::helpers::TestApp;

#[tokio::test]
async fn shutdown_closes_sockets_with_1012_and_returns() {
    let mut app = TestApp::spawn().await;
    let (alice, bob, room) = app.pair().await;
    let (mut alice_ws, _) = app.join(&alice, room).await;
    let (mut bob_ws, _) = app.join(&bob, room).await;
    let ((), alice_code, bob_code) =
        tokio::join!(app.stop_edge(), alice_ws.closed(), bob_ws.closed());
    assert_eq!((alice_code, bob_code), (1012, 1012));
    let refused = tokio::net::TcpStream::connect(app.rest_addr).await;
    assert!(refused.is_err(), "the edge no longer listens");
}
