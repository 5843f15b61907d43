//! End-to-end tests of the core over gRPC, each against a fresh database on
//! a real, throwaway PostgreSQL.

mod auth;
mod authorization;
mod cluster;
mod concurrency;
mod conversations;
#[path = "../common/core_process.rs"]
mod core_process;
mod deadlines;
mod empty_env;
mod feed;
mod feed_order;
mod help;
mod helpers;
mod inbox;
mod inbox_fast_lane;
mod jwks_max_age;
mod limits;
mod link;
mod messages;
mod nul_characters;
mod ops;
mod presence;
mod properties;
mod rooms;
mod shutdown;
mod storage;
mod subscribe;
mod users;
mod webhooks;
