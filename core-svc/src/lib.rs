//! The chat core: every chat rule and all chat state, served over gRPC on
//! PostgreSQL. [`run`] serves on a bound listener until `shutdown` fires;
//! `main` and the tests both call it.

pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod fanout;
pub mod grpc;
pub mod store;

use std::time::Duration;

use anyhow::Context;
use chat_proto::v1::{
    message_service_server::MessageServiceServer, room_service_server::RoomServiceServer,
    user_service_server::UserServiceServer,
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::{
    auth::Verifier,
    config::Config,
    fanout::{Hub, Subscriptions},
    grpc::{
        Authenticator, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, MessageApi, RoomApi, UserApi, Writer,
    },
    store::Store,
};

/// How long in-flight work may take to finish once shutdown has begun.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves the chat API on `listener` until `shutdown` is cancelled.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let url = config
        .database_url
        .as_ref()
        .context("a database URL is required")?;
    let store = Store::connect(url.expose(), config.db_pool_size)?;
    let applied = store.migrate().await.context("applying migrations")?;
    tracing::info!(applied, "schema up to date");
    let verifier = Verifier::new(&config.auth)?;
    let tasks = TaskTracker::new();
    let hub = Hub::default();
    let auth = Authenticator::new(verifier, store.clone());
    let subscriptions = Subscriptions {
        store: store.clone(),
        hub: hub.clone(),
        instance: uuid::Uuid::new_v4(),
        shutdown: shutdown.clone(),
        tasks: tasks.clone(),
    };
    let writer = Writer::new(hub, tasks.clone());

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_service_status("", ServingStatus::Serving).await;
    health.set_serving::<UserServiceServer<UserApi>>().await;
    health.set_serving::<RoomServiceServer<RoomApi>>().await;
    health
        .set_serving::<MessageServiceServer<MessageApi>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(chat_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(chat_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let users = UserServiceServer::new(UserApi::new(auth.clone(), store.clone()))
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);
    let rooms = RoomServiceServer::new(RoomApi::new(auth.clone(), store.clone(), subscriptions))
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);
    let messages = MessageServiceServer::new(MessageApi::new(auth, store, writer))
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(MAX_RESPONSE_BYTES);

    tracing::info!(addr = %listener.local_addr()?, "gRPC listening");
    let stopping = shutdown.clone();
    Server::builder()
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(users)
        .add_service(rooms)
        .add_service(messages)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
            stopping.cancelled().await;
            health
                .set_service_status("", ServingStatus::NotServing)
                .await;
            tracing::info!("shutting down");
        })
        .await?;
    tasks.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("in-flight work did not finish within the grace period");
    }
    Ok(())
}
