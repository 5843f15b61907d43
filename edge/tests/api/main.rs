//! End-to-end tests of the edge: real HTTP and WebSocket clients against an
//! edge in front of a real core, each test on a fresh PostgreSQL database.

mod auth;
mod authorization;
mod concurrency;
mod core_down;
mod deploy;
mod dev_mode;
mod help;
mod helpers;
mod history;
mod idempotent_send;
mod messages;
mod observability;
mod openapi;
mod presence;
mod resume;
mod rooms;
mod send_deadline;
mod shutdown;
mod slow_client;
mod ws_connect;
mod ws_errors;
mod ws_hostile;
mod ws_limits;
mod ws_send;
