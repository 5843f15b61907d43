//! WebSocket clients of a [`TestApp`]'s edge: [`Ws`], read frame by frame
//! with a deadline, and the ways tests open one.

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{TestApp, User, within};

impl TestApp {
    /// A WebSocket to `path` on the second edge address, with an optional
    /// `Authorization` header value.
    pub async fn ws_raw(&self, path: &str, authorization: Option<String>) -> Ws {
        match authorization {
            Some(value) => self.ws_with(path, &[("authorization", &value)]).await,
            None => self.ws_with(path, &[]).await,
        }
    }

    /// A WebSocket to `path` on the second edge address, with these request headers.
    pub async fn ws_with(&self, path: &str, headers: &[(&'static str, &str)]) -> Ws {
        let mut request = format!("ws://{}{path}", self.ws_addr)
            .into_client_request()
            .expect("a valid request");
        for (name, value) in headers {
            let value = HeaderValue::from_str(value).expect("a header value");
            request.headers_mut().insert(*name, value);
        }
        let (stream, _response) = within(tokio_tungstenite::connect_async(request))
            .await
            .expect("the upgrade is accepted");
        Ws { stream }
    }

    /// `user`'s socket to `room` asking to resume after `last_seq` (`?last_seq=`, header auth).
    pub async fn resume(&self, user: &User, room: i64, last_seq: i64) -> Ws {
        self.ws_raw(
            &format!("/ws/chat/{room}/?last_seq={last_seq}"),
            Some(format!("Bearer {}", user.token)),
        )
        .await
    }

    /// `user`'s socket to `room` (header auth), past its history frame.
    pub async fn join(&self, user: &User, room: i64) -> (Ws, Vec<Value>) {
        let mut ws = self.ws(user, room).await;
        let history = ws.history().await;
        (ws, history)
    }

    /// `user`'s socket to `room`, token in the `Authorization` header.
    pub async fn ws(&self, user: &User, room: i64) -> Ws {
        self.ws_raw(
            &format!("/ws/chat/{room}/"),
            Some(format!("Bearer {}", user.token)),
        )
        .await
    }

    /// Sends `count` messages as `user` through a socket of theirs and returns
    /// their ids, oldest first, once the last one is delivered.
    pub async fn seed(&self, user: &User, room: i64, count: usize) -> Vec<i64> {
        let (mut ws, _history) = self.join(user, room).await;
        for i in 0..count {
            ws.say(&format!("message {i}")).await;
        }
        let mut ids = Vec::with_capacity(count);
        loop {
            let frame = ws.json().await;
            let id = frame["message"]["message_id"].as_i64();
            match frame["type"].as_str() {
                Some("chat_message") => ids.push(id.expect("a message id")),
                Some("mark_message_as_delivered")
                    if ids.len() == count && id == ids.last().copied() =>
                {
                    break;
                }
                _ => {}
            }
        }
        ws.close().await;
        ids
    }
}

/// A socket to `path` on the edge at `addr`, with `token` in the header.
pub(super) async fn connect(addr: std::net::SocketAddr, path: &str, token: &str) -> Ws {
    let mut request = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("a valid request");
    let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("a header value");
    request.headers_mut().insert("authorization", value);
    let (stream, _response) = within(tokio_tungstenite::connect_async(request))
        .await
        .expect("the upgrade is accepted");
    Ws { stream }
}

/// What a client reads from a socket.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    Close(Option<u16>),
}

/// A client socket.
pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// Whether a frame is a `presence` or `typing` rather than a room frame.
pub fn is_signal(frame: &Value) -> bool {
    matches!(frame["type"].as_str(), Some("presence" | "typing"))
}

impl Ws {
    /// The next data frame as JSON past any `presence` and `typing`, or the
    /// close frame (or end of connection: `Close(None)`).
    pub async fn frame(&mut self) -> Frame {
        loop {
            match self.any_frame().await {
                Frame::Json(value) if is_signal(&value) => {}
                frame => return frame,
            }
        }
    }

