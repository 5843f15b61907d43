//! The chat core: every chat rule and all chat state, served over gRPC on
//! PostgreSQL. [`run`] serves on a bound listener until `shutdown` fires
//! ([`serve`] also serves the operator endpoints on a second listener);
//! `main` and the tests both call them.

pub mod access;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod deadline;
pub mod domain;
pub mod error;
pub mod fanout;
pub mod feed;
pub mod grpc;
pub mod inbox;
pub mod link;
pub mod ops;
pub mod store;
pub mod webhooks;

use std::time::Duration;

use anyhow::Context;
use chat_proto::v1::{
    conversation_service_server::ConversationServiceServer, edge_link_server::EdgeLinkServer,
    event_feed_server::EventFeedServer, inbox_service_server::InboxServiceServer,
    message_service_server::MessageServiceServer, room_service_server::RoomServiceServer,
    user_service_server::UserServiceServer,
};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tonic::transport::{
    Server,
    server::{Router, TcpIncoming},
};
use tonic_health::{ServingStatus, server::HealthReporter};
use tower::layer::util::{Identity, Stack};
use uuid::Uuid;

use crate::{
    auth::Verifier,
    cluster::{LiveSessions, Timing},
    config::Config,
    error::ErrorChain,
    fanout::{Fanout, Subscriptions},
    feed::Feed,
    grpc::{
        Authenticator, ConversationApi, FeedApi, InboxApi, LinkApi, MAX_LINK_UP_BYTES,
        MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, MessageApi, RoomApi, UserApi, Writer,
    },
    inbox::Inbox,
    link::Links,
    ops::{OpsState, RpcLayer},
    store::Store,
};

/// How long in-flight work may take to finish once shutdown has begun.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What one running instance shares between its services and tasks.
struct Instance {
    id: Uuid,
    store: Store,
    fanout: Fanout,
    live: LiveSessions,
    /// The user streams.
    inbox: Inbox,
    timing: Timing,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

/// The listeners one instance serves on.
pub struct Listeners {
    /// gRPC: the chat API, health and reflection.
    pub grpc: TcpListener,
    /// HTTP for operators: `/metrics`, `/healthz`, `/readyz`. `None`: not served.
    pub ops: Option<TcpListener>,
}

/// Serves the chat API on `listener` until `shutdown` is cancelled.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listeners = Listeners {
        grpc: listener,
        ops: None,
    };
    serve(listeners, config, shutdown).await
}

/// Serves the chat API and the operator endpoints until `shutdown` is
/// cancelled. The operator endpoints stay up (readiness 503) until in-flight
/// work has drained.
pub async fn serve(
    listeners: Listeners,
    config: Config,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let Listeners {
        grpc: listener,
        ops,
    } = listeners;
    let (store, webhooks) = connect(&config)?;
    let applied = store.migrate().await.context("applying migrations")?;
    tracing::info!(applied, "schema up to date");
    let (id, mut fanout, live, tasks) = (
        Uuid::new_v4(),
        Fanout::default(),
        LiveSessions::default(),
        TaskTracker::new(),
    );
    let (inbox, lane) = Inbox::start(inbox::Parts {
        feed: Feed {
            store: store.clone(),
            wake: fanout.feed.clone(),
            shutdown: shutdown.clone(),
            tasks: tasks.clone(),
        },
        live: live.clone(),
        metrics: fanout.metrics.clone(),
        instance: id,
        queue: usize::try_from(config.inbox_queue).unwrap_or(usize::MAX),
    });
    fanout.lane = lane;
    let instance = Instance {
        id,
        store,
        fanout,
        live,
        inbox,
        timing: Timing {
            instance_ttl: Duration::from_secs(config.instance_ttl_secs),
            poll_interval: Duration::from_millis(config.poll_interval_ms),
        },
        tasks,
        shutdown,
    };
    let heartbeat_interval = instance.timing.heartbeat_interval();
    instance
        .store
        .heartbeat(instance.id, &[], heartbeat_interval)
        .await
        .context("registering this instance")?;
    instance.spawn_cluster_tasks();
    instance.spawn_feed_tasks();
    if let Some(webhooks) = webhooks {
        instance.spawn_webhook_worker(webhooks);
    }
    let ops_stop = CancellationToken::new();
    let ops_server = ops.map(|ops| tokio::spawn(instance.serve_ops(ops, ops_stop.clone())));

    let (health, health_service) = tonic_health::server::health_reporter();
    let router = instance.router(&config, &health).await?;
    tracing::info!(addr = %listener.local_addr()?, instance = %instance.id, "gRPC listening");
    let stopping = instance.shutdown.clone();
    router
        .add_service(health_service)
        .serve_with_incoming_shutdown(incoming(listener), async move {
            stopping.cancelled().await;
            health
                .set_service_status("", ServingStatus::NotServing)
                .await;
            tracing::info!("shutting down");
        })
        .await?;
    instance.drain().await;
    ops_stop.cancel();
    if let Some(server) = ops_server {
        server.await??;
    }
    Ok(())
}

