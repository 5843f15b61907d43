//! End-to-end tests of the core over gRPC, each against a fresh database on
//! a real, throwaway PostgreSQL.

mod auth;
mod cluster;
mod concurrency;
mod helpers;
mod messages;
mod rooms;
mod storage;
mod subscribe;
mod users;
