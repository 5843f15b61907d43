//! The delivery checker: several WebSocket clients chat across two core
//! instances and their edges (two, or one linked to either core) on one
//! PostgreSQL while a fault strikes, and every subscriber's view is checked
//! against every acknowledged message: nothing lost, nothing duplicated,
//! nothing reordered.

mod check;
mod client;
#[path = "../common/core_process.rs"]
mod core_process;
mod failover;
mod scenarios;
mod system;
