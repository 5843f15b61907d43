//! Starts a real core on 127.0.0.1:0 against a fresh database, and gives
//! tests authenticated clients.

use std::{future::Future, time::Duration};

use chat_proto::v1::{
    self as pb, message_service_client::MessageServiceClient,
    room_service_client::RoomServiceClient, user_service_client::UserServiceClient,
};
use core_svc::{
    auth::dev_token,
    config::{AuthConfig, Config},
};
use pg_local::TestDatabase;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, Status, Streaming, transport::Channel};

pub const SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";
/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub struct TestCore {
    pub channel: Channel,
    shutdown: CancellationToken,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    /// The database this core uses.
    pub url: String,
    /// Where it serves `/metrics`, `/healthz` and `/readyz` (none for [`TestCore::remote`]).
    pub ops_addr: Option<std::net::SocketAddr>,
    /// Set when this core created its database (dropped with the core).
    _db: Option<TestDatabase>,
}

impl TestCore {
    /// A core with HS256 tokens signed by [`SECRET`].
    pub async fn start() -> Self {
        Self::start_with(AuthConfig::hs256(SECRET)).await
    }

    pub async fn start_with(auth: AuthConfig) -> Self {
        Self::start_tuned(|config| config.auth = auth).await
    }

    /// A core on a fresh database, configured as [`Self::on_database`] and then `tune`.
    pub async fn start_tuned(tune: impl FnOnce(&mut Config)) -> Self {
        let db = TestDatabase::create().expect("a fresh test database");
        let mut core = Self::on_database(db.connection_string(), tune).await;
        core._db = Some(db);
        core
    }

    /// Another instance on the same database as `self`.
    pub async fn join(&self, tune: impl FnOnce(&mut Config)) -> Self {
        Self::on_database(self.url.clone(), tune).await
    }

