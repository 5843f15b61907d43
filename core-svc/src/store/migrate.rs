//! Applies the SQL files of `migrations/` in order, once each.
//!
//! Safe when several instances start at once: the whole run holds a
//! session-level advisory lock, so one instance migrates while the others
//! wait and then find nothing left to do.

use super::Store;
use crate::error::Error;

/// Every migration, in order: (version, name, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../../migrations/0001_init.sql")),
    (
        2,
        "instances",
        include_str!("../../../migrations/0002_instances.sql"),
    ),
    (
        3,
        "send_function",
        include_str!("../../../migrations/0003_send_function.sql"),
    ),
    (
        4,
        "end_sessions",
        include_str!("../../../migrations/0004_end_sessions.sql"),
    ),
    (
        5,
        "send_returns_events",
        include_str!("../../../migrations/0005_send_returns_events.sql"),
    ),
    (
        6,
        "event_feed_and_webhooks",
        include_str!("../../../migrations/0006_event_feed_and_webhooks.sql"),
    ),
    (
        7,
        "edge_sockets",
        include_str!("../../../migrations/0007_edge_sockets.sql"),
    ),
    (
        8,
        "cheaper_feed_and_webhook_bookkeeping",
        include_str!("../../../migrations/0008_cheaper_feed_and_webhook_bookkeeping.sql"),
    ),
    (
        9,
        "conversations",
        include_str!("../../../migrations/0009_conversations.sql"),
    ),
    (
        10,
        "presence_and_typing",
        include_str!("../../../migrations/0010_presence_and_typing.sql"),
    ),
    (
        11,
        "user_sessions",
        include_str!("../../../migrations/0011_user_sessions.sql"),
    ),
];

/// An arbitrary constant naming this service's migration lock.
const MIGRATION_LOCK: i64 = 0x6368_6174_6d69_6772; // "chatmigr"

impl Store {
    /// Brings the schema up to date; returns how many migrations ran.
    pub async fn migrate(&self) -> Result<usize, Error> {
        let mut client = self.client().await?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        let result = apply_pending(&mut client).await;
        let unlock = client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await;
        let applied = result?;
        unlock?;
        Ok(applied)
    }
}

/// Creates the bookkeeping table on first start. Checked first rather than
/// `CREATE TABLE IF NOT EXISTS`, whose NOTICE would be logged at every start;
/// the advisory lock rules out a race between the check and the create.
async fn ensure_bookkeeping(client: &deadpool_postgres::Object) -> Result<(), Error> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('schema_migrations') IS NOT NULL AS present",
            &[],
        )
        .await?
        .try_get("present")?;
    if !exists {
        client
            .batch_execute(
                "CREATE TABLE schema_migrations (
                     version    BIGINT PRIMARY KEY,
                     name       TEXT NOT NULL,
                     applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                 )",
            )
            .await?;
    }
    Ok(())
}

async fn apply_pending(client: &mut deadpool_postgres::Object) -> Result<usize, Error> {
    ensure_bookkeeping(client).await?;
    let mut applied = 0;
    for &(version, name, sql) in MIGRATIONS {
        let tx = client.transaction().await?;
        let done = tx
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[&version],
            )
            .await?
            .is_some();
        if !done {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&version, &name],
            )
            .await?;
            tracing::info!(version, name, "migration applied");
            applied += 1;
        }
        tx.commit().await?;
    }
    Ok(applied)
}
