//! The WebSocket handshake (RFC 6455 over HTTP/1.1), done here rather than
//! by axum's `WebSocketUpgrade` so that the session owns tokio-tungstenite's
//! stream itself: only through it can a large frame be written in
//! fragments (see `writer.rs`), which keeps each socket's write buffer at
//! the size of a fragment instead of its largest frame. Refusals keep
//! axum's statuses and texts.

use std::future::Future;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::{Role, WebSocketConfig};

/// An accepted client socket.
pub type WebSocket = WebSocketStream<TokioIo<Upgraded>>;

/// Why a request is no WebSocket handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    MethodNotGet,
    InvalidConnectionHeader,
    InvalidUpgradeHeader,
    WebSocketKeyHeaderMissing,
    InvalidWebSocketVersionHeader,
    ConnectionNotUpgradable,
}

impl Rejection {
    pub fn status(self) -> StatusCode {
        match self {
            Self::MethodNotGet => StatusCode::METHOD_NOT_ALLOWED,
            Self::ConnectionNotUpgradable => StatusCode::UPGRADE_REQUIRED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub fn body_text(self) -> String {
        match self {
            Self::MethodNotGet => "Request method must be `GET`",
            Self::InvalidConnectionHeader => "Connection header did not include 'upgrade'",
            Self::InvalidUpgradeHeader => "`Upgrade` header did not include 'websocket'",
            Self::WebSocketKeyHeaderMissing => "`Sec-WebSocket-Key` header missing",
            Self::InvalidWebSocketVersionHeader => {
                "`Sec-WebSocket-Version` header did not include '13'"
            }
            Self::ConnectionNotUpgradable => {
                "WebSocket request couldn't be upgraded since no upgrade state was present"
            }
        }
        .to_owned()
    }
}

/// Handlers take `Result<Upgrade, Rejection>` and answer with the edge's
/// JSON error body; this plain answer is for a handler that does not.
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        (self.status(), self.body_text()).into_response()
    }
}

/// A valid handshake, answered by [`Upgrade::on_upgrade`].
pub struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
    config: WebSocketConfig,
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Rejection> {
        if parts.method != Method::GET {
            return Err(Rejection::MethodNotGet);
        }
        let headers = &parts.headers;
        if !header_contains(headers, header::CONNECTION, "upgrade") {
            return Err(Rejection::InvalidConnectionHeader);
        }
        if !header_eq(headers, header::UPGRADE, "websocket") {
            return Err(Rejection::InvalidUpgradeHeader);
        }
        let key = headers
            .get(header::SEC_WEBSOCKET_KEY)
            .ok_or(Rejection::WebSocketKeyHeaderMissing)?
            .clone();
        if !header_eq(headers, header::SEC_WEBSOCKET_VERSION, "13") {
            return Err(Rejection::InvalidWebSocketVersionHeader);
        }
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(Rejection::ConnectionNotUpgradable)?;
        Ok(Self {
            key,
            on_upgrade,
            config: WebSocketConfig::default(),
        })
    }
}

impl Upgrade {
    /// The socket's buffers and limits.
    pub fn config(mut self, config: WebSocketConfig) -> Self {
        self.config = config;
        self
    }

    /// Answers 101 and, once the connection is switched, runs `callback`
    /// with the socket on a task of its own (a failed switch runs nothing).
    pub fn on_upgrade<C, F>(self, callback: C) -> Response
    where
        C: FnOnce(WebSocket) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let Self {
            key,
            on_upgrade,
            config,
        } = self;
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let socket = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(config),
            )
            .await;
            callback(socket).await;
        });
        let accept = derive_accept_key(key.as_bytes());
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

fn header_eq(headers: &HeaderMap, key: HeaderName, value: &str) -> bool {
    headers
        .get(key)
        .is_some_and(|header| header.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

fn header_contains(headers: &HeaderMap, key: HeaderName, value: &str) -> bool {
    headers
        .get(key)
        .and_then(|header| header.to_str().ok())
        .is_some_and(|header| header.to_ascii_lowercase().contains(value))
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    async fn extract(request: Request<()>) -> Result<Upgrade, Rejection> {
        let (mut parts, ()) = request.into_parts();
        Upgrade::from_request_parts(&mut parts, &()).await
    }

    fn handshake() -> axum::http::request::Builder {
        Request::get("/ws/user/")
            .header("connection", "keep-alive, Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    }

    #[tokio::test]
    async fn requests_that_are_no_handshake_are_refused_as_axum_refuses_them() {
        let post = Request::post("/ws/user/").body(()).unwrap();
        assert_eq!(extract(post).await.err(), Some(Rejection::MethodNotGet));
        let plain = Request::get("/ws/user/").body(()).unwrap();
        assert_eq!(
            extract(plain).await.err(),
            Some(Rejection::InvalidConnectionHeader)
        );
        let mut old = handshake().body(()).unwrap();
        old.headers_mut()
            .insert("sec-websocket-version", HeaderValue::from_static("8"));
        assert_eq!(
            extract(old).await.err(),
            Some(Rejection::InvalidWebSocketVersionHeader)
        );
        let mut request = handshake().body(()).unwrap();
        request.headers_mut().remove("sec-websocket-key");
        assert_eq!(
            extract(request).await.err(),
            Some(Rejection::WebSocketKeyHeaderMissing)
        );
        // A valid handshake on a connection that cannot switch.
        let request = handshake().body(()).unwrap();
        let rejection = extract(request).await.err();
        assert_eq!(rejection, Some(Rejection::ConnectionNotUpgradable));
        assert_eq!(rejection.unwrap().status(), StatusCode::UPGRADE_REQUIRED);
    }
}