    /// The next data frame of any type, or the close frame.
    pub async fn any_frame(&mut self) -> Frame {
        loop {
            match within(self.stream.next()).await {
                Some(Ok(Message::Text(text))) => {
                    return Frame::Json(serde_json::from_str(&text).expect("a JSON frame"));
                }
                Some(Ok(Message::Close(close))) => {
                    // Sends the echo tungstenite queued, as a reading client would.
                    let _ = within(self.stream.flush()).await;
                    return Frame::Close(close.map(|frame| u16::from(frame.code)));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Binary(_))) => panic!("the edge sent a binary frame"),
                Some(Err(_)) | None => return Frame::Close(None),
            }
        }
    }

    /// The next data frame of any type; fails the test on a close.
    pub async fn any_json(&mut self) -> Value {
        match self.any_frame().await {
            Frame::Json(value) => value,
            Frame::Close(code) => panic!("expected a frame, the socket closed with {code:?}"),
        }
    }

    /// The next `presence` frame, past any `typing`; fails on any other frame.
    pub async fn presence(&mut self) -> Value {
        loop {
            let frame = self.any_json().await;
            match frame["type"].as_str() {
                Some("presence") => return frame,
                Some("typing") => {}
                _ => panic!("expected a presence frame, got {frame}"),
            }
        }
    }

    /// Asserts that no frame at all arrives for `quiet`.
    pub async fn assert_silent(&mut self, quiet: std::time::Duration) {
        let next = tokio::time::timeout(quiet, self.stream.next()).await;
        assert!(next.is_err(), "expected no frame, got {next:?}");
    }

    /// The next data frame past any `presence` and `typing`; fails the test on a close.
    pub async fn json(&mut self) -> Value {
        match self.frame().await {
            Frame::Json(value) => value,
            Frame::Close(code) => panic!("expected a frame, the socket closed with {code:?}"),
        }
    }

    /// The history frame (the first frame).
    pub async fn history(&mut self) -> Vec<Value> {
        match self.json().await {
            Value::Array(items) => items,
            other => panic!("expected the history array, got {other}"),
        }
    }

    /// The `resumed` frame (the first frame of a resumed connection); returns its `last_seq`.
    pub async fn resumed(&mut self) -> i64 {
        let frame = self.json().await;
        assert_eq!(
            frame["type"], "resumed",
            "expected the resumed frame, got {frame}"
        );
        frame["last_seq"].as_i64().expect("an integer last_seq")
    }

    /// Frames up to and including the first one `last` accepts.
    pub async fn until(&mut self, last: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut frames = Vec::new();
        loop {
            let frame = self.json().await;
            let done = last(&frame);
            frames.push(frame);
            if done {
                return frames;
            }
        }
    }

    /// The next `count` frames.
    pub async fn frames(&mut self, count: usize) -> Vec<Value> {
        let mut frames = Vec::with_capacity(count);
        for _ in 0..count {
            frames.push(self.json().await);
        }
        frames
    }

    /// Asserts the next thing on the socket is a close frame, and returns its code.
    pub async fn closed(&mut self) -> u16 {
        match self.frame().await {
            Frame::Close(Some(code)) => code,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        within(self.stream.send(Message::text(text)))
            .await
            .expect("sent");
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    /// Sends `{"message": text}`.
    pub async fn say(&mut self, text: &str) {
        self.send_json(serde_json::json!({ "message": text })).await;
    }

    /// Sends `{"message": text, "client_msg_id": id}`.
    pub async fn say_with_id(&mut self, text: &str, id: &str) {
        self.send_json(serde_json::json!({ "message": text, "client_msg_id": id }))
            .await;
    }

    pub async fn send_message(&mut self, message: Message) {
        within(self.stream.send(message)).await.expect("sent");
    }

    /// Closes from the client side and waits for the edge's echo.
    pub async fn close(mut self) {
        within(self.stream.close(None)).await.ok();
        while let Some(Ok(_)) = within(self.stream.next()).await {}
    }

    /// A normal close code, for comparisons.
    pub fn normal() -> u16 {
        u16::from(CloseCode::Normal)
    }
}
