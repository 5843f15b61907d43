//! The core's Prometheus metrics: one registry per running instance (never a
//! global, so two instances can run in one process), handles cheap to clone.
//! The buckets and the exposition are `service_kit::metrics`'.

use std::{sync::Arc, time::Duration};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use service_kit::metrics::latency_histogram;

use super::rpc_methods::ServedMethods;
use crate::domain::{EventKind, RoomEvent};

/// Labels of the per-RPC latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    /// The gRPC path of a served method, e.g. `/chat.v1.MessageService/SendMessage`,
    /// or `other` for any path this core does not serve.
    pub method: String,
}

type RpcFamily = Family<RpcLabels, Histogram, fn() -> Histogram>;

/// Every metric of one core instance.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    subscriptions: Gauge,
    links: LinkGauges,
    user_streams: Gauge,
    user_streams_behind: Counter,
    user_stream_fast_events: Counter,
    messages_sent: Counter,
    messages_delivered: Counter,
    events_delivered: Counter,
    delivery_delay: Histogram,
    notify_lag: Histogram,
    rpc_duration: RpcFamily,
    served: ServedMethods,
    pool_size: Gauge,
    pool_available: Gauge,
    webhooks: crate::webhooks::WebhookMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("chat");
        let inner = Inner {
            subscriptions: Gauge::default(),
            links: LinkGauges::default(),
            user_streams: Gauge::default(),
            user_streams_behind: Counter::default(),
            user_stream_fast_events: Counter::default(),
            messages_sent: Counter::default(),
            messages_delivered: Counter::default(),
            events_delivered: Counter::default(),
            delivery_delay: latency_histogram(),
            notify_lag: latency_histogram(),
            rpc_duration: RpcFamily::new_with_constructor(latency_histogram),
            served: ServedMethods::of_this_server(),
            pool_size: Gauge::default(),
            pool_available: Gauge::default(),
            webhooks: crate::webhooks::WebhookMetrics::default(),
            registry: Registry::default(),
        };
        register(&mut registry, &inner);
        Self {
            inner: Arc::new(Inner { registry, ..inner }),
        }
    }

    /// Counts the messages a commit created.
    pub fn committed(&self, events: &[RoomEvent]) {
        let created = events
            .iter()
            .filter(|event| matches!(event.kind, EventKind::Created(_)))
            .count();
        self.inner.messages_sent.inc_by(created as u64);
    }

    /// A `Subscribe` stream opened; the gauge goes down when the guard drops.
    pub fn subscription_opened(&self) -> SubscriptionGuard {
        self.inner.subscriptions.inc();
        SubscriptionGuard(self.clone())
    }

    /// A user stream (`InboxService.Stream`) opened, while the guard lives.
    pub fn user_stream_opened(&self) -> GaugeGuard {
        GaugeGuard::raise(&self.inner.user_streams)
    }

    /// A user stream was ended because it fell too far behind.
    pub fn user_stream_fell_behind(&self) {
        self.inner.user_streams_behind.inc();
    }

    /// A user stream sent an event on the fast lane, ahead of the feed.
    pub fn user_stream_fast_event(&self) {
        self.inner.user_stream_fast_events.inc();
    }

    /// An edge link opened; the gauge goes down when the guard drops.
    pub fn link_opened(&self) -> GaugeGuard {
        GaugeGuard::raise(&self.inner.links.open)
    }

    /// A room followed by an edge link, while the guard lives.
    pub fn link_room_followed(&self) -> GaugeGuard {
        GaugeGuard::raise(&self.inner.links.rooms)
    }

    /// A socket's session on an edge link, while the guard lives.
    pub fn link_socket_opened(&self) -> GaugeGuard {
        GaugeGuard::raise(&self.inner.links.sockets)
    }

    /// An event handed to a subscriber, with its delay since it happened.
    pub fn delivered(&self, event: &RoomEvent) {
        self.inner.events_delivered.inc();
        if matches!(event.kind, EventKind::Created(_)) {
            self.inner.messages_delivered.inc();
        }
        let delay = time::OffsetDateTime::now_utc() - event.occurred_at;
        self.inner
            .delivery_delay
            .observe(delay.as_seconds_f64().max(0.0));
    }

    /// Time from another instance's `NOTIFY` to its receipt here.
    pub fn notify_received(&self, lag: Duration) {
        self.inner.notify_lag.observe(lag.as_secs_f64());
    }

    /// How long one RPC took until its response (headers, for streams);
    /// `path` is labelled `other` unless it is a served method.
    pub fn rpc_finished(&self, path: &str, elapsed: Duration) {
        let method = self.inner.served.label(path).to_owned();
        self.inner
            .rpc_duration
            .get_or_create(&RpcLabels { method })
            .observe(elapsed.as_secs_f64());
    }

    /// The webhook worker's series.
    pub fn webhooks(&self) -> &crate::webhooks::WebhookMetrics {
        &self.inner.webhooks
    }

    /// The Prometheus text exposition, with the pool's usage as of now.
    pub fn render(&self, pool: (usize, usize)) -> Result<String, std::fmt::Error> {
        let (size, available) = pool;
        self.inner.pool_size.set(gauge_value(size));
        self.inner.pool_available.set(gauge_value(available));
        service_kit::metrics::render(&self.inner.registry)
    }
}

