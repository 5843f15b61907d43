//! The room list's cost, and the send path's price for keeping it.
//!
//! 1. The first page (50) of `ListConversations` for a user with `rooms`
//!    rooms, each with messages, against a user with one room: both users
//!    are made and filled in SQL through `chat_send_message`, so the
//!    bookkeeping is what sends leave; the calls go through the core, one
//!    at a time.
//! 2. pgbench of the send script on two copies of the schema, one with the
//!    room list's bookkeeping (migrations/0009) and one with it undone
//!    (0005's send function back, the trigger and the activity indexes
//!    dropped), interleaved, best of two runs each. No recipient has a
//!    session, so every message counts as unread: the costly case.

use std::time::{Duration, Instant};

use chat_proto::v1::{self as pb, conversation_service_client::ConversationServiceClient};
use core_svc::auth::dev_token;
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::{
    ceiling::{self, Sessions, pgbench_run},
    population::{authed, channel},
    system::{SECRET, System},
};

/// 0005's send function: the send path before the bookkeeping.
const SEND_BEFORE: &str = include_str!("../../migrations/0005_send_returns_events.sql");

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Conversations {
    pub rooms: usize,
    pub calls: usize,
    pub many_p50_ms: f64,
    pub many_p99_ms: f64,
    pub one_p50_ms: f64,
    pub one_p99_ms: f64,
    /// `many_p99 / one_p99`; the target is at most 2.
    pub p99_ratio: f64,
    /// A user with 50 rooms: a first page as full as the many-rooms user's,
    /// so that the ratio below compares the number of rooms alone.
    pub fifty_p50_ms: f64,
    pub fifty_p99_ms: f64,
    /// `many_p99 / fifty_p99`.
    pub p99_ratio_to_full_page: f64,
    /// With `--statements`: PostgreSQL's mean execution time of the page
    /// query for each user (pg_stat_statements), the rest of a call being
    /// the core, the encoding and the round trip.
    pub many_db_ms: Option<f64>,
    pub one_db_ms: Option<f64>,
    pub fifty_db_ms: Option<f64>,
    pub pgbench_clients: usize,
    pub send_before_per_sec: f64,
    pub send_after_per_sec: f64,
    /// `after / before - 1`; the target is no worse than −0.20.
    pub send_change: f64,
}

pub async fn run(
    system: &System,
    rooms: usize,
    calls: usize,
    pgbench_clients: usize,
    seconds: f64,
    statements: bool,
) -> anyhow::Result<Conversations> {
    // The core may still be migrating: the port opens first.
    let url = system.database_url();
    core_svc::store::Store::connect(&url, 1)?.migrate().await?;
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    fill(&db, "conv-many", rooms, 3).await?;
    fill(&db, "conv-one", 1, 3).await?;
    fill(&db, "conv-fifty", 50, 3).await?;
    let (many, many_db_ms) = first_pages(system, "conv-many", calls, statements).await?;
    let (one, one_db_ms) = first_pages(system, "conv-one", calls, statements).await?;
    let (fifty, fifty_db_ms) = first_pages(system, "conv-fifty", calls, statements).await?;
    let (before, after) = send_ceilings(system, pgbench_clients, seconds).await?;
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let figures = Conversations {
        rooms,
        calls,
        many_p50_ms: ms(&many, 0.5),
        many_p99_ms: ms(&many, 0.99),
        one_p50_ms: ms(&one, 0.5),
        one_p99_ms: ms(&one, 0.99),
        p99_ratio: ms(&many, 0.99) / ms(&one, 0.99).max(0.001),
        fifty_p50_ms: ms(&fifty, 0.5),
        fifty_p99_ms: ms(&fifty, 0.99),
        p99_ratio_to_full_page: ms(&many, 0.99) / ms(&fifty, 0.99).max(0.001),
        many_db_ms,
        one_db_ms,
        fifty_db_ms,
        pgbench_clients,
        send_before_per_sec: before,
        send_after_per_sec: after,
        send_change: after / before.max(1.0) - 1.0,
    };
    Ok(figures)
}

