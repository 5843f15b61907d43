//! What operators see of the edge: Prometheus metrics after real traffic
//! (logs are tested in `tests/logs.rs`, a binary of their own).

use reqwest::{Method, StatusCode};

use crate::helpers::TestApp;

/// The value of the first series line that starts with `prefix` and holds every one of `parts`.
fn value(text: &str, prefix: &str, parts: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(prefix))
        .find(|line| parts.iter().all(|part| line.contains(part)))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let response = app
        .http
        .get(format!("http://{}/metrics", app.rest_addr))
        .send()
        .await
        .expect("the edge answers");
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("a text body")
}

#[tokio::test]
async fn metrics_count_sockets_and_requests_by_route() {
    let app = TestApp::spawn().await;
    let (alice, _bob, room) = app.pair().await;
    let (_socket, _) = app.join(&alice, room).await;
    let (status, _) = app
        .call(Method::GET, "/en/api/v1/users/me/", Some(&alice.token))
        .await;
    assert_eq!(status, StatusCode::OK);

    let text = scrape(&app).await;
    assert_eq!(value(&text, "chat_edge_ws_connections ", &[]), Some(1.0));
    assert!(value(&text, "chat_edge_ws_connections_opened_total", &[]) >= Some(1.0));
    let me = value(
        &text,
        "chat_edge_http_request_duration_seconds_count{",
        &["users/me", "method=\"GET\"", "status=\"200\""],
    );
    assert!(me >= Some(1.0), "{text}");
    let upgrades = value(
        &text,
        "chat_edge_http_request_duration_seconds_count{",
        &["route=\"/ws/chat/{room_id}/\"", "status=\"101\""],
    );
    assert!(upgrades >= Some(1.0), "{text}");
}

#[tokio::test]
async fn probes_answer_while_serving() {
    let app = TestApp::spawn().await;
    for (path, body) in [("/healthz", "ok\n"), ("/readyz", "ready\n")] {
        let response = app
            .http
            .get(format!("http://{}{path}", app.ws_addr))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.text().await.unwrap(), body);
    }
}

#[tokio::test]
async fn invented_methods_and_paths_share_bounded_series() {
    let app = TestApp::spawn().await;
    for i in 0..30 {
        let method = Method::from_bytes(format!("FOOBAR{i}").as_bytes()).expect("a method");
        let path = format!("/en/api/v1/users/me?x={i}");
        app.send(app.request(method, &path, None)).await;
        app.send(app.request(Method::GET, &format!("/nothing/{i}"), None))
            .await;
    }
    let text = scrape(&app).await;
    assert!(!text.contains("FOOBAR"), "{text}");
    assert!(!text.contains("/nothing/"), "{text}");
    let count = "chat_edge_http_request_duration_seconds_count";
    assert_eq!(value(&text, count, &["method=\"other\""]), Some(30.0));
    assert_eq!(
        value(&text, count, &["route=\"unmatched\"", "method=\"GET\""]),
        Some(30.0)
    );
}
