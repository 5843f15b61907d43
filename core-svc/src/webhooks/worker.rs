//! The delivery worker: claims due deliveries, posts them, settles or
//! reschedules each. Runs until shutdown; an attempt cut off by shutdown
//! is tried again once its lease ends (at least once, never lost).

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use tokio_util::sync::CancellationToken;

use super::{
    ATTEMPT_TIMEOUT, GIVE_UP_AFTER, Outcome, WebhookMetrics, Webhooks, jittered_retry_delay,
};
use crate::{
    error::{Error, ErrorChain},
    store::{Claimed, Store},
};

/// Deliveries claimed at once by one core.
const BATCH: i64 = 32;
/// How long a claimed delivery stays with its core: well past the attempt's
/// time limit, so that no other core tries it meanwhile.
const LEASE: Duration = Duration::from_secs(60);
/// How often the worker looks for due deliveries when it found none.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// How often the backlog metrics are read.
const STATS_EVERY: Duration = Duration::from_secs(2);

struct Worker {
    webhooks: Webhooks,
    store: Store,
    client: reqwest::Client,
    metrics: WebhookMetrics,
}

/// Delivers webhooks until `shutdown`.
pub async fn run(
    webhooks: Webhooks,
    store: Store,
    metrics: WebhookMetrics,
    shutdown: CancellationToken,
) {
    let client = match reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %ErrorChain(&err), "cannot build the webhook client");
            return;
        }
    };
    let worker = Worker {
        webhooks,
        store,
        client,
        metrics,
    };
    tracing::info!(url = %worker.webhooks.url, "delivering webhooks");
    let mut stats_at = Instant::now();
    loop {
        if stats_at.elapsed() >= STATS_EVERY {
            worker.read_backlog().await;
            stats_at = Instant::now();
        }
        let worked = tokio::select! {
            _ = shutdown.cancelled() => return,
            worked = worker.round() => worked,
        };
        if !worked {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    }
}

impl Worker {
    /// Claims and attempts one batch; false when there was nothing to do.
    async fn round(&self) -> bool {
        let claimed = match self.store.claim_webhooks(BATCH, LEASE).await {
            Ok(claimed) => claimed,
            Err(err) => {
                log_storage(&err, "could not claim webhook deliveries");
                return false;
            }
        };
        if claimed.is_empty() {
            return false;
        }
        futures::future::join_all(claimed.iter().map(|delivery| self.deliver(delivery))).await;
        true
    }

    #[tracing::instrument(skip_all, fields(delivery = %delivery.id, attempt = delivery.attempt))]
    async fn deliver(&self, delivery: &Claimed) {
        let outcome = match self.post(delivery).await {
            Ok(()) => Outcome::Delivered,
            Err(failure) => self.failed(delivery, failure).await,
        };
        self.metrics.attempted(outcome);
        if matches!(outcome, Outcome::Delivered | Outcome::Abandoned)
            && let Err(err) = self.store.settle_webhook(delivery).await
        {
            // The lease runs out and another attempt follows: at least once.
            log_storage(&err, "could not settle a webhook delivery");
        }
    }

    /// One attempt: `Ok` for a 2xx answer within the time limit.
    async fn post(&self, delivery: &Claimed) -> Result<(), (Outcome, String)> {
        let signature = self.webhooks.signer.sign(delivery.body.as_bytes());
        let request = self
            .client
            .post(self.webhooks.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("X-Chat-Delivery", delivery.id.to_string())
            .header("X-Chat-Signature", signature)
            .body(delivery.body.clone());
        match request.send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err((Outcome::Rejected, format!("status {}", response.status()))),
            Err(err) if err.is_timeout() => Err((Outcome::Timeout, "no answer in time".into())),
            Err(err) => Err((Outcome::Error, ErrorChain(&err).to_string())),
        }
    }

    /// Schedules the next attempt, or gives the delivery up when it is too
    /// old; returns the outcome to count.
    async fn failed(&self, delivery: &Claimed, (outcome, reason): (Outcome, String)) -> Outcome {
        let age = time::OffsetDateTime::now_utc() - delivery.created_at;
        if age.as_seconds_f64() > GIVE_UP_AFTER.as_secs_f64() {
            tracing::warn!(%reason, "webhook delivery given up after its retry period");
            return Outcome::Abandoned;
        }
        tracing::debug!(%reason, "webhook attempt failed");
        let delay = jittered_retry_delay(self.webhooks.retry_base, delivery.attempt);
        if let Err(err) = self.store.retry_webhook(delivery, delay, &reason).await {
            log_storage(&err, "could not reschedule a webhook delivery");
        }
        outcome
    }

    async fn read_backlog(&self) {
        match self.store.webhook_stats().await {
            Ok(stats) => self.metrics.backlog(stats),
            Err(err) => log_storage(&err, "could not read the webhook backlog"),
        }
    }
}

fn log_storage(err: &Error, what: &str) {
    tracing::warn!(error = %ErrorChain(err), "{what}");
}
