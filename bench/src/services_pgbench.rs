//! The send path's pgbench ceiling with and without the bookkeeping of the
//! event feed (the `tx` columns and their indexes) and of the webhooks (the
//! trigger, enabled by the connection setting `chat.webhooks=on`, queueing
//! one delivery per message: no recipient here has a session).

use serde::Serialize;

use crate::{
    ceiling::{self, Sessions, pgbench_run},
    system::System,
};

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
        without = without.max(pgbench_run(system, "bare", rooms, clients, seconds, "").await?);
        feed_only =
            feed_only.max(pgbench_run(system, "bookkept", rooms, clients, seconds, "").await?);
        let on = "-c chat.webhooks=on";
        with = with.max(pgbench_run(system, "bookkept", rooms, clients, seconds, on).await?);
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
    let db = ceiling::prepare(system, name, rooms, Sessions::Nobody).await?;
    if bare {
        db.batch_execute(
            "DROP TRIGGER messages_enqueue_webhook ON messages;
             DROP TRIGGER rooms_feed_relabel ON rooms;
             ALTER TABLE room_events DROP COLUMN tx;
             ALTER TABLE rooms DROP COLUMN tx, DROP COLUMN feed_label;",
        )
        .await?;
    }
    Ok(())
}
