//! The send path's pgbench ceiling with and without the bookkeeping of the
//! event feed (the `tx` columns and their indexes) and of the webhooks (the
//! trigger, enabled by the connection setting `chat.webhooks=on`, queueing
//! one delivery per message: no recipient here has a session).

use std::process::Stdio;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::{ceiling::pgbench_binary, system::System};

const SCRIPT: &str = include_str!("send.pgbench");

/// The best of several runs of each variant, interleaved.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Bookkeeping {
    pub clients: usize,
    pub without_per_sec: f64,
    /// The feed's bookkeeping only: what every send pays (a core with no
    /// webhook, or a recipient with a socket open).
    pub feed_only_per_sec: f64,
    /// The feed's, and a webhook queued for every message (no recipient
    /// has a session): the worst case.
    pub with_per_sec: f64,
    /// `feed_only / without - 1`, negative when the bookkeeping costs.
    pub feed_only_change: f64,
    /// `with / without - 1`.
    pub change: f64,
}

pub async fn run(
    system: &System,
    rooms: usize,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<Bookkeeping> {
    prepare(system, "bare", rooms, true).await?;
    prepare(system, "bookkept", rooms, false).await?;
    let seconds = seconds.ceil() as u64;
    let (mut without, mut feed_only, mut with) = (0.0f64, 0.0f64, 0.0f64);
    for _ in 0..2 {
        without = without.max(pgbench(system, "bare", rooms, clients, seconds, "").await?);
        feed_only = feed_only.max(pgbench(system, "bookkept", rooms, clients, seconds, "").await?);
        let on = "-c chat.webhooks=on";
        with = with.max(pgbench(system, "bookkept", rooms, clients, seconds, on).await?);
    }
    eprintln!(
        "pgbench send path: {without:.0}/s bare, {feed_only:.0}/s with the feed's bookkeeping, \
         {with:.0}/s with a webhook queued per message too"
    );
    Ok(Bookkeeping {
        clients,
        without_per_sec: without,
        feed_only_per_sec: feed_only,
        with_per_sec: with,
        feed_only_change: feed_only / without.max(1.0) - 1.0,
        change: with / without.max(1.0) - 1.0,
    })
}

/// A database with the schema and `rooms` rooms (no sessions); `bare`
/// drops what the feed and the webhooks add to the send path.
async fn prepare(system: &System, name: &str, rooms: usize, bare: bool) -> anyhow::Result<()> {
    system.pg.ensure_database(name)?;
    let url = system.pg.connection_string(name);
    core_svc::store::Store::connect(&url, 1)?.migrate().await?;
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    db.batch_execute(&format!(
        "INSERT INTO users (sub) SELECT 'bench-' || g FROM generate_series(1, {users}) g;
         INSERT INTO rooms (user_lo, user_hi) SELECT 2 * g - 1, 2 * g FROM generate_series(1, {rooms}) g;
         ANALYZE;",
        users = rooms * 2
    ))
    .await?;
    if bare {
        db.batch_execute(
            "DROP TRIGGER messages_enqueue_webhook ON messages;
             ALTER TABLE room_events DROP COLUMN tx;
             ALTER TABLE rooms DROP COLUMN tx;",
        )
        .await?;
    }
    Ok(())
}

async fn pgbench(
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
