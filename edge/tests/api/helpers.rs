//! Starts a real core (on a fresh PostgreSQL database) and a real edge, both
//! on 127.0.0.1:0, and gives tests HTTP and WebSocket clients of the edge.

use std::net::SocketAddr;
use std::time::Duration;

use core_svc::auth::dev_token;
use core_svc::config::{AuthConfig, Config as CoreConfig};
use edge::config::Config as EdgeConfig;
use futures::{SinkExt, StreamExt};
use pg_local::TestDatabase;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// The HS256 secret the test core verifies tokens with.
pub const SECRET: &str = "edge-test-secret-that-is-at-least-32-bytes-long";
/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Awaits `future`, failing the test after [`PATIENCE`].
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .expect("timed out waiting")
}

/// The edge's defaults, except message and REST write rates no test of other
/// things hits (tests of the rate limits set their own) and a deadline on the
/// core that a busy test machine does not hit (tests of deadlines set their own).
pub fn edge_config(core_url: String) -> EdgeConfig {
    EdgeConfig {
        ws_rate_per_sec: 100_000,
        ws_rate_burst: 100_000,
        rest_rate_per_sec: 100_000,
        rest_rate_burst: 100_000,
        core_deadline_ms: 10_000,
        ..EdgeConfig::new(core_url)
    }
}

