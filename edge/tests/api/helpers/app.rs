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

use super::proxy::Proxy;
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
    /// A second core on the same database, when the edge was given two.
    pub(super) second_core: Option<Core>,
    /// With two cores: the proxy the edge reaches the first one through.
    pub(super) proxy: Option<Proxy>,
    pub(super) _db: TestDatabase,
}

/// A core running in this process.
pub(super) struct Core {
    pub(super) url: String,
    pub(super) shutdown: CancellationToken,
    pub(super) task: JoinHandle<anyhow::Result<()>>,
}

impl Core {
    fn addr(&self) -> SocketAddr {
        let addr = self.url.trim_start_matches("http://");
        addr.parse().expect("a core address")
    }
}

/// Starts a core on `database_url`, on a free port.
async fn spawn_core(database_url: String) -> Core {
    let mut core_config = CoreConfig::new(database_url);
    core_config.auth = AuthConfig::hs256(SECRET);
    core_config.db_pool_size = 8;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind core");
    let addr = listener.local_addr().expect("core address");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(core_svc::run(listener, core_config, shutdown.clone()));
    Core {
        url: format!("http://{addr}"),
        shutdown,
        task,
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(edge_config).await
    }

    /// A core, and an edge configured by `edge_config` from the core's URL.
    pub async fn spawn_with(edge_config: impl FnOnce(String) -> EdgeConfig) -> Self {
        Self::start(edge_config, false).await
    }

    /// Two cores on one database, and an edge given both (`CHAT_CORE_URL`
    /// lists the first, which it links to first and reaches through a
    /// [`Proxy`] that [`TestApp::cut_core`] cuts, then the second).
    pub async fn spawn_with_two_cores() -> Self {
        Self::start(super::edge_config, true).await
    }

    /// Two cores as [`TestApp::spawn_with_two_cores`], the edge configured
    /// by `edge_config` from both URLs.
    pub async fn spawn_with_two_cores_and(edge_config: impl FnOnce(String) -> EdgeConfig) -> Self {
        Self::start(edge_config, true).await
    }

    /// The edge's `chat_edge_links_opened_total`: links it opened so far
    /// (the first, and one after each that broke or failed).
    pub async fn links_opened(&self) -> u64 {
        let url = format!("http://{}/metrics", self.rest_addr);
        let response = within(self.http.get(url).send()).await.expect("metrics");
        let text = within(response.text()).await.expect("a text body");
        let line = text
            .lines()
            .find(|line| line.starts_with("chat_edge_links_opened_total "))
            .expect("the links counter");
        let value = line.rsplit(' ').next().expect("a value");
        value.parse().expect("a count")
    }

    async fn start(edge_config: impl FnOnce(String) -> EdgeConfig, two_cores: bool) -> Self {
        let db = TestDatabase::create().expect("a fresh test database");
        let core = spawn_core(db.connection_string()).await;
        let second_core = match two_cores {
            true => Some(spawn_core(db.connection_string()).await),
            false => None,
        };
        let rest = TcpListener::bind("127.0.0.1:0").await.expect("bind edge");
        let ws = TcpListener::bind("127.0.0.1:0").await.expect("bind edge");
        let (rest_addr, ws_addr) = (rest.local_addr().unwrap(), ws.local_addr().unwrap());
        let proxy = match &second_core {
            Some(_) => Some(Proxy::start(core.addr()).await),
            None => None,
        };
        let urls = match (&second_core, &proxy) {
            (Some(second), Some(proxy)) => format!("http://{},{}", proxy.addr, second.url),
            _ => core.url.clone(),
        };
        let edge_config = edge_config(urls);
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
            core_url: core.url,
            core_shutdown: core.shutdown,
            core: Some(core.task),
            edge_shutdown,
            edge: Some(edge_task),
            second_core,
            proxy,
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

    /// Cuts the edge off the first of two cores at once, as a SIGKILL of
    /// the core would: its connections drop without a goodbye.
    pub async fn cut_core(&mut self) {
        if let Some(proxy) = &mut self.proxy {
            proxy.cut().await;
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
        if let Some(second) = &self.second_core {
            second.shutdown.cancel();
        }
    }
}

/// Another edge, linked to the second of two cores, with its own shutdown.
pub struct SecondEdge {
    pub ws_addr: SocketAddr,
    shutdown: CancellationToken,
}

impl TestApp {
    /// Starts an edge linked only to the second core (the app needs two).
    pub async fn second_edge(&self) -> SecondEdge {
        let core = self.second_core.as_ref().expect("an app with two cores");
        let ws = TcpListener::bind("127.0.0.1:0").await.expect("bind edge");
        let ws_addr = ws.local_addr().expect("edge address");
        let shutdown = CancellationToken::new();
        let config = edge_config(core.url.clone());
        tokio::spawn(edge::run(vec![ws], config, shutdown.clone()));
        SecondEdge { ws_addr, shutdown }
    }
}

impl SecondEdge {
    /// `user`'s socket to `room` on this edge, token in the header.
    pub async fn ws(&self, user: &User, room: i64) -> super::Ws {
        super::ws::connect(self.ws_addr, &format!("/ws/chat/{room}/"), &user.token).await
    }
}

impl Drop for SecondEdge {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