/// The storage, enqueueing webhooks when they are configured.
fn connect(config: &Config) -> anyhow::Result<(Store, Option<webhooks::Webhooks>)> {
    let url = config
        .database_url
        .as_ref()
        .context("a database URL is required")?;
    let webhooks = config.webhooks.webhooks()?;
    let store = match webhooks {
        Some(_) => Store::connect_enqueuing_webhooks(url.expose(), config.db_pool_size)?,
        None => Store::connect(url.expose(), config.db_pool_size)?,
    };
    Ok((store, webhooks))
}

impl Instance {
    /// Serves `/metrics`, `/healthz` and `/readyz` until `stop`.
    fn serve_ops(
        &self,
        listener: TcpListener,
        stop: CancellationToken,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
        let app = ops::http_router(OpsState {
            metrics: self.fanout.metrics.clone(),
            store: self.store.clone(),
            shutdown: self.shutdown.clone(),
        });
        async move {
            tracing::info!(addr = %listener.local_addr()?, "metrics and health listening");
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await?;
            Ok(())
        }
    }

    fn spawn_cluster_tasks(&self) {
        let (store, shutdown) = (self.store.clone(), self.shutdown.clone());
        self.tasks.spawn(cluster::notify(
            self.fanout.notifier.clone(),
            store.clone(),
            self.id,
            shutdown.clone(),
        ));
        let listener = cluster::Listener {
            rooms: self.fanout.hub.clone(),
            signals: (self.fanout.signals.clone(), self.inbox.clone()),
            metrics: self.fanout.metrics.clone(),
            store: store.clone(),
            instance: self.id,
            timing: self.timing,
        };
        self.tasks
            .spawn(cluster::listen(listener, shutdown.clone()));
        self.tasks.spawn(cluster::heartbeat(
            store,
            self.id,
            self.live.clone(),
            self.timing,
            shutdown,
        ));
    }

    fn spawn_feed_tasks(&self) {
        self.tasks.spawn(feed::wake_on_notify(
            self.fanout.feed.clone(),
            self.store.clone(),
            self.shutdown.clone(),
        ));
    }

    fn spawn_webhook_worker(&self, webhooks: webhooks::Webhooks) {
        self.tasks.spawn(webhooks::run(
            webhooks,
            self.store.clone(),
            self.fanout.metrics.webhooks().clone(),
            self.shutdown.clone(),
        ));
    }

    /// The event feed for internal services.
    fn feed_service(&self, auth: Authenticator) -> EventFeedServer<FeedApi> {
        let feed = Feed {
            store: self.store.clone(),
            wake: self.fanout.feed.clone(),
            shutdown: self.shutdown.clone(),
            tasks: self.tasks.clone(),
        };
        EventFeedServer::new(FeedApi::new(auth, feed))
            .max_decoding_message_size(MAX_REQUEST_BYTES)
            .max_encoding_message_size(MAX_RESPONSE_BYTES)
    }

    /// The room list and read marks.
    fn conversation_service(
        &self,
        auth: Authenticator,
        writer: Writer,
    ) -> ConversationServiceServer<ConversationApi> {
        ConversationServiceServer::new(ConversationApi::new(auth, self.store.clone(), writer))
            .max_decoding_message_size(MAX_REQUEST_BYTES)
            .max_encoding_message_size(MAX_RESPONSE_BYTES)
    }

