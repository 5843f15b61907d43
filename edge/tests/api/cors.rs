//! CORS on REST paths: preflights and simple requests from an allowed
//! origin get the CORS headers, those from another origin none.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::helpers::TestApp;

const ALLOWED: &str = "http://localhost:8000";
const FOREIGN: &str = "https://evil.example";

async fn preflight(app: &TestApp, origin: &str) -> (StatusCode, HeaderMap) {
    let request = app
        .request(Method::OPTIONS, "/en/api/v1/messages/5/edit", None)
        .header("origin", origin)
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-request-id",
        );
    let response = app.send(request).await;
    (response.status(), response.headers().clone())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map_or("", |value| value.to_str().expect("ASCII"))
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered() {
    let app = TestApp::spawn().await;
    let (status, headers) = preflight(&app, ALLOWED).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "access-control-allow-origin"), ALLOWED);
    assert!(header(&headers, "access-control-allow-methods").contains("PUT"));
    let allowed = header(&headers, "access-control-allow-headers").to_lowercase();
    for name in ["authorization", "content-type", "x-request-id"] {
        assert!(allowed.contains(name), "{name} in {allowed}");
    }
    assert!(header(&headers, "vary").to_lowercase().contains("origin"));
}

#[tokio::test]
async fn a_preflight_from_another_origin_gets_no_cors_headers() {
    let app = TestApp::spawn().await;
    let (_status, headers) = preflight(&app, FOREIGN).await;
    assert_eq!(header(&headers, "access-control-allow-origin"), "");
}

#[tokio::test]
async fn simple_requests_carry_cors_headers_for_allowed_origins_only() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    for (origin, expected) in [(ALLOWED, ALLOWED), (FOREIGN, "")] {
        let request = app
            .request(Method::GET, "/en/api/v1/users/me/", Some(&alice.token))
            .header("origin", origin);
        let response = app.send(request).await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(header(headers, "access-control-allow-origin"), expected);
        if !expected.is_empty() {
            let exposed = header(headers, "access-control-expose-headers").to_lowercase();
            assert!(exposed.contains("retry-after") && exposed.contains("x-request-id"));
        }
    }
    let refused = app
        .request(Method::GET, "/en/api/v1/users/me", None)
        .header("origin", ALLOWED);
    let response = app.send(refused).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(response.headers(), "access-control-allow-origin"),
        ALLOWED
    );
}
