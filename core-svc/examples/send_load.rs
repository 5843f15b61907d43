//! Send throughput of one or more core instances on one durable PostgreSQL.
//!
//! `cargo run --release -p core-svc --example send_load -- --instances 2`
//!
//! R rooms × 2 members; every member sends flat out through instance
//! `member % N` and is subscribed through the next instance, so with two
//! instances every event crosses instances. Prints sends per second, send
//! latency percentiles, and how many events the subscribers received.

use std::{
    os::unix::fs::PermissionsExt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chat_proto::v1::{
    self as pb, message_service_client::MessageServiceClient,
    room_service_client::RoomServiceClient, user_service_client::UserServiceClient,
};
use clap::Parser;
use core_svc::{
    auth::dev_token,
    config::{AuthConfig, Config},
};
use tokio_util::sync::CancellationToken;
use tonic::{Request, transport::Channel};

const SECRET: &str = "load-test-secret-of-at-least-32-bytes";

#[derive(Parser)]
struct Args {
    /// Core instances sharing the database.
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Rooms, each with two members sending.
    #[arg(long, default_value_t = 16)]
    rooms: usize,
    /// How long to send.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let pg = tokio::task::spawn_blocking({
        let data = dir.path().join("pg");
        move || pg_local::LocalPostgres::start_persistent(&data)
    })
    .await??;
    pg.ensure_database("chat")?;
    let shutdown = CancellationToken::new();
    let mut channels = Vec::new();
    for _ in 0..args.instances {
        channels.push(start_core(pg.connection_string("chat"), shutdown.clone()).await?);
    }
    let members = setup(&channels[0], args.rooms).await?;
    let received = Arc::new(AtomicU64::new(0));
    for (i, member) in members.iter().enumerate() {
        let channel = channels[(i + 1) % channels.len()].clone();
        tokio::spawn(subscribe(channel, member.clone(), Arc::clone(&received)));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = received.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let senders: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(i, member)| {
            let channel = channels[i % channels.len()].clone();
            tokio::spawn(send_until(channel, member.clone(), deadline))
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::new();
    for sender in senders {
        latencies.extend(sender.await??);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    report(
        &args,
        &mut latencies,
        received.load(Ordering::Relaxed) - before,
    );
    shutdown.cancel();
    Ok(())
}

async fn start_core(url: String, shutdown: CancellationToken) -> anyhow::Result<Channel> {
    let mut config = Config::new(url);
    config.auth = AuthConfig::hs256(SECRET);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(core_svc::run(listener, config, shutdown));
    let channel = Channel::from_shared(format!("http://{addr}"))?.connect_lazy();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    while health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(channel)
}

#[derive(Clone)]
struct Member {
    token: String,
    room: i64,
}

fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let value = format!("Bearer {token}").parse().expect("ascii token");
    request.metadata_mut().insert("authorization", value);
    request
}

async fn setup(channel: &Channel, rooms: usize) -> anyhow::Result<Vec<Member>> {
    let mut users = UserServiceClient::new(channel.clone());
    let mut room_client = RoomServiceClient::new(channel.clone());
    let mut members = Vec::new();
    for r in 0..rooms {
        let tokens: Vec<String> = (0..2)
            .map(|m| {
                dev_token(
                    SECRET,
                    &format!("load-{r}-{m}"),
                    "",
                    Duration::from_secs(3600),
                )
            })
            .collect();
        let mut ids = Vec::new();
        for token in &tokens {
            ids.push(
                users
                    .who_am_i(authed(token, pb::WhoAmIRequest {}))
                    .await?
                    .into_inner()
                    .id,
            );
        }
        let request = pb::GetOrCreateDirectRoomRequest {
            user_id_1: ids[0],
            user_id_2: ids[1],
        };
        let room = room_client
            .get_or_create_direct_room(authed(&tokens[0], request))
            .await?
            .into_inner()
            .room_id;
        members.extend(tokens.into_iter().map(|token| Member { token, room }));
    }
    Ok(members)
}

async fn subscribe(
    channel: Channel,
    member: Member,
    received: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let request = pb::SubscribeRequest {
        room_id: member.room,
        history_limit: Some(0),
        after_seq: None,
    };
    let mut stream = RoomServiceClient::new(channel)
        .subscribe(authed(&member.token, request))
        .await?
        .into_inner();
    while stream.message().await?.is_some() {
        received.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

async fn send_until(
    channel: Channel,
    member: Member,
    deadline: Instant,
) -> anyhow::Result<Vec<Duration>> {
    let mut client = MessageServiceClient::new(channel);
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let request = pb::SendMessageRequest {
            room_id: member.room,
            text: "load".into(),
            client_msg_id: String::new(),
        };
        let started = Instant::now();
        client.send_message(authed(&member.token, request)).await?;
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

fn report(args: &Args, latencies: &mut [Duration], received: u64) {
    latencies.sort();
    let sent = latencies.len();
    let at = |q: f64| latencies[((sent as f64 * q) as usize).min(sent - 1)];
    // Both members subscribed: every send makes created, delivered and read,
    // each seen by two subscribers.
    let expected = sent as u64 * 3 * 2;
    println!(
        "instances={} rooms={} senders={} seconds={} sends={} sends_per_sec={:.0} \
         p50_ms={:.2} p99_ms={:.2} max_ms={:.2} events_received={}/{}",
        args.instances,
        args.rooms,
        args.rooms * 2,
        args.seconds,
        sent,
        sent as f64 / args.seconds as f64,
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies[sent - 1].as_secs_f64() * 1e3,
        received,
        expected
    );
}