/// A core and an edge in front of it. The edge listens on two addresses,
/// like the default 8000 (REST) and 8001 (WebSocket).
pub struct TestApp {
    /// The first edge address (REST in the seeds).
    pub rest_addr: SocketAddr,
    /// The second edge address (WebSocket in the seeds).
    pub ws_addr: SocketAddr,
    pub http: reqwest::Client,
    /// The core's gRPC URL, for edges started elsewhere (another process).
    pub core_url: String,
    core_shutdown: CancellationToken,
    core: Option<JoinHandle<anyhow::Result<()>>>,
    edge_shutdown: CancellationToken,
    edge: Option<JoinHandle<anyhow::Result<()>>>,
    _db: TestDatabase,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(edge_config).await
    }

    /// A core, and an edge configured by `edge_config` from the core's URL.
    pub async fn spawn_with(edge_config: impl FnOnce(String) -> EdgeConfig) -> Self {
        let db = TestDatabase::create().expect("a fresh test database");
        let mut core_config = CoreConfig::new(db.connection_string());
        core_config.auth = AuthConfig::hs256(SECRET);
        core_config.db_pool_size = 8;
        let core_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind core");
        let core_addr = core_listener.local_addr().expect("core address");
        let core_shutdown = CancellationToken::new();
        let core = tokio::spawn(core_svc::run(
            core_listener,
            core_config,
            core_shutdown.clone(),
        ));

        let rest = TcpListener::bind("127.0.0.1:0").await.expect("bind edge");
        let ws = TcpListener::bind("127.0.0.1:0").await.expect("bind edge");
        let (rest_addr, ws_addr) = (rest.local_addr().unwrap(), ws.local_addr().unwrap());
        let edge_config = edge_config(format!("http://{core_addr}"));
        let edge_shutdown = CancellationToken::new();
        let edge_task = tokio::spawn(edge::run(
            vec![rest, ws],
            edge_config,
            edge_shutdown.clone(),
        ));
        Self {
            rest_addr,
            ws_addr,
            http: reqwest::Client::new(),
            core_url: format!("http://{core_addr}"),
            core_shutdown,
            core: Some(core),
            edge_shutdown,
            edge: Some(edge_task),
            _db: db,
        }
    }

    /// A direct connection to the test database, for checks behind the API.
    pub async fn sql(&self) -> tokio_postgres::Client {
        let url = self._db.connection_string();
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("a connection to the test database");
        tokio::spawn(connection);
        client
    }

    /// A signed token for `sub` (email `<sub>@example.com`).
    pub fn token(&self, sub: &str) -> String {
        dev_token(
            SECRET,
            sub,
            &format!("{sub}@example.com"),
            Duration::from_secs(600),
        )
    }

    /// A user known to the core (created by their first request).
    pub async fn user(&self, sub: &str) -> User {
        let token = self.token(sub);
        let (status, me) = self
            .call(Method::GET, "/en/api/v1/users/me/", Some(&token))
            .await;
        assert_eq!(status, StatusCode::OK, "{me}");
        User {
            id: me["id"].as_i64().expect("an integer id"),
            email: format!("{sub}@example.com"),
            token,
        }
    }

    /// Alice, Bob and their direct room.
    pub async fn pair(&self) -> (User, User, i64) {
        let alice = self.user("alice").await;
        let bob = self.user("bob").await;
        let room = self.room(&alice, bob.id).await;
        (alice, bob, room)
    }

    /// The direct room of `user` and `other`, through the REST endpoint.
    pub async fn room(&self, user: &User, other: i64) -> i64 {
        let path = format!(
            "/en/api/v1/chatrooms/get_or_create_room/?user_id_1={}&user_id_2={other}",
            user.id
        );
        let (status, body) = self.call(Method::POST, &path, Some(&user.token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["room_id"].as_i64().expect("an integer room id")
    }

    /// A REST request to the first edge address, its status and JSON body (`Null` if empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let response = self.send(self.request(method, path, token)).await;
        (response.status(), body_json(response).await)
    }

    /// A request builder for `path` on the first edge address.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let builder = self
            .http
            .request(method, format!("http://{}{path}", self.rest_addr));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn send(&self, builder: reqwest::RequestBuilder) -> reqwest::Response {
        within(builder.send()).await.expect("the edge answers")
    }

    /// `PUT /en/api/v1/messages/{id}/edit` with `{"text": text}`.
    pub async fn edit(&self, user: &User, message_id: i64, text: &str) -> (StatusCode, Value) {
        let path = format!("/en/api/v1/messages/{message_id}/edit");
        let builder = self
            .request(Method::PUT, &path, Some(&user.token))
            .json(&serde_json::json!({ "text": text }));
        let response = self.send(builder).await;
        (response.status(), body_json(response).await)
    }

    /// `DELETE /en/api/v1/messages/{id}/delete`.
    pub async fn delete(&self, user: &User, message_id: i64) -> (StatusCode, Value) {
        let path = format!("/en/api/v1/messages/{message_id}/delete");
        self.call(Method::DELETE, &path, Some(&user.token)).await
    }

    /// `GET /users/me` as `user`.
    pub async fn me(&self, user: &User) -> Value {
        let (status, me) = self
            .call(Method::GET, "/en/api/v1/users/me", Some(&user.token))
            .await;
        assert_eq!(status, StatusCode::OK, "{me}");
        me
    }

    /// Polls `/users/me` until `is_online` is `online` (presence changes
    /// reach the core asynchronously after a socket closes).
    pub async fn wait_for_presence(&self, user: &User, online: bool) -> Value {
        within(async {
            loop {
                let me = self.me(user).await;
                if me["is_online"] == Value::Bool(online) {
                    return me;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }

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

    /// The room's stored messages through the REST paging endpoint, newest first.
    pub async fn messages(&self, user: &User, room: i64) -> Vec<Value> {
        let path = format!("/en/api/v1/chatrooms/{room}/messages/?limit=100");
        let (status, body) = self.call(Method::GET, &path, Some(&user.token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        match body {
            Value::Array(items) => items,
            other => panic!("expected a list of messages, got {other}"),
        }
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

    /// Shuts the edge down and waits until `edge::run` has returned.
    pub async fn stop_edge(&mut self) {
        self.edge_shutdown.cancel();
        if let Some(edge) = self.edge.take() {
            within(edge)
                .await
                .expect("edge task")
                .expect("edge stopped cleanly");
        }
    }

    /// Stops the core and waits until it has finished.
    pub async fn stop_core(&mut self) {
        self.core_shutdown.cancel();
        if let Some(core) = self.core.take() {
            within(core)
                .await
                .expect("core task")
                .expect("core stopped cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.edge_shutdown.cancel();
        self.core_shutdown.cancel();
    }
}

/// A user with a token.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub token: String,
}

/// The JSON body of a response, `Null` when empty.
pub async fn body_json(response: reqwest::Response) -> Value {
    let bytes = within(response.bytes()).await.expect("a body");
    if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("a JSON body")
    }
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

impl Ws {
    /// The next data frame as JSON, or the close frame (or end of connection: `Close(None)`).
    pub async fn frame(&mut self) -> Frame {
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

    /// The next data frame; fails the test on a close.
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

/// The `seq` of an event frame.
pub fn seq(frame: &Value) -> i64 {
    frame["seq"]
        .as_i64()
        .unwrap_or_else(|| panic!("no seq in {frame}"))
}

/// The `seq`s of event frames.
pub fn seqs(frames: &[Value]) -> Vec<i64> {
    frames.iter().map(seq).collect()
}

/// The frame types of a list of frames, for order assertions.
pub fn types(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .map(|frame| frame["type"].as_str().unwrap_or("?"))
        .collect()
}

/// `true` for `2025-02-18T18:28:52.258755+00:00`.
pub fn is_wire_time(value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let bytes = text.as_bytes();
    let digit_at = |indexes: &[usize]| indexes.iter().all(|i| bytes[*i].is_ascii_digit());
    bytes.len() == 32
        && digit_at(&[
            0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 23, 24, 25,
        ])
        && &text[4..5] == "-"
        && &text[7..8] == "-"
        && &text[10..11] == "T"
        && &text[13..14] == ":"
        && &text[16..17] == ":"
        && &text[19..20] == "."
        && text.ends_with("+00:00")
}
