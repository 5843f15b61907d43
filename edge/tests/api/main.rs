//! End-to-end tests of the edge: real HTTP and WebSocket clients against an
//! edge in front of a real core, each test on a fresh PostgreSQL database.

mod auth;
mod authorization;
mod concurrency;
mod conn_limits;
mod core_down;
mod core_failover;
mod cors;
mod deploy;
mod deploy_nginx;
mod dev_mode;
mod empty_env;
mod help;
mod helpers;
mod history;
mod idempotent_send;
mod messages;
mod nul_characters;
mod observability;
mod openapi;
mod oversized_tokens;
mod presence;
mod rest_rate_limit;
mod resume;
mod room_fanout;
mod rooms;
mod schemathesis;
mod send_deadline;
mod shutdown;
mod slow_client;
mod ws_auth;
mod ws_connect;
mod ws_errors;
mod ws_hostile;
mod ws_limits;
mod ws_send;
