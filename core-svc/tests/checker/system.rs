//! Two cores (separate processes, so they can be killed) and in-process
//! edges on one restartable PostgreSQL: two edges (edge i talks to core i),
//! or one edge whose `CHAT_CORE_URL` lists both cores.

use std::{
    collections::HashMap, net::SocketAddr, os::unix::fs::PermissionsExt, path::PathBuf,
    time::Duration,
};

use chat_proto::v1::{
    self as pb, room_service_client::RoomServiceClient, user_service_client::UserServiceClient,
};
use core_svc::auth::dev_token;
use pg_local::LocalPostgres;
use service_kit::dev_token::mint_service;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, transport::Channel};

use crate::core_process::CoreProcess;

pub const SECRET: &str = "checker-secret-of-at-least-32-bytes!";

pub struct System {
    _dir: tempfile::TempDir,
    data: PathBuf,
    pg: Option<LocalPostgres>,
    pub url: String,
    pub cores: Vec<CoreProcess>,
    pub edges: Vec<SocketAddr>,
    edge_shutdown: CancellationToken,
}

/// Which edges talk to which cores.
#[derive(Debug, Clone, Copy)]
pub enum Edges {
    /// Edge i talks to core i only.
    OnePerCore,
    /// One edge, whose `CHAT_CORE_URL` lists core 0, then core 1.
    OneForBoth,
}

/// A user of the system and the room they chat in.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub token: String,
    pub room: i64,
}

/// A user of the system.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub token: String,
    pub id: i64,
}

impl User {
    fn member(&self, room: i64) -> Member {
        Member {
            name: self.name.clone(),
            token: self.token.clone(),
            room,
        }
    }
}

impl System {
    /// Starts everything; `ws_stall` is how long an edge lets a socket's
    /// queue stay full before closing it (1013).
    pub async fn start(ws_stall: Duration, layout: Edges) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("pg");
        let pg = start_postgres(data.clone()).await;
        pg.ensure_database("chat").unwrap();
        let url = pg.connection_string("chat");
        let mut cores = Vec::new();
        for _ in 0..2 {
            cores.push(CoreProcess::spawn(&url, SECRET).await);
        }
        let edge_shutdown = CancellationToken::new();
        let urls: Vec<String> = cores
            .iter()
            .map(|core| format!("http://{}", core.addr))
            .collect();
        let edge_urls = match layout {
            Edges::OnePerCore => urls,
            Edges::OneForBoth => vec![urls.join(",")],
        };
        let mut edges = Vec::new();
        for core_url in edge_urls {
            edges.push(start_edge(core_url, ws_stall, edge_shutdown.clone()).await);
        }
        Self {
            _dir: dir,
            data,
            pg: Some(pg),
            url,
            cores,
            edges,
            edge_shutdown,
        }
    }

    /// `rooms` direct rooms of two fresh users each, made through core 0.
    pub async fn members(&self, rooms: usize) -> Vec<Member> {
        let mut members = Vec::new();
        for r in 0..rooms {
            let pair = [
                self.user(&format!("r{r}-a")).await,
                self.user(&format!("r{r}-b")).await,
            ];
            let room = self.room(&pair).await;
            for user in pair {
                members.push(user.member(room));
            }
        }
        members
    }

    /// A star: user `hub` in a direct room with each of `peers` fresh users.
    /// Returns the hub, and for each room its hub member then its peer.
    pub async fn star(&self, peers: usize) -> (User, Vec<Member>) {
        let hub = self.user("hub").await;
        let mut members = Vec::new();
        for p in 0..peers {
            let peer = self.user(&format!("p{p}")).await;
            let room = self.room(&[hub.clone(), peer.clone()]).await;
            let mut on_hub = hub.member(room);
            on_hub.name = format!("hub-r{p}");
            members.extend([on_hub, peer.member(room)]);
        }
        (hub, members)
    }

    /// A user made through core 0.
    pub async fn user(&self, name: &str) -> User {
        let token = dev_token(SECRET, name, "", Duration::from_secs(3600));
        let me = UserServiceClient::new(channel(&self.cores[0].addr))
            .who_am_i(authed(&token, pb::WhoAmIRequest {}))
            .await
            .unwrap();
        User {
            name: name.to_owned(),
            token,
            id: me.into_inner().id,
        }
    }

    /// The direct room of `pair`, made through core 0.
    async fn room(&self, pair: &[User; 2]) -> i64 {
        let request = pb::GetOrCreateDirectRoomRequest {
            user_id_1: pair[0].id,
            user_id_2: pair[1].id,
        };
        RoomServiceClient::new(channel(&self.cores[0].addr))
            .get_or_create_direct_room(authed(&pair[0].token, request))
            .await
            .unwrap()
            .into_inner()
            .room_id
    }

    /// Stops PostgreSQL for `downtime`, then starts it again on the same data.
    pub async fn restart_postgres(&mut self, downtime: Duration) {
        let pg = self.pg.take().expect("PostgreSQL is running");
        tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
        tokio::time::sleep(downtime).await;
        self.pg = Some(start_postgres(self.data.clone()).await);
    }

    /// Terminates every core's LISTEN connection; returns how many.
    pub async fn terminate_listeners(&self) -> i64 {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE application_name = 'chat-listener'",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// How many rows `core_instances` holds: live cores and linked edges,
    /// and the dead until a live core reaps them.
    pub async fn instances(&self) -> i64 {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .query_one("SELECT count(*) FROM core_instances", &[])
            .await
            .unwrap()
            .get(0)
    }

    /// The value of `series` on core `core`'s `/metrics`.
    pub async fn gauge(&self, core: usize, series: &str) -> i64 {
        let url = format!("http://{}/metrics", self.cores[core].metrics_addr);
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{series} missing from\n{text}"))
    }

    /// The unread count of `user` in each of their rooms.
    pub async fn unread_counts(&self, user: i64) -> HashMap<i64, i64> {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .query(
                "SELECT id, CASE WHEN user_lo = $1 THEN unread_lo ELSE unread_hi END::bigint
                 FROM rooms WHERE user_lo = $1 OR user_hi = $1",
                &[&user],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }

    /// Every room's latest sequence number.
    pub async fn room_heads(&self) -> Vec<(i64, i64)> {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .query("SELECT id, last_seq FROM rooms ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    }
}

impl Drop for System {
    fn drop(&mut self) {
        self.edge_shutdown.cancel();
    }
}

async fn start_postgres(data: PathBuf) -> LocalPostgres {
    tokio::task::spawn_blocking(move || LocalPostgres::start_persistent(&data))
        .await
        .unwrap()
        .expect("PostgreSQL starts")
}

async fn start_edge(
    core_url: String,
    ws_stall: Duration,
    shutdown: CancellationToken,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = edge::config::Config::new(core_url);
    let edge_token = mint_service(
        SECRET,
        "checker-edge",
        "chat:edge",
        Duration::from_secs(3600),
    );
    config.edge_token = Some(edge::config::Secret::new(edge_token));
    config.ws_queue = 8;
    // The checker retries sends in bursts; the rate limit is tested elsewhere.
    config.ws_rate_per_sec = 100_000;
    config.ws_rate_burst = 100_000;
    config.ws_stall_ms = ws_stall.as_millis() as u64;
    tokio::spawn(edge::run(vec![listener], config, shutdown));
    addr
}

/// A lazily connected channel to the core at `addr`.
pub fn channel(addr: &str) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy()
}

/// `message` with `token` as its bearer.
pub fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}
