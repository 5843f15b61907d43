//! The machine's ceilings, measured in the same run: PostgreSQL running the
//! core's per-message SQL under pgbench, and a minimal WebSocket echo on the
//! same stack (axum + tungstenite) as the edge.

use std::{
    net::SocketAddr,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use axum::{
    Router,
    extract::ws::{Message as AxumMessage, WebSocket, WebSocketUpgrade},
    routing::get,
};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio_tungstenite::{connect_async, tungstenite::Message};

use crate::{steady::Step, system::System};

const SCRIPT: &str = include_str!("send.pgbench");

/// pgbench at one number of clients.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct PgbenchRun {
    pub clients: usize,
    pub per_sec: f64,
}

/// Messages per second PostgreSQL commits with the core's send transaction
/// at each of `clients` connections (up to the core's pool), `seconds` each,
/// on a copy of the schema with `rooms` rooms. The ceiling is the best of
/// them: more clients than the disk and cores can use only queue.
pub async fn pgbench(
    system: &System,
    rooms: usize,
    clients: &[usize],
    seconds: u64,
) -> anyhow::Result<Vec<PgbenchRun>> {
    prepare(system, "ceiling", rooms, Sessions::Everyone).await?;
    let mut runs = Vec::with_capacity(clients.len());
    for &clients in clients {
        let per_sec = pgbench_run(system, "ceiling", rooms, clients, seconds, "").await?;
        runs.push(PgbenchRun { clients, per_sec });
    }
    Ok(runs)
}

/// Who has a session in the rooms of a pgbench database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sessions {
    /// Both members of every room: every message is read at once.
    Everyone,
    /// Nobody: every recipient is offline.
    Nobody,
}

/// A database `name` with the schema and `rooms` rooms of two users each.
pub(crate) async fn prepare(
    system: &System,
    name: &str,
    rooms: usize,
    sessions: Sessions,
) -> anyhow::Result<tokio_postgres::Client> {
    system.pg.ensure_database(name)?;
    let url = system.pg.connection_string(name);
    core_svc::store::Store::connect(&url, 1)?.migrate().await?;
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let sessions = match sessions {
        Sessions::Everyone => {
            "INSERT INTO room_sessions (room_id, user_id, instance_id)
             SELECT r.id, u, gen_random_uuid() FROM rooms r, unnest(ARRAY[r.user_lo, r.user_hi]) u;"
        }
        Sessions::Nobody => "",
    };
    db.batch_execute(&format!(
        "INSERT INTO users (sub) SELECT 'bench-' || g FROM generate_series(1, {users}) g;
         INSERT INTO rooms (user_lo, user_hi) SELECT 2 * g - 1, 2 * g FROM generate_series(1, {rooms}) g;
         {sessions}
         ANALYZE;",
        users = rooms * 2
    ))
    .await?;
    Ok(db)
}

/// Sends per second of one pgbench run of the send script on `database`,
/// with `options` as the connections' `PGOPTIONS`.
pub(crate) async fn pgbench_run(
    system: &System,
    database: &str,
    rooms: usize,
    clients: usize,
    seconds: u64,
    options: &str,
) -> anyhow::Result<f64> {
    let script = tempfile::NamedTempFile::new()?;
    std::fs::write(script.path(), SCRIPT)?;
    let output = tokio::process::Command::new(pgbench_binary())
        .env("PGOPTIONS", options)
        .args(["-n", "-M", "prepared", "-j", "2"])
        .args(["-c", &clients.to_string(), "-T", &seconds.to_string()])
        .args(["-D", &format!("rooms={rooms}")])
        .args(["-h", &system.pg.socket_dir().display().to_string()])
        .args(["-p", &system.pg.port().to_string(), "-U", "postgres", "-f"])
        .arg(script.path())
        .arg(database)
        .stderr(Stdio::piped())
        .output()
        .await
        .context("running pgbench")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .with_context(|| format!("no tps in pgbench output: {stdout}"))
}

fn pgbench_binary() -> String {
    let bindir = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output();
    match bindir {
        Ok(out) if out.status.success() => {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let path = std::path::Path::new(&dir).join("pgbench");
            if path.exists() {
                return path.display().to_string();
            }
            "pgbench".into()
        }
        _ => "pgbench".into(),
    }
}

/// Starts the echo server on a free port.
pub async fn echo_server() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route(
        "/echo",
        get(|upgrade: WebSocketUpgrade| async move { upgrade.on_upgrade(echo) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if let AxumMessage::Text(_) = message
            && socket.send(message).await.is_err()
        {
            return;
        }
    }
}

/// Round trips through the echo server at `rate` frames per second in total
/// over `sockets` sockets.
pub async fn echo_step(
    addr: SocketAddr,
    sockets: usize,
    rate: f64,
    seconds: f64,
) -> anyhow::Result<Step> {
    let epoch = Instant::now();
    let window = Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for index in 0..sockets {
        let (socket, _) = connect_async(format!("ws://{addr}/echo")).await?;
        let ticks = crate::pace::ticks(epoch, rate / sockets as f64, index, sockets);
        tasks.push(tokio::spawn(echo_client(socket, ticks, epoch, window)));
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut sent, mut received) = (0, 0);
    for task in tasks {
        let (s, r, h) = task.await??;
        sent += s;
        received += r;
        histogram.add(&h)?;
    }
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    Ok(Step {
        offered_per_sec: rate,
        delivered_per_sec: received as f64 / seconds,
        sent,
        delivered: received,
        errors: sent - received.min(sent),
        p50_ms: ms(0.5),
        p90_ms: ms(0.9),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: histogram.max() as f64 / 1000.0,
        cpu_ms_per_message: None,
        statements: None,
    })
}

type EchoOutcome = (u64, u64, Histogram<u64>);

async fn echo_client(
    socket: crate::ws::Socket,
    mut ticks: tokio::time::Interval,
    epoch: Instant,
    window: Duration,
) -> anyhow::Result<EchoOutcome> {
    let (mut sink, mut stream) = socket.split();
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut sent, mut received) = (0u64, 0u64);
    let drain_until = epoch + window + Duration::from_secs(2);
    loop {
        let sending = Instant::now() < epoch + window;
        tokio::select! {
            _ = ticks.tick(), if sending => {
                let frame = serde_json::json!({"message": epoch.elapsed().as_micros().to_string()}).to_string();
                sink.send(Message::Text(frame.into())).await?;
                sent += 1;
            }
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let value: serde_json::Value = serde_json::from_str(&text)?;
                    let stamp: u64 = value["message"].as_str().unwrap_or("0").parse().unwrap_or(0);
                    histogram.saturating_record((epoch.elapsed().as_micros() as u64).saturating_sub(stamp).max(1));
                    received += 1;
                    if !sending && received >= sent { break; }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            _ = tokio::time::sleep_until(drain_until.into()) => break,
        }
    }
    let _ = sink.close().await;
    Ok((sent, received, histogram))
}
