//! Webhooks for offline recipients, against a real local HTTP receiver.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use core_svc::{config::Config, config::Secret, webhooks::WebhookConfig};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{
    core_process::CoreProcess,
    helpers::{SECRET, TestCore, within},
};

const HOOK_SECRET: &str = "webhook-test-secret";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    delivery: String,
    signature: String,
    content_type: String,
    body: Bytes,
    at: Instant,
    accepted: bool,
}

#[derive(Default)]
struct Log {
    hits: Vec<Hit>,
    /// Attempts so far per delivery id.
    attempts: HashMap<String, usize>,
    in_flight: HashMap<String, usize>,
    /// Requests that came while another of the same delivery was open.
    overlaps: usize,
}

/// A local webhook receiver that fails each delivery's first attempts.
#[derive(Clone)]
struct Receiver {
    log: Arc<Mutex<Log>>,
    fail_first: usize,
    delay: Duration,
}

impl Receiver {
    /// Serves on 127.0.0.1:0; returns the receiver and its URL.
    async fn start(fail_first: usize, delay: Duration) -> (Self, String) {
        let receiver = Self {
            log: Arc::default(),
            fail_first,
            delay,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn hits(&self) -> Vec<Hit> {
        self.log.lock().unwrap().hits.clone()
    }

    fn overlaps(&self) -> usize {
        self.log.lock().unwrap().overlaps
    }

    /// Waits until `done` holds for the hits so far.
    async fn until(&self, done: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        within(async {
            loop {
                let hits = self.hits();
                if done(&hits) {
                    return hits;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }
}

async fn hook(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let delivery = header("x-chat-delivery");
    let attempt = {
        let mut log = receiver.log.lock().unwrap();
        let open = log.in_flight.entry(delivery.clone()).or_default();
        *open += 1;
        if *open > 1 {
            log.overlaps += 1;
        }
        let attempt = log.attempts.entry(delivery.clone()).or_default();
        *attempt += 1;
        *attempt
    };
    tokio::time::sleep(receiver.delay).await;
    let accepted = attempt > receiver.fail_first;
    let mut log = receiver.log.lock().unwrap();
    *log.in_flight.entry(delivery.clone()).or_default() -= 1;
    log.hits.push(Hit {
        delivery,
        signature: header("x-chat-signature"),
        content_type: header("content-type"),
        body,
        at: Instant::now(),
        accepted,
    });
    if accepted {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

fn with_webhook(url: &str, retry_base_ms: u64) -> impl FnOnce(&mut Config) {
    let url = url.to_owned();
    move |config| {
        config.webhooks = WebhookConfig {
            url: Some(url),
            secret: Some(Secret::new(HOOK_SECRET)),
            retry_base_ms,
        }
    }
}

/// `sha256=<hex>` computed here, with nothing of the core's.
fn expected_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256={hex}")
}

async fn pending(core: &TestCore) -> i64 {
    core.sql()
        .await
        .query_one("SELECT count(*) FROM webhook_deliveries", &[])
        .await
        .unwrap()
        .get(0)
}

async fn assert_no_more_hits(receiver: &Receiver, count: usize) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.hits().len(), count, "{:#?}", receiver.hits());
}

#[tokio::test]
async fn an_offline_recipient_gets_a_signed_webhook_retried_with_the_same_id_and_body() {
    let (receiver, url) = Receiver::start(2, Duration::ZERO).await;
    let core = TestCore::start_tuned(with_webhook(&url, 100)).await;
    let (alice, bob, room) = core.pair().await;
    let sent = alice.send(room, "  hello bob  ").await.unwrap();
    let message = sent.message.unwrap();

    let hits = receiver.until(|hits| hits.len() == 3).await;
    let first = &hits[0];
    for hit in &hits {
        assert_eq!(hit.delivery, first.delivery);
        assert_eq!(hit.body, first.body, "the same body bytes on every try");
        assert_eq!(hit.signature, expected_signature(&hit.body));
        assert_eq!(hit.content_type, "application/json");
    }
    assert_eq!(
        [hits[0].accepted, hits[1].accepted, hits[2].accepted],
        [false, false, true]
    );
    assert!(hits[1].at - hits[0].at >= Duration::from_millis(100));
    assert!(
        hits[2].at - hits[1].at >= Duration::from_millis(200),
        "delays grow"
    );

    let body: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(body["id"], first.delivery.as_str());
    assert_eq!(body["type"], "message.unread");
    assert_eq!(body["user_id"], bob.id);
    assert_eq!(body["room_id"], room);
    let h = &body["message"];
    assert_eq!(h["message_id"], message.message_id);
    assert_eq!(h["text"], "hello bob");
    assert_eq!(h["sender_id"], alice.id);
    assert_eq!(h["sender_email"], "alice@example.com");
    assert_eq!(h["status"], "delivered");
    for time in [&h["created_at"], &h["updated_at"]] {
        let time = time.as_str().unwrap();
        assert_eq!(
            time.len(),
            "2025-02-18T18:28:52.258755+00:00".len(),
            "{time}"
        );
        assert!(time.ends_with("+00:00"), "{time}");
    }
    assert_no_more_hits(&receiver, 3).await;
    assert_eq!(pending(&core).await, 0, "settled deliveries are removed");

    let metrics = reqwest::get(format!("http://{}/metrics", core.ops_addr.unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "chat_webhook_attempts_total{outcome=\"rejected\"} 2",
        "chat_webhook_attempts_total{outcome=\"delivered\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
}

#[tokio::test]
async fn a_recipient_with_a_stream_open_on_any_instance_gets_no_webhook() {
    let (receiver, url) = Receiver::start(0, Duration::ZERO).await;
    let core = TestCore::start_tuned(with_webhook(&url, 100)).await;
    let elsewhere = core.join(|_| {}).await;
    let bob_here = core.user("bob").await;
    let (alice, carol, dave) = (
        core.user("alice").await,
        core.user("carol").await,
        core.user("dave").await,
    );
    let with_alice = alice.room_with(bob_here.id).await.unwrap();
    let with_carol = carol.room_with(bob_here.id).await.unwrap();
    let with_dave = dave.room_with(bob_here.id).await.unwrap();
    let bob = elsewhere.same_user(&bob_here);
    let mut stream = bob.subscribe(with_alice).await.unwrap();
    stream.snapshot().await;

    alice.send(with_alice, "you are looking").await.unwrap();
    carol.send(with_carol, "you are online").await.unwrap();
    // Dave is offline: his webhook comes after the two that must not.
    bob_here.send(with_dave, "marker").await.unwrap();
    let hits = receiver.until(|hits| !hits.is_empty()).await;
    let body: serde_json::Value = serde_json::from_slice(&hits[0].body).unwrap();
    assert_eq!(body["user_id"], dave.id);
    assert_no_more_hits(&receiver, 1).await;

    drop(stream);
    bob.until_offline().await;
    carol.send(with_carol, "now you are away").await.unwrap();
    let hits = receiver.until(|hits| hits.len() == 2).await;
    let body: serde_json::Value = serde_json::from_slice(&hits[1].body).unwrap();
    assert_eq!(body["user_id"], bob.id);
    assert_eq!(body["message"]["text"], "now you are away");
}

#[tokio::test]
async fn a_recipient_with_only_a_user_stream_open_gets_no_webhook() {
    let (receiver, url) = Receiver::start(0, Duration::ZERO).await;
    let core = TestCore::start_tuned(with_webhook(&url, 100)).await;
    let elsewhere = core.join(|_| {}).await;
    let (alice, bob_here, room) = core.pair().await;
    let dave = core.user("dave").await;
    let with_dave = dave.room_with(alice.id).await.unwrap();
    let bob = elsewhere.same_user(&bob_here);
    let mut stream = bob.user_stream("").await.unwrap();
    stream.inbox().await;

    alice.send(room, "you are online").await.unwrap();
    // Dave is offline: his webhook comes after the one that must not.
    alice.send(with_dave, "marker").await.unwrap();
    let hits = receiver.until(|hits| !hits.is_empty()).await;
    let body: serde_json::Value = serde_json::from_slice(&hits[0].body).unwrap();
    assert_eq!(body["user_id"], dave.id);
    assert_no_more_hits(&receiver, 1).await;

    drop(stream);
    bob.until_offline().await;
    alice.send(room, "now you are away").await.unwrap();
    let hits = receiver.until(|hits| hits.len() == 2).await;
    let body: serde_json::Value = serde_json::from_slice(&hits[1].body).unwrap();
    assert_eq!(body["user_id"], bob.id);
}

#[tokio::test]
async fn a_core_killed_between_attempts_leaves_the_delivery_to_the_next_core() {
    let (receiver, url) = Receiver::start(1, Duration::ZERO).await;
    let database = TestCore::start().await;
    let env = [
        ("CHAT_WEBHOOK_URL", url.as_str()),
        ("CHAT_WEBHOOK_SECRET", HOOK_SECRET),
        ("CHAT_WEBHOOK_RETRY_BASE_MS", "2000"),
    ];
    let mut doomed = CoreProcess::spawn_with_env(&database.url, SECRET, &env).await;
    let remote = TestCore::remote(&doomed.addr).await;
    let (alice, _bob, room) = remote.pair().await;
    alice.send(room, "survives a crash").await.unwrap();
    receiver.until(|hits| hits.len() == 1).await;
    doomed.kill().await;
    let attempts: i32 = database
        .sql()
        .await
        .query_one("SELECT attempts FROM webhook_deliveries", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(attempts, 1, "the failed delivery is still pending");

    let _next = CoreProcess::spawn_with_env(&database.url, SECRET, &env).await;
    let hits = receiver.until(|hits| hits.len() == 2).await;
    assert_eq!(hits[1].delivery, hits[0].delivery);
    assert_eq!(hits[1].body, hits[0].body);
    assert!(hits[1].accepted);
    assert_no_more_hits(&receiver, 2).await;
    assert_eq!(pending(&database).await, 0);
}

#[tokio::test]
async fn two_cores_never_attempt_one_delivery_at_once() {
    let (receiver, url) = Receiver::start(2, Duration::from_millis(150)).await;
    let a = TestCore::start_tuned(with_webhook(&url, 10)).await;
    let b = a.join(with_webhook(&url, 10)).await;
    let (alice, bob, room) = a.pair().await;
    let alice_on_b = b.same_user(&alice);
    for i in 0..10 {
        alice.send(room, &format!("via a {i}")).await.unwrap();
        alice_on_b.send(room, &format!("via b {i}")).await.unwrap();
    }
    let hits = receiver
        .until(|hits| hits.iter().filter(|hit| hit.accepted).count() == 20)
        .await;
    assert_no_more_hits(&receiver, hits.len()).await;
    assert_eq!(
        receiver.overlaps(),
        0,
        "no delivery was attempted twice at once"
    );
    let mut per_delivery: HashMap<&str, usize> = HashMap::new();
    for hit in &hits {
        *per_delivery.entry(&hit.delivery).or_default() += 1;
        let body: serde_json::Value = serde_json::from_slice(&hit.body).unwrap();
        assert_eq!(body["user_id"], bob.id);
    }
    assert_eq!(per_delivery.len(), 20);
    assert!(
        per_delivery.values().all(|&tries| tries == 3),
        "{per_delivery:?}"
    );
    assert_eq!(pending(&a).await, 0);
}

#[tokio::test]
async fn a_receiver_that_never_answers_changes_nothing_for_senders() {
    // Accepts connections and never answers them.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", silent.local_addr().unwrap());
    let core = TestCore::start_tuned(with_webhook(&url, 100)).await;
    let (alice, _bob, room) = core.pair().await;
    for i in 0..50 {
        alice
            .send(room, &format!("into the void {i}"))
            .await
            .unwrap();
    }
    assert_eq!(pending(&core).await, 50, "each waits for a later attempt");
    drop(silent);
}

#[tokio::test]
async fn without_a_webhook_nothing_is_queued() {
    let core = TestCore::start().await;
    let (alice, _bob, room) = core.pair().await;
    alice.send(room, "nobody is told").await.unwrap();
    assert_eq!(pending(&core).await, 0);
}