    /// A core on the database at `url`, HS256 with [`SECRET`] unless `tune`
    /// says otherwise.
    pub async fn on_database(url: String, tune: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::new(url.clone());
        config.auth = AuthConfig::hs256(SECRET);
        config.db_pool_size = 8;
        tune(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let ops = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ops_addr = Some(ops.local_addr().unwrap());
        let listeners = core_svc::Listeners {
            grpc: listener,
            ops: Some(ops),
        };
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(core_svc::serve(listeners, config, shutdown.clone()));
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        let core = Self {
            channel,
            shutdown,
            server: Some(server),
            url,
            ops_addr,
            _db: None,
        };
        core.wait_until_serving().await;
        core
    }

    /// A handle on a core that some other code started at `addr`.
    pub async fn remote(addr: &str) -> Self {
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        let core = Self {
            channel,
            shutdown: CancellationToken::new(),
            server: None,
            url: String::new(),
            ops_addr: None,
            _db: None,
        };
        core.wait_until_serving().await;
        core
    }

    async fn wait_until_serving(&self) {
        let mut health = tonic_health::pb::health_client::HealthClient::new(self.channel.clone());
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let request = tonic_health::pb::HealthCheckRequest::default();
            if health.check(request).await.is_ok() {
                return;
            }
            if let Some(server) = &self.server
                && server.is_finished()
            {
                panic!("core exited during start");
            }
            assert!(tokio::time::Instant::now() < deadline, "core did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A client authenticated as `sub` (the user is created by its first call).
    pub async fn user(&self, sub: &str) -> Client {
        let token = dev_token(
            SECRET,
            sub,
            &format!("{sub}@example.com"),
            Duration::from_secs(600),
        );
        let mut client = Client::new(self.channel.clone(), Some(token));
        client.id = client.who_am_i().await.expect("who am i").id;
        client
    }

    /// A client that sends no token, or the given raw authorization value.
    pub fn anonymous(&self, authorization: Option<String>) -> Client {
        Client::with_header(self.channel.clone(), authorization)
    }

    /// A client of this core acting as `other`'s user.
    pub fn same_user(&self, other: &Client) -> Client {
        let mut client = Client::with_header(self.channel.clone(), other.authorization.clone());
        client.id = other.id;
        client
    }

    /// Two users and their direct room.
    pub async fn pair(&self) -> (Client, Client, i64) {
        let alice = self.user("alice").await;
        let bob = self.user("bob").await;
        let room = alice.room_with(bob.id).await.expect("room");
        (alice, bob, room)
    }

    /// A direct connection to the test database, for checks behind the API.
    pub async fn sql(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }

    /// Stops the core and waits for it to finish.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestCore {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// gRPC clients of all three services with one identity.
#[derive(Clone)]
pub struct Client {
    pub id: i64,
    authorization: Option<String>,
    pub users: UserServiceClient<Channel>,
    pub rooms: RoomServiceClient<Channel>,
    pub messages: MessageServiceClient<Channel>,
}

impl Client {
    fn new(channel: Channel, token: Option<String>) -> Self {
        Self::with_header(channel, token.map(|token| format!("Bearer {token}")))
    }

    fn with_header(channel: Channel, authorization: Option<String>) -> Self {
        Self {
            id: 0,
            authorization,
            users: UserServiceClient::new(channel.clone()),
            rooms: RoomServiceClient::new(channel.clone()),
            messages: MessageServiceClient::new(channel),
        }
    }

    pub fn req<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.parse().unwrap());
        }
        request
    }

    pub async fn who_am_i(&self) -> Result<pb::User, Status> {
        let request = self.req(pb::WhoAmIRequest {});
        Ok(self.users.clone().who_am_i(request).await?.into_inner())
    }

    /// The caller as `WhoAmI` answers once they are offline (polled).
    pub async fn until_offline(&self) -> pb::User {
        within(async {
            loop {
                let me = self.who_am_i().await.unwrap();
                if !me.is_online {
                    return me;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }

    pub async fn room_with(&self, other: i64) -> Result<i64, Status> {
        let request = self.req(pb::GetOrCreateDirectRoomRequest {
            user_id_1: self.id,
            user_id_2: other,
        });
        Ok(self
            .rooms
            .clone()
            .get_or_create_direct_room(request)
            .await?
            .into_inner()
            .room_id)
    }

    pub async fn send(&self, room_id: i64, text: &str) -> Result<pb::SendMessageResponse, Status> {
        self.send_keyed(room_id, text, "").await
    }

    pub async fn send_keyed(
        &self,
        room_id: i64,
        text: &str,
        client_msg_id: &str,
    ) -> Result<pb::SendMessageResponse, Status> {
        let request = self.req(pb::SendMessageRequest {
            room_id,
            text: text.into(),
            client_msg_id: client_msg_id.into(),
        });
        Ok(self
            .messages
            .clone()
            .send_message(request)
            .await?
            .into_inner())
    }

    pub async fn edit(&self, message_id: i64, text: &str) -> Result<pb::Message, Status> {
        let request = self.req(pb::EditMessageRequest {
            message_id,
            text: text.into(),
        });
        Ok(self
            .messages
            .clone()
            .edit_message(request)
            .await?
            .into_inner())
    }

    pub async fn delete(&self, message_id: i64) -> Result<(), Status> {
        let request = self.req(pb::DeleteMessageRequest { message_id });
        self.messages.clone().delete_message(request).await?;
        Ok(())
    }

    pub async fn list(
        &self,
        room_id: i64,
        before: i64,
        limit: u32,
    ) -> Result<Vec<pb::Message>, Status> {
        let request = self.req(pb::ListMessagesRequest {
            room_id,
            before_message_id: before,
            limit,
        });
        Ok(self
            .messages
            .clone()
            .list_messages(request)
            .await?
            .into_inner()
            .messages)
    }

    pub async fn subscribe(&self, room_id: i64) -> Result<Subscription, Status> {
        self.subscribe_with(pb::SubscribeRequest {
            room_id,
            history_limit: None,
            after_seq: None,
        })
        .await
    }

    pub async fn subscribe_with(
        &self,
        request: pb::SubscribeRequest,
    ) -> Result<Subscription, Status> {
        let stream = self
            .rooms
            .clone()
            .subscribe(self.req(request))
            .await?
            .into_inner();
        Ok(Subscription { stream })
    }
}

/// An open `Subscribe` stream.
#[derive(Debug)]
pub struct Subscription {
    pub stream: Streaming<pb::SubscribeResponse>,
}

impl Subscription {
    pub async fn item(&mut self) -> pb::subscribe_response::Item {
        within(self.stream.message())
            .await
            .expect("stream item")
            .expect("stream still open")
            .item
            .expect("item set")
    }

    pub async fn snapshot(&mut self) -> pb::Snapshot {
        match self.item().await {
            pb::subscribe_response::Item::Snapshot(snapshot) => snapshot,
            other => panic!("expected a snapshot, got {other:?}"),
        }
    }

    pub async fn event(&mut self) -> pb::RoomEvent {
        match self.item().await {
            pb::subscribe_response::Item::Event(event) => event,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    pub async fn events(&mut self, count: usize) -> Vec<pb::RoomEvent> {
        let mut events = Vec::with_capacity(count);
        for _ in 0..count {
            events.push(self.event().await);
        }
        events
    }

    /// Asserts nothing more arrives for a short while.
    pub async fn assert_quiet(&mut self) {
        let next = tokio::time::timeout(Duration::from_millis(300), self.stream.message()).await;
        assert!(next.is_err(), "expected no more items, got {next:?}");
    }
}

/// Awaits `future`, failing the test if it takes longer than [`PATIENCE`].
pub async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(PATIENCE, future)
        .await
        .expect("timed out")
}

/// The name of an event's kind, for compact assertions.
pub fn kind(event: &pb::RoomEvent) -> &'static str {
    use pb::room_event::Kind;
    match event.kind.as_ref().expect("kind set") {
        Kind::MessageCreated(_) => "created",
        Kind::MessageDelivered(_) => "delivered",
        Kind::MessageRead(_) => "read",
        Kind::MessageEdited(_) => "edited",
        Kind::MessageDeleted(_) => "deleted",
    }
}

/// The message an event is about.
pub fn message_id(event: &pb::RoomEvent) -> i64 {
    use pb::room_event::Kind;
    match event.kind.as_ref().expect("kind set") {
        Kind::MessageCreated(m) | Kind::MessageDelivered(m) | Kind::MessageRead(m) => m.message_id,
        Kind::MessageEdited(e) => e.message_id,
        Kind::MessageDeleted(d) => d.message_id,
    }
}

pub fn assert_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) {
    match result {
        Err(status) => assert_eq!(status.code(), code, "{status:?}"),
        Ok(value) => panic!("expected {code:?}, got {value:?}"),
    }
}

/// The room's event counter, read behind the API.
pub async fn last_seq(core: &TestCore, room: i64) -> i64 {
    core.sql()
        .await
        .query_one("SELECT last_seq FROM rooms WHERE id = $1", &[&room])
        .await
        .unwrap()
        .get(0)
}