/// User `sub` with `rooms` rooms, one new peer each, and `messages`
/// messages in each room from both sides, the last from the peer.
async fn fill(
    db: &tokio_postgres::Client,
    sub: &str,
    rooms: usize,
    messages: usize,
) -> anyhow::Result<()> {
    db.batch_execute(&format!(
        "INSERT INTO users (sub) VALUES ('{sub}');
         INSERT INTO users (sub) SELECT '{sub}-peer-' || g FROM generate_series(1, {rooms}) g;
         INSERT INTO rooms (user_lo, user_hi)
             SELECT me.id, p.id FROM users me, users p
             WHERE me.sub = '{sub}' AND p.sub LIKE '{sub}-peer-%';
         SELECT count(*) FROM rooms r, generate_series(1, {messages}) n,
             LATERAL chat_send_message(r.id,
                 CASE WHEN n % 2 = 1 THEN r.user_hi ELSE r.user_lo END, 'message ' || n, NULL)
             WHERE r.user_lo = (SELECT id FROM users WHERE sub = '{sub}');
         ANALYZE;"
    ))
    .await?;
    Ok(())
}

/// The text that marks the page query in `pg_stat_statements`.
const PAGE_QUERY_MARKER: &str = "WITH mine AS";

/// The latency of `calls` first pages of `sub`'s room list, one at a time,
/// and (with `statements`) the page query's mean time in PostgreSQL.
async fn first_pages(
    system: &System,
    sub: &str,
    calls: usize,
    statements: bool,
) -> anyhow::Result<(Histogram<u64>, Option<f64>)> {
    let token = dev_token(SECRET, sub, "", Duration::from_secs(3_600));
    let mut client = ConversationServiceClient::new(channel(system.core.addr));
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let ask = || authed(&token, pb::ListConversationsRequest::default());
    // Warm the user cache, the prepared statements and the buffers.
    for _ in 0..20 {
        client.list_conversations(ask()).await?;
    }
    if statements {
        crate::statements::reset(system).await?;
    }
    for _ in 0..calls {
        let started = Instant::now();
        let page = client.list_conversations(ask()).await?.into_inner();
        histogram.saturating_record(started.elapsed().as_micros() as u64);
        anyhow::ensure!(!page.conversations.is_empty(), "{sub} has rooms");
    }
    let db_ms = match statements {
        true => crate::statements::mean_ms_of(system, PAGE_QUERY_MARKER).await?,
        false => None,
    };
    Ok((histogram, db_ms))
}

/// Sends per second without and with the bookkeeping, best of two each.
async fn send_ceilings(
    system: &System,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<(f64, f64)> {
    let rooms = clients.max(16);
    let before = ceiling::prepare(system, "convbefore", rooms, Sessions::Nobody).await?;
    before.batch_execute(&undo_bookkeeping()?).await?;
    ceiling::prepare(system, "convafter", rooms, Sessions::Nobody).await?;
    let seconds = seconds.ceil() as u64;
    let (mut without, mut with) = (0.0f64, 0.0f64);
    for _ in 0..2 {
        without =
            without.max(pgbench_run(system, "convbefore", rooms, clients, seconds, "").await?);
        with = with.max(pgbench_run(system, "convafter", rooms, clients, seconds, "").await?);
    }
    Ok((without, with))
}

/// SQL that puts the send path back as it was before migrations/0009.
fn undo_bookkeeping() -> anyhow::Result<String> {
    let start = SEND_BEFORE
        .find("CREATE FUNCTION chat_send_message")
        .ok_or_else(|| anyhow::anyhow!("0005 defines chat_send_message"))?;
    let end = SEND_BEFORE[start..]
        .find("\n$$;")
        .ok_or_else(|| anyhow::anyhow!("0005's function ends"))?;
    let function = &SEND_BEFORE[start..start + end + 4];
    Ok(format!(
        "DROP TRIGGER messages_bookkeeping ON messages;
         DROP INDEX rooms_lo_activity_idx;
         DROP INDEX rooms_hi_activity_idx;
         CREATE INDEX rooms_user_hi_idx ON rooms (user_hi);
         ALTER TABLE rooms DROP COLUMN unread_lo, DROP COLUMN unread_hi,
             DROP COLUMN activity_at, DROP COLUMN last_message_id;
         {}",
        function.replacen("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    ))
}
