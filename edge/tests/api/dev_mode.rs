//! Development mode: the demo page, its files and development tokens exist only there.

use edge::config::{Config as EdgeConfig, Secret};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{SECRET, TestApp};

async fn dev_app() -> TestApp {
    TestApp::spawn_with(|core_url| {
        let mut config = EdgeConfig::new(core_url);
        config.dev_mode = true;
        config.jwt_secret = Some(Secret::new(SECRET));
        config
    })
    .await
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    let url = format!("http://{}{path}", app.rest_addr);
    app.http.get(url).send().await.unwrap()
}

async fn mint(app: &TestApp, body: serde_json::Value) -> reqwest::Response {
    app.http
        .post(format!("http://{}/dev/token", app.rest_addr))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn without_development_mode_there_is_no_page_and_no_token_minting() {
    let app = TestApp::spawn().await;
    let page = app
        .http
        .get(format!("http://{}/", app.rest_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let script = get(&app, "/demo/app.js").await;
    assert_eq!(script.status(), StatusCode::NOT_FOUND);
    let minted = mint(&app, json!({"sub": "dev-alice", "email": "a@example.com"})).await;
    assert_eq!(minted.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn development_mode_serves_the_demo_page_and_tokens_the_core_accepts() {
    let app = dev_app().await;
    let page = app
        .http
        .get(format!("http://{}/", app.ws_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().await.unwrap().contains("development demo"));
    for (path, content_type) in [
        ("/demo/app.js", "text/javascript"),
        ("/demo/room.js", "text/javascript"),
        ("/demo/app.css", "text/css"),
    ] {
        let file = get(&app, path).await;
        assert_eq!(file.status(), StatusCode::OK, "{path}");
        let served = file.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(served.starts_with(content_type), "{path}: {served}");
    }
    let unknown = get(&app, "/demo/secrets.js").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    let minted = mint(
        &app,
        json!({"sub": "dev-carol", "email": "carol@example.com"}),
    )
    .await;
    assert_eq!(minted.status(), StatusCode::OK);
    let token = minted.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, me) = app
        .call(Method::GET, "/en/api/v1/users/me", Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "carol@example.com");
}

#[tokio::test]
async fn development_tokens_need_a_sub_and_an_email() {
    let app = dev_app().await;
    for body in [
        json!({"sub": "", "email": "a@example.com"}),
        json!({"sub": "x"}),
        json!([]),
    ] {
        assert_eq!(mint(&app, body).await.status(), StatusCode::BAD_REQUEST);
    }
}

#[test]
fn the_edge_signs_with_the_same_development_secret_as_the_core() {
    assert_eq!(
        edge::dev::token::DEV_JWT_SECRET,
        core_svc::auth::DEV_JWT_SECRET
    );
}
