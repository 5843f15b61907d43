//! What the core and the edge share as services:
//!
//! - [`logging`]: the log filter that keeps payloads out of the logs, and
//!   the subscriber both binaries install;
//! - [`help`]: the check, run by both crates' tests, that a binary's
//!   `--help` and the README's configuration table name the same settings;
//! - [`settings`]: flags and environment variables, an empty variable
//!   counting as unset.

pub mod help;
pub mod logging;
pub mod settings;