fn gauge_value(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn register(registry: &mut Registry, inner: &Inner) {
    registry.register(
        "subscriptions",
        "Open Subscribe streams",
        inner.subscriptions.clone(),
    );
    inner.links.register(registry);
    registry.register(
        "user_streams",
        "Open InboxService.Stream streams",
        inner.user_streams.clone(),
    );
    registry.register(
        "user_streams_behind",
        "User streams ended because their queue was full (they resume from their cursor)",
        inner.user_streams_behind.clone(),
    );
    registry.register(
        "user_stream_fast_events",
        "Events user streams sent on the fast lane (committed here), ahead of the event feed",
        inner.user_stream_fast_events.clone(),
    );
    registry.register(
        "messages_sent",
        "Messages stored (duplicates of idempotent sends not counted)",
        inner.messages_sent.clone(),
    );
    registry.register(
        "messages_delivered",
        "message_created events handed to subscribers",
        inner.messages_delivered.clone(),
    );
    registry.register(
        "events_delivered",
        "Room events of every kind handed to subscribers",
        inner.events_delivered.clone(),
    );
    registry.register(
        "event_delivery_delay_seconds",
        "Per subscriber and event: time from the event's commit to its hand-over to the stream",
        inner.delivery_delay.clone(),
    );
    registry.register(
        "notify_lag_seconds",
        "Time from another instance's NOTIFY to its receipt by this instance",
        inner.notify_lag.clone(),
    );
    registry.register(
        "rpc_duration_seconds",
        "gRPC request latency by method (until the response headers for streams)",
        inner.rpc_duration.clone(),
    );
    registry.register(
        "db_pool_size",
        "PostgreSQL connections open in the pool",
        inner.pool_size.clone(),
    );
    registry.register(
        "db_pool_available",
        "Idle PostgreSQL connections in the pool",
        inner.pool_available.clone(),
    );
    inner.webhooks.register(registry);
}

/// The gauges of edge links.
#[derive(Default)]
struct LinkGauges {
    open: Gauge,
    rooms: Gauge,
    sockets: Gauge,
}

impl LinkGauges {
    fn register(&self, registry: &mut Registry) {
        registry.register("edge_links", "Open EdgeLink streams", self.open.clone());
        registry.register(
            "edge_link_rooms",
            "Rooms followed by EdgeLink streams (each once per link)",
            self.rooms.clone(),
        );
        registry.register(
            "edge_link_sockets",
            "Sockets registered on EdgeLink streams",
            self.sockets.clone(),
        );
    }
}

/// Keeps a gauge one higher while alive.
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    fn raise(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Keeps the open-subscriptions gauge up while alive.
pub struct SubscriptionGuard(Metrics);

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.0.inner.subscriptions.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_names_every_series() {
        let metrics = Metrics::new();
        metrics.rpc_finished("/chat.v1.UserService/WhoAmI", Duration::from_millis(3));
        let text = metrics.render((4, 3)).unwrap();
        for name in [
            "chat_subscriptions ",
            "chat_edge_links ",
            "chat_edge_link_rooms ",
            "chat_edge_link_sockets ",
            "chat_messages_sent_total ",
            "chat_db_pool_size 4",
            "chat_db_pool_available 3",
            "chat_rpc_duration_seconds_count{method=\"/chat.v1.UserService/WhoAmI\"} 1",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }

    #[test]
    fn calls_to_unserved_paths_share_one_other_series() {
        let metrics = Metrics::new();
        for i in 0..50 {
            metrics.rpc_finished(&format!("/x.Y/Z{i}"), Duration::from_millis(1));
        }
        let text = metrics.render((0, 0)).unwrap();
        assert!(text.contains("chat_rpc_duration_seconds_count{method=\"other\"} 50"));
        assert!(!text.contains("/x.Y/"), "{text}");
    }

    #[test]
    fn the_subscription_gauge_follows_its_guards() {
        let metrics = Metrics::new();
        let first = metrics.subscription_opened();
        let _second = metrics.subscription_opened();
        drop(first);
        assert!(
            metrics
                .render((0, 0))
                .unwrap()
                .contains("chat_subscriptions 1")
        );
    }
}
