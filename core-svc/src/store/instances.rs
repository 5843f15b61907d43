//! Core instances: heartbeats, sessions of dead instances, and the
//! cross-instance "room committed up to seq" signals.

use std::time::Duration;

use uuid::Uuid;

use super::{Store, rows};
use crate::{domain::RoomId, error::Error};

/// The PostgreSQL channel on which instances announce committed events.
pub const EVENTS_CHANNEL: &str = "chat_events";

impl Store {
    /// Records that `instance` is alive, and removes its sessions that are
    /// not among `live` and older than `grace` (a close that failed to be
    /// recorded). Returns how many sessions were removed.
    pub async fn heartbeat(
        &self,
        instance: Uuid,
        live: &[i64],
        grace: Duration,
    ) -> Result<u64, Error> {
        let client = self.client().await?;
        let beat = client
            .prepare_cached(
                "INSERT INTO core_instances (id) VALUES ($1)
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
            )
            .await?;
        client.execute(&beat, &[&instance]).await?;
        let stale = client
            .prepare_cached(
                "SELECT chat_end_sessions(ARRAY(
                     SELECT id FROM room_sessions
                     WHERE instance_id = $1 AND NOT (id = ANY($2))
                       AND opened_at < now() - make_interval(secs => $3)
                 )) AS ended",
            )
            .await?;
        let row = client
            .query_one(&stale, &[&instance, &live, &grace.as_secs_f64()])
            .await?;
        ended(&row)
    }

    /// Removes instances whose last heartbeat is older than `ttl`, with
    /// their sessions; the users left with no session go offline. Returns
    /// how many sessions ended.
    pub async fn reap_instances(&self, ttl: Duration) -> Result<u64, Error> {
        let client = self.client().await?;
        let reap = client
            .prepare_cached(
                "WITH dead AS (
                     DELETE FROM core_instances
                     WHERE heartbeat_at < now() - make_interval(secs => $1)
                     RETURNING id
                 )
                 SELECT chat_end_sessions(ARRAY(
                     SELECT s.id FROM room_sessions s JOIN dead ON s.instance_id = dead.id
                 )) AS ended",
            )
            .await?;
        ended(&client.query_one(&reap, &[&ttl.as_secs_f64()]).await?)
    }

    /// Removes a stopping instance and whatever sessions it still holds.
    pub async fn retire_instance(&self, instance: Uuid) -> Result<(), Error> {
        let client = self.client().await?;
        let retire = client
            .prepare_cached(
                "WITH dead AS (
                     DELETE FROM core_instances WHERE id = $1
                 )
                 SELECT chat_end_sessions(ARRAY(
                     SELECT id FROM room_sessions WHERE instance_id = $1
                 ))",
            )
            .await?;
        client.execute(&retire, &[&instance]).await?;
        Ok(())
    }

    /// The latest sequence number of each of `rooms`. The answer is two
    /// arrays in one row, not a row per room: the poll asks for every room
    /// with a local subscriber each second, and tens of thousands of rows
    /// cost the client an allocation or two apiece.
    pub async fn room_heads(&self, rooms: &[RoomId]) -> Result<Vec<(RoomId, i64)>, Error> {
        let ids: Vec<i64> = rooms.iter().map(|room| room.get()).collect();
        let client = self.client().await?;
        // Both aggregates read the same rows in the same order.
        let select = client
            .prepare_cached(
                "SELECT coalesce(array_agg(id), '{}') AS ids,
                        coalesce(array_agg(last_seq), '{}') AS heads
                 FROM rooms WHERE id = ANY($1)",
            )
            .await?;
        let row = client.query_one(&select, &[&ids]).await?;
        let (ids, heads): (Vec<i64>, Vec<i64>) = (row.try_get("ids")?, row.try_get("heads")?);
        ids.into_iter()
            .zip(heads)
            .map(|(id, head)| Ok((rows::id(id, RoomId::parse)?, head)))
            .collect()
    }

    /// Announces committed events to every instance (one NOTIFY).
    ///
    /// The announcement is a hint about events already durable in their own
    /// transactions, so its commit does not wait for the WAL flush
    /// (`synchronous_commit` off for this transaction only: the setting is
    /// read at commit, before a local setting is undone). Lost in a crash,
    /// it costs the other instances one poll interval, never an event.
    pub async fn notify_committed(&self, payload: &str) -> Result<(), Error> {
        let client = self.client().await?;
        let notify = client
            .prepare_cached(
                "SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)",
            )
            .await?;
        client
            .execute(&notify, &[&EVENTS_CHANNEL, &payload])
            .await?;
        Ok(())
    }

    /// The connection settings, for connections outside the pool.
    pub fn connection_config(&self) -> &tokio_postgres::Config {
        &self.config
    }
}

/// The count `chat_end_sessions` (migrations/0004) returns, as `ended`.
fn ended(row: &tokio_postgres::Row) -> Result<u64, Error> {
    let ended: i64 = row.try_get("ended")?;
    u64::try_from(ended).map_err(|err| Error::Internal(err.into()))
}
