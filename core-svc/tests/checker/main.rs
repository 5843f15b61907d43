//! The delivery checker: several WebSocket clients chat across two core
//! instances and their edges (two, or one linked to either core) on one
//! PostgreSQL while a fault strikes, and every subscriber's view is checked
//! against every acknowledged message: nothing lost, nothing duplicated,
//! nothing reordered. User sockets (`/ws/user/`) are checked the same way,
//! room by room, beside the room sockets.

mod check;
mod client;
#[path = "../common/core_process.rs"]
mod core_process;
mod failover;
mod scenarios;
mod system;
mod user_client;
mod user_socket;
