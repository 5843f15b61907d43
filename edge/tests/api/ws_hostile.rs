//! Clients that break the WebSocket protocol itself, spoken over raw TCP.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, User, within};

/// A raw TCP connection that has completed `user`'s handshake to `room`
/// and read the history frame.
async fn raw_socket(app: &TestApp, user: &User, room: i64) -> TcpStream {
    let mut tcp = TcpStream::connect(app.ws_addr).await.unwrap();
    let request = format!(
        "GET /ws/chat/{room}/ HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {}\r\n\r\n",
        app.ws_addr, user.token
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(within(tcp.read_u8()).await.unwrap());
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let (opcode, _) = read_frame(&mut tcp).await.expect("the history frame");
    assert_eq!(opcode, 1, "the history is a text frame");
    tcp
}

/// One server frame (servers never mask): its opcode and payload, `None` at EOF.
async fn read_frame(tcp: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    within(tcp.read_exact(&mut head)).await.ok()?;
    let len = match head[1] & 0x7f {
        126 => u64::from(within(tcp.read_u16()).await.ok()?),
        127 => within(tcp.read_u64()).await.ok()?,
        len => u64::from(len),
    };
    let mut payload = vec![0u8; usize::try_from(len).ok()?];
    within(tcp.read_exact(&mut payload)).await.ok()?;
    Some((head[0] & 0x0f, payload))
}

/// What the edge does after a violation: a close frame's code, or `None`
/// when it just ends the connection. Ignores pings and data.
async fn outcome(tcp: &mut TcpStream) -> Option<u16> {
    loop {
        let (opcode, payload) = read_frame(tcp).await?;
        if opcode == 8 {
            return payload
                .get(..2)
                .map(|code| u16::from_be_bytes([code[0], code[1]]));
        }
    }
}

/// A masked client frame with FIN set.
fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x80 | opcode, 0x80 | u8::try_from(payload.len()).unwrap()];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

#[tokio::test]
async fn protocol_violations_end_the_connection_cleanly() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let unmasked = {
        let payload = br#"{"message":"x"}"#;
        let mut frame = vec![0x81, u8::try_from(payload.len()).unwrap()];
        frame.extend_from_slice(payload);
        frame
    };
    let violations: [(&str, Vec<u8>); 4] = [
        ("unmasked text frame", unmasked),
        (
            "invalid UTF-8 text",
            masked(1, b"{\"message\":\"\xff\xfe\"}"),
        ),
        ("reserved opcode", masked(3, b"x")),
        ("fragmented control frame", {
            let mut frame = masked(9, b"x");
            frame[0] &= 0x7f;
            frame
        }),
    ];
    for (name, bytes) in violations {
        let mut tcp = raw_socket(&app, &alice, room).await;
        tcp.write_all(&bytes).await.unwrap();
        let code = outcome(&mut tcp).await;
        assert!(
            matches!(code, None | Some(1002 | 1007)),
            "{name}: closed with {code:?}"
        );
        // Nothing was stored from the broken frame.
        assert!(app.messages(&alice, room).await.is_empty(), "{name}");
    }
    // The edge still serves everyone else.
    let (mut ws, _) = app.join(&alice, room).await;
    ws.say("after the violations").await;
    assert_eq!(ws.json().await["type"], "chat_message");
}
