//! A tower layer on the tonic server: one `rpc` span per call with its
//! method and request id (the caller's `x-request-id`, or a fresh one), and
//! the call's latency in [`Metrics`]. Never touches `authorization`.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use service_kit::request_id::RequestIds;
use tonic::codegen::http;
use tower::{Layer, Service};
use tracing::Instrument;

use super::Metrics;

/// Numbers calls that arrive without an acceptable `x-request-id`: `core-1`, `core-2`, …
static REQUEST_IDS: RequestIds = RequestIds::new("core");

/// Wraps every service of the server in [`RpcMetrics`].
#[derive(Clone)]
pub struct RpcLayer {
    metrics: Metrics,
}

impl RpcLayer {
    /// A layer that records into `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for RpcLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`RpcLayer`] makes.
#[derive(Clone)]
pub struct RpcMetrics<S> {
    inner: S,
    metrics: Metrics,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<http::Request<B>> for RpcMetrics<S>
where
    S: Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let span = tracing::info_span!(
            "rpc",
            method = %method,
            request_id = %REQUEST_IDS.of(request.headers()),
        );
        let started = Instant::now();
        let response = self.inner.call(request);
        let metrics = self.metrics.clone();
        Box::pin(
            async move {
                let response = response.await;
                let elapsed = started.elapsed();
                metrics.rpc_finished(&method, elapsed);
                tracing::debug!(latency_ms = elapsed.as_secs_f64() * 1e3, "rpc finished");
                response
            }
            .instrument(span),
        )
    }
}
