//! [`TestApp`]: a real core on a fresh database and a real edge in front of
//! it, in this test process; its users, its database, and stopping either part.

use std::net::SocketAddr;
use std::time::Duration;

use core_svc::auth::dev_token;
use core_svc::config::{AuthConfig, Config as CoreConfig};
use edge::config::Config as EdgeConfig;
use pg_local::TestDatabase;
use reqwest::{Method, StatusCode};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{SECRET, User, edge_config, within};

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
    pub(super) core_shutdown: CancellationToken,
    pub(super) core: Option<JoinHandle<anyhow::Result<()>>>,
    pub(super) edge_shutdown: CancellationToken,
    pub(super) edge: Option<JoinHandle<anyhow::Result<()>>>,
    pub(super) _db: TestDatabase,
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
