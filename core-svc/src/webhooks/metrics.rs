//! The webhook metrics, registered with the instance's registry: the
//! backlog (shared by every core, read from the table) and this core's
//! attempts by outcome.

use std::{fmt::Write, sync::atomic::AtomicU64};

use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder},
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use crate::store::WebhookStats;

/// How one attempt ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer within the time limit: settled.
    Delivered,
    /// Any other status.
    Rejected,
    /// No answer within the time limit.
    Timeout,
    /// No connection, or the request failed otherwise.
    Error,
    /// Older than the retry period: dropped.
    Abandoned,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Rejected => "rejected",
            Self::Timeout => "timeout",
            Self::Error => "error",
            Self::Abandoned => "abandoned",
        }
    }
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.name())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: Outcome,
}

/// Cheap to clone; every clone updates the same series.
#[derive(Clone, Default)]
pub struct WebhookMetrics {
    pending: Gauge,
    oldest_age: Gauge<f64, AtomicU64>,
    attempts: Family<OutcomeLabels, Counter>,
}

impl WebhookMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "webhook_deliveries_pending",
            "Webhook deliveries not yet settled (of every core)",
            self.pending.clone(),
        );
        registry.register(
            "webhook_oldest_pending_seconds",
            "Age of the oldest webhook delivery not yet settled",
            self.oldest_age.clone(),
        );
        registry.register(
            "webhook_attempts",
            "Webhook attempts of this core, by outcome",
            self.attempts.clone(),
        );
    }

    pub fn attempted(&self, outcome: Outcome) {
        self.attempts
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn backlog(&self, stats: WebhookStats) {
        self.pending.set(stats.pending);
        self.oldest_age.set(stats.oldest_age.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use prometheus_client::encoding::text::encode;

    use super::*;

    #[test]
    fn the_series_render_with_their_outcomes() {
        let metrics = WebhookMetrics::default();
        let mut registry = Registry::with_prefix("chat");
        metrics.register(&mut registry);
        metrics.attempted(Outcome::Timeout);
        metrics.attempted(Outcome::Timeout);
        metrics.backlog(WebhookStats {
            pending: 3,
            oldest_age: Duration::from_millis(1500),
        });
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for line in [
            "chat_webhook_attempts_total{outcome=\"timeout\"} 2",
            "chat_webhook_deliveries_pending 3",
            "chat_webhook_oldest_pending_seconds 1.5",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
