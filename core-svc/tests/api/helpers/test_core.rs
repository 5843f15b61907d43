//! A real core on 127.0.0.1:0 against a fresh database (or a shared one),
//! in this test process, and the clients it hands out.

use std::time::Duration;

use core_svc::{
    auth::dev_token,
    config::{AuthConfig, Config},
};
use pg_local::TestDatabase;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use super::{Client, PATIENCE, SECRET};

pub struct TestCore {
    pub channel: Channel,
    /// `http://<its gRPC address>`.
    endpoint: String,
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
        let endpoint = format!("http://{addr}");
        let channel = Channel::from_shared(endpoint.clone())
            .unwrap()
            .connect_lazy();
        let core = Self {
            channel,
            endpoint,
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
        let endpoint = format!("http://{addr}");
        let channel = Channel::from_shared(endpoint.clone())
            .unwrap()
            .connect_lazy();
        let core = Self {
            channel,
            endpoint,
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

    /// A client of this core acting as `other`'s user over a connection of
    /// its own with small HTTP/2 windows (16 KiB, per connection too), so
    /// that what it does not read stays queued in the core.
    pub fn same_user_apart(&self, other: &Client) -> Client {
        let channel = Channel::from_shared(self.endpoint.clone())
            .unwrap()
            .initial_stream_window_size(Some(16 * 1024))
            .initial_connection_window_size(Some(16 * 1024))
            .connect_lazy();
        let mut client = Client::with_header(channel, other.authorization.clone());
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
