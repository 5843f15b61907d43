//! What the core and the edge share as services:
//!
//! - [`logging`]: the log filter that keeps payloads out of the logs, and
//!   the subscriber both binaries install;
//! - [`settings`]: flags and environment variables, an empty variable
//!   counting as unset, and the one meaning of development mode;
//! - [`secret`]: settings that never print themselves;
//! - [`shutdown`]: Ctrl-C or SIGTERM, the signal that stops a service;
//! - [`metrics`]: latency buckets, the text exposition and `/metrics`;
//! - [`request_id`]: the `x-request-id` header, its cap and fresh ids;
//! - [`limits`]: the contract's size rules (the message-text rule, 64 KiB);
//! - [`dev_token`]: development tokens and the built-in development secret;
//! - [`help`]: the check, run by both crates' tests, that a binary's
//!   `--help` and the README's configuration table name the same settings.

pub mod dev_token;
pub mod help;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod request_id;
pub mod secret;
pub mod settings;
pub mod shutdown;
