//! The operator endpoints: Prometheus metrics after real traffic across two
//! instances, liveness, and readiness when the database is gone or the
//! instance is shutting down.

use std::{net::SocketAddr, time::Duration};

use core_svc::{
    ops::{Metrics, OpsState, http_router},
    store::Store,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::helpers::{PATIENCE, TestCore, within};

/// The body of `GET http://{addr}{path}` and its status.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("the ops listener answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a text body"))
}

/// The value of the series `series` (name with labels, exactly as exposed).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
}

/// Scrapes `addr` until every series reaches its least value.
async fn scrape_until(addr: SocketAddr, expected: &[(&str, f64)]) -> String {
    within(async {
        loop {
            let (status, text) = get(addr, "/metrics").await;
            assert_eq!(status, 200);
            let reached = expected
                .iter()
                .all(|(series, least)| value(&text, series).is_some_and(|v| v >= *least));
            if reached {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

#[tokio::test]
async fn metrics_count_traffic_across_two_instances() {
    let a = TestCore::start().await;
    let b = a.join(|_| {}).await;
    let (alice, bob_on_a, room) = a.pair().await;
    let bob = b.same_user(&bob_on_a);
    let mut stream = bob.subscribe(room).await.unwrap();
    stream.snapshot().await;
    alice.send(room, "hello").await.unwrap();
    stream.events(3).await;

    let on_a = scrape_until(
        a.ops_addr.unwrap(),
        &[
            ("chat_messages_sent_total", 1.0),
            (
                "chat_rpc_duration_seconds_count{method=\"/chat.v1.MessageService/SendMessage\"}",
                1.0,
            ),
            ("chat_db_pool_size", 1.0),
        ],
    )
    .await;
    assert!(value(&on_a, "chat_db_pool_available").is_some());
    let on_b = scrape_until(
        b.ops_addr.unwrap(),
        &[
            ("chat_subscriptions", 1.0),
            ("chat_messages_delivered_total", 1.0),
            ("chat_events_delivered_total", 3.0),
            ("chat_event_delivery_delay_seconds_count", 3.0),
            ("chat_notify_lag_seconds_count", 1.0),
        ],
    )
    .await;
    let lag = value(&on_b, "chat_notify_lag_seconds_sum").unwrap();
    assert!((0.0..PATIENCE.as_secs_f64()).contains(&lag), "lag {lag}");
    assert_eq!(value(&on_b, "chat_messages_sent_total"), Some(0.0));

    drop(stream);
    scrape_until(b.ops_addr.unwrap(), &[("chat_subscriptions", 0.0)]).await;
}

/// Calls `path` on the core with an empty message, as any client could.
async fn call_path(core: &TestCore, path: &str) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(core.channel.clone());
    grpc.ready().await.expect("the core accepts calls");
    let codec = chat_proto::codec::CompactCodec::<(), ()>::default();
    let path = path.parse().expect("a valid path");
    grpc.unary(tonic::Request::new(()), path, codec)
        .await
        .expect_err("no such method")
}

#[tokio::test]
async fn calls_to_invented_paths_do_not_grow_the_metrics() {
    let core = TestCore::start().await;
    for i in 0..40 {
        let status = call_path(&core, &format!("/x{i}.Y/Z{i}")).await;
        assert_eq!(status.code(), tonic::Code::Unimplemented);
    }
    core.user("alice").await;
    let text = scrape_until(
        core.ops_addr.unwrap(),
        &[
            ("chat_rpc_duration_seconds_count{method=\"other\"}", 40.0),
            (
                "chat_rpc_duration_seconds_count{method=\"/chat.v1.UserService/WhoAmI\"}",
                1.0,
            ),
        ],
    )
    .await;
    assert!(!text.contains("/x1.Y"), "{text}");
}

#[tokio::test]
async fn liveness_and_readiness_answer_on_a_healthy_core() {
    let core = TestCore::start().await;
    let addr = core.ops_addr.unwrap();
    assert_eq!(get(addr, "/healthz").await.0, 200);
    assert_eq!(get(addr, "/readyz").await, (200, "ready\n".to_owned()));
}

#[tokio::test]
async fn readiness_fails_without_a_database_and_once_shutting_down() {
    // Nothing listens on port 1: every connection attempt is refused.
    let store = Store::connect("host=127.0.0.1 port=1 user=chat dbname=chat", 1).unwrap();
    let shutdown = CancellationToken::new();
    let app = http_router(OpsState {
        metrics: Metrics::new(),
        store,
        shutdown: shutdown.clone(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    assert_eq!(
        get(addr, "/readyz").await,
        (503, "database unreachable\n".to_owned())
    );
    shutdown.cancel();
    assert_eq!(
        get(addr, "/readyz").await,
        (503, "shutting down\n".to_owned())
    );
    assert_eq!(get(addr, "/healthz").await.0, 200, "alive while draining");
}
