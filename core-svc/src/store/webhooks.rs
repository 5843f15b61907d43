//! Pending webhook deliveries (`webhook_deliveries`, migrations/0006): the
//! send transaction's trigger enqueues them; workers of any core claim,
//! settle or reschedule them.
//!
//! A claim moves `next_attempt_at` past the attempt's end (the lease) and
//! counts the attempt; `FOR UPDATE SKIP LOCKED` keeps two claims apart, the
//! lease keeps a claimed delivery from other cores while it is tried, and
//! the attempt number fences a core whose lease ran out: its late outcome
//! changes nothing.

use std::{str::FromStr, time::Duration};

use time::OffsetDateTime;
use uuid::Uuid;

use super::Store;
use crate::error::Error;

/// The setting that makes a connection's new messages enqueue webhooks.
const ENQUEUE_OPTION: &str = "-c chat.webhooks=on";

/// A delivery this core may attempt until its lease ends.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Uuid,
    /// The exact body to sign and send.
    pub body: String,
    /// This attempt's number, from 1; it fences the outcome.
    pub attempt: i32,
    pub created_at: OffsetDateTime,
}

/// The backlog, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WebhookStats {
    pub pending: i64,
    /// Age of the oldest pending delivery; zero when none.
    pub oldest_age: Duration,
}

impl Store {
    /// [`Store::connect`], with every connection enqueueing a webhook for
    /// each message stored while its recipient has no session.
    pub fn connect_enqueuing_webhooks(url: &str, max_connections: usize) -> Result<Self, Error> {
        let mut config =
            tokio_postgres::Config::from_str(url).map_err(|err| Error::Internal(err.into()))?;
        let options = match config.get_options() {
            Some(options) if !options.is_empty() => format!("{options} {ENQUEUE_OPTION}"),
            _ => ENQUEUE_OPTION.to_owned(),
        };
        config.options(&options);
        Self::from_config(config, max_connections)
    }

    /// Claims up to `limit` due deliveries for `lease`.
    pub async fn claim_webhooks(&self, limit: i64, lease: Duration) -> Result<Vec<Claimed>, Error> {
        let client = self.client().await?;
        let claim = client
            .prepare_cached(
                "WITH due AS (
                     SELECT id FROM webhook_deliveries WHERE next_attempt_at <= now()
                     ORDER BY next_attempt_at LIMIT $1
                     FOR UPDATE SKIP LOCKED
                 )
                 UPDATE webhook_deliveries d
                 SET attempts = d.attempts + 1,
                     next_attempt_at = now() + make_interval(secs => $2)
                 FROM due WHERE d.id = due.id
                 RETURNING d.id, d.body, d.attempts, d.created_at",
            )
            .await?;
        let rows = client
            .query(&claim, &[&limit, &lease.as_secs_f64()])
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Claimed {
                    id: row.try_get("id")?,
                    body: row.try_get("body")?,
                    attempt: row.try_get("attempts")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Removes a delivery that succeeded or was given up, unless another
    /// core has claimed it since. Returns whether it was removed.
    pub async fn settle_webhook(&self, delivery: &Claimed) -> Result<bool, Error> {
        let client = self.client().await?;
        let delete = client
            .prepare_cached("DELETE FROM webhook_deliveries WHERE id = $1 AND attempts = $2")
            .await?;
        let removed = client
            .execute(&delete, &[&delivery.id, &delivery.attempt])
            .await?;
        Ok(removed > 0)
    }

    /// Schedules the next attempt of a failed delivery in `delay`, unless
    /// another core has claimed it since.
    pub async fn retry_webhook(
        &self,
        delivery: &Claimed,
        delay: Duration,
        error: &str,
    ) -> Result<(), Error> {
        let client = self.client().await?;
        let update = client
            .prepare_cached(
                "UPDATE webhook_deliveries
                 SET next_attempt_at = now() + make_interval(secs => $3), last_error = $4
                 WHERE id = $1 AND attempts = $2",
            )
            .await?;
        client
            .execute(
                &update,
                &[
                    &delivery.id,
                    &delivery.attempt,
                    &delay.as_secs_f64(),
                    &error,
                ],
            )
            .await?;
        Ok(())
    }

    /// How many deliveries are pending and how old the oldest is.
    pub async fn webhook_stats(&self) -> Result<WebhookStats, Error> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*) AS pending,
                        coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS age
                 FROM webhook_deliveries",
                &[],
            )
            .await?;
        let age: f64 = row.try_get("age")?;
        Ok(WebhookStats {
            pending: row.try_get("pending")?,
            oldest_age: Duration::try_from_secs_f64(age.max(0.0)).unwrap_or_default(),
        })
    }
}
