//! Webhooks for offline recipients: every message stored while its
//! recipient has no session open (no `Subscribe` stream on any instance) is
//! announced by a signed `POST` to the configured URL.
//!
//! Enqueueing happens in PostgreSQL, in the send transaction (a trigger of
//! migrations/0006, active on the connections of cores that have a webhook
//! configured); delivering happens here, in a background [`worker`] that
//! never touches the send path. Deliveries survive restarts, are claimed
//! by one core at a time, and are retried with the same id and body until
//! a 2xx answer within [`ATTEMPT_TIMEOUT`] or for [`schedule::GIVE_UP_AFTER`].

mod metrics;
mod schedule;
mod signature;
mod worker;

use std::time::Duration;

use clap::Args;

pub use metrics::{Outcome, WebhookMetrics};
pub use schedule::{GIVE_UP_AFTER, jittered_retry_delay};
pub use signature::Signer;
pub use worker::run;

use crate::config::Secret;

/// How long one attempt may take until the answer's status line.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// The webhook settings of the core.
#[derive(Debug, Clone, Args)]
pub struct WebhookConfig {
    /// URL that receives a signed `POST` for every message stored while its
    /// recipient has no stream open. Unset: no webhooks (nothing is queued).
    #[arg(long = "webhook-url", env = "CHAT_WEBHOOK_URL")]
    pub url: Option<String>,
    /// Key of the `X-Chat-Signature` HMAC-SHA256; required with `--webhook-url`.
    /// Unset: no webhooks.
    #[arg(
        long = "webhook-secret",
        env = "CHAT_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub secret: Option<Secret>,
    /// Milliseconds of the first retry step of a failed webhook; each step
    /// is twice the one before, up to 512 times this, each wait a random
    /// time between half its step and the whole step, and deliveries are
    /// retried for 24 hours.
    #[arg(long = "webhook-retry-base-ms", env = "CHAT_WEBHOOK_RETRY_BASE_MS",
          default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub retry_base_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            url: None,
            secret: None,
            retry_base_ms: 1000,
        }
    }
}

/// Webhooks as configured: where, signed how, retried how.
#[derive(Clone)]
pub struct Webhooks {
    pub url: reqwest::Url,
    pub signer: Signer,
    pub retry_base: Duration,
}

/// A webhook configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum WebhookSetupError {
    #[error("--webhook-url needs --webhook-secret (CHAT_WEBHOOK_SECRET)")]
    NoSecret,
    #[error("--webhook-secret needs --webhook-url (CHAT_WEBHOOK_URL)")]
    NoUrl,
    #[error("--webhook-url is not an http(s) URL")]
    BadUrl,
    #[error("the webhook secret cannot key HMAC-SHA256")]
    BadSecret,
}

impl WebhookConfig {
    /// The webhooks to deliver, or `None` when none are configured.
    pub fn webhooks(&self) -> Result<Option<Webhooks>, WebhookSetupError> {
        let (url, secret) = match (&self.url, &self.secret) {
            (None, None) => return Ok(None),
            (Some(_), None) => return Err(WebhookSetupError::NoSecret),
            (None, Some(_)) => return Err(WebhookSetupError::NoUrl),
            (Some(url), Some(secret)) => (url, secret),
        };
        let url = reqwest::Url::parse(url).map_err(|_| WebhookSetupError::BadUrl)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebhookSetupError::BadUrl);
        }
        let signer =
            Signer::new(secret.expose().as_bytes()).map_err(|_| WebhookSetupError::BadSecret)?;
        Ok(Some(Webhooks {
            url,
            signer,
            retry_base: Duration::from_millis(self.retry_base_ms),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: Option<&str>, secret: Option<&str>) -> WebhookConfig {
        WebhookConfig {
            url: url.map(str::to_owned),
            secret: secret.map(Secret::new),
            ..WebhookConfig::default()
        }
    }

    #[test]
    fn no_url_and_no_secret_means_no_webhooks() {
        assert!(config(None, None).webhooks().unwrap().is_none());
    }

    #[test]
    fn a_url_needs_a_secret_and_a_secret_a_url() {
        let half = config(Some("http://127.0.0.1:1/hook"), None).webhooks();
        assert!(matches!(half, Err(WebhookSetupError::NoSecret)));
        let half = config(None, Some("s")).webhooks();
        assert!(matches!(half, Err(WebhookSetupError::NoUrl)));
    }

    #[test]
    fn only_http_urls_are_accepted() {
        let ftp = config(Some("ftp://example.com/"), Some("s")).webhooks();
        assert!(matches!(ftp, Err(WebhookSetupError::BadUrl)));
        let ok = config(Some("https://example.com/hook"), Some("s")).webhooks();
        assert!(ok.unwrap().is_some());
    }
}
