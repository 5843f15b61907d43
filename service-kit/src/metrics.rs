//! The skeleton of both services' Prometheus metrics: the latency buckets,
//! the text exposition of a registry, and the `/metrics` answer. Each
//! service keeps its own registry (never a global) and metric definitions.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A latency histogram in seconds: buckets from 0.5 ms to about 16 s, doubling.
pub fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The OpenMetrics text exposition of `registry`.
pub fn render(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut text = String::with_capacity(4096);
    encode(&mut text, registry)?;
    Ok(text)
}

/// The answer to `GET /metrics`: the exposition with its content type, or
/// 500 (logged here, once) when it could not be rendered.
pub fn response(rendered: Result<String, std::fmt::Error>) -> Response {
    match rendered {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "could not render metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::counter::Counter;

    use super::*;

    #[test]
    fn a_registry_renders_as_openmetrics_text() {
        let mut registry = Registry::with_prefix("t");
        let counter = Counter::<u64>::default();
        registry.register("calls", "Calls", counter.clone());
        counter.inc();
        let histogram = latency_histogram();
        registry.register("latency_seconds", "Latency", histogram.clone());
        histogram.observe(0.001);
        let text = render(&registry).unwrap_or_default();
        assert!(text.contains("t_calls_total 1"), "{text}");
        assert!(
            text.contains("t_latency_seconds_bucket{le=\"0.0005\"} 0"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn the_answer_names_the_openmetrics_content_type() {
        let answer = response(Ok("# EOF\n".to_owned()));
        assert_eq!(answer.status(), StatusCode::OK);
        let content_type = answer.headers().get(header::CONTENT_TYPE);
        assert_eq!(
            content_type.and_then(|value| value.to_str().ok()),
            Some(CONTENT_TYPE)
        );
    }

    #[test]
    fn a_failed_rendering_is_a_500() {
        assert_eq!(
            response(Err(std::fmt::Error)).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
