//! Operability: Prometheus metrics, the RPC latency layer with request ids,
//! and the small HTTP listener for `/metrics`, `/healthz` and `/readyz`.

mod http;
mod metrics;
mod rpc_layer;
mod rpc_methods;

pub use http::{OpsState, router as http_router};
pub use metrics::{GaugeGuard, Metrics, RpcLabels, SubscriptionGuard};
pub use rpc_layer::RpcLayer;
pub use rpc_methods::ServedMethods;
