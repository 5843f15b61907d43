//! The delivery checker: several WebSocket clients chat across two core
//! instances and two edges on one PostgreSQL while a fault strikes, and
//! every subscriber's view is checked against every acknowledged message:
//! nothing lost, nothing duplicated, nothing reordered.

mod check;
mod client;
#[path = "../common/core_process.rs"]
mod core_process;
mod scenarios;
mod system;