    /// The chat services with reflection, ready to serve.
    async fn router(
        &self,
        config: &Config,
        health: &HealthReporter,
    ) -> anyhow::Result<Router<Stack<RpcLayer, Identity>>> {
        let verifier = Verifier::new(&config.auth)?;
        let auth = Authenticator::new(verifier, self.store.clone());
        let subscriptions = Subscriptions {
            store: self.store.clone(),
            fanout: self.fanout.clone(),
            live: self.live.clone(),
            instance: self.id,
            shutdown: self.shutdown.clone(),
            tasks: self.tasks.clone(),
        };
        let writer = Writer::new(self.fanout.clone(), self.tasks.clone());
        let users = UserServiceServer::new(UserApi::new(auth.clone(), self.store.clone()))
            .max_decoding_message_size(MAX_REQUEST_BYTES)
            .max_encoding_message_size(MAX_RESPONSE_BYTES);
        let rooms = RoomServiceServer::new(RoomApi::new(
            auth.clone(),
            self.store.clone(),
            subscriptions,
        ))
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);
        let feed = self.feed_service(auth.clone());
        let links = EdgeLinkServer::new(LinkApi::new(auth.clone(), self.links(config)))
            .max_decoding_message_size(MAX_LINK_UP_BYTES)
            .max_encoding_message_size(MAX_RESPONSE_BYTES);
        let conversations = self.conversation_service(auth.clone(), writer.clone());
        let inbox = InboxServiceServer::new(InboxApi::new(auth.clone(), self.inbox.clone()))
            .max_decoding_message_size(MAX_REQUEST_BYTES)
            .max_encoding_message_size(MAX_RESPONSE_BYTES);
        let messages = MessageServiceServer::new(MessageApi::new(auth, self.store.clone(), writer))
            .max_decoding_message_size(MAX_REQUEST_BYTES)
            .max_encoding_message_size(MAX_RESPONSE_BYTES);
        health.set_service_status("", ServingStatus::Serving).await;
        health.set_serving::<UserServiceServer<UserApi>>().await;
        health.set_serving::<RoomServiceServer<RoomApi>>().await;
        health
            .set_serving::<MessageServiceServer<MessageApi>>()
            .await;
        health.set_serving::<EventFeedServer<FeedApi>>().await;
        health
            .set_serving::<ConversationServiceServer<ConversationApi>>()
            .await;
        health.set_serving::<EdgeLinkServer<LinkApi>>().await;
        health.set_serving::<InboxServiceServer<InboxApi>>().await;
        Ok(Server::builder()
            .layer(RpcLayer::new(self.fanout.metrics.clone()))
            .max_concurrent_streams(Some(config.grpc_max_streams))
            .add_service(reflection_v1()?)
            .add_service(reflection_v1alpha()?)
            .add_service(users)
            .add_service(rooms)
            .add_service(messages)
            .add_service(conversations)
            .add_service(inbox)
            .add_service(feed)
            .add_service(links))
    }

    /// What edge links share: the sessions they hold are the edges'.
    fn links(&self, config: &Config) -> Links {
        let limit = |value: u32| usize::try_from(value).unwrap_or(usize::MAX);
        Links {
            store: self.store.clone(),
            fanout: self.fanout.clone(),
            live: LiveSessions::default(),
            limits: link::Limits {
                rooms: limit(config.link_max_rooms),
                sockets: limit(config.link_max_sockets),
                queue: limit(config.link_queue),
            },
            heartbeat: self.timing.heartbeat_interval(),
            shutdown: self.shutdown.clone(),
            tasks: self.tasks.clone(),
        }
    }

    /// Lets in-flight work finish within the grace period, then leaves the
    /// cluster so this instance's users go offline at once.
    async fn drain(self) {
        self.tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("in-flight work did not finish within the grace period");
        }
        if let Err(err) = self.store.retire_instance(self.id).await {
            tracing::warn!(error = %ErrorChain(&err), "could not retire this instance; others will reap it");
        }
    }
}

/// Accepted connections with Nagle's algorithm off: small gRPC frames must
/// not wait for the peer's delayed ACK.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)))
}

fn reflection_v1() -> anyhow::Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
> {
    Ok(tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(chat_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?)
}

fn reflection_v1alpha() -> anyhow::Result<
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
> {
    Ok(tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(chat_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?)
}
