//! Runs a PostgreSQL server from the locally installed binaries.
//!
//! Two uses:
//! - [`LocalPostgres::start_persistent`]: the chat core's embedded default when
//!   `DATABASE_URL` is unset, a cluster kept in a project-local directory.
//! - [`TestDatabase::create`]: a fresh database per test on a throwaway cluster
//!   ([`shared_temporary`]) that disappears with the test process, however it ends.
//!
//! Servers listen on a unix socket only and trust the superuser `postgres`. When running as
//! root, `initdb` and `postgres` run as `postgres` (or `nobody`) through `setpriv`. Each owned
//! server is watched by a small shell that stops it when its owner is dropped or its process
//! dies, SIGKILL included. The binaries are found through `PG_BINDIR`, `pg_config --bindir`,
//! `/usr/lib/postgresql/*/bin` or `PATH`.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let db = pg_local::TestDatabase::create()?;
//! // "host=/tmp/pg-local-… port=5432 user=postgres dbname=test_1"
//! let url = db.connection_string();
//! let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod binaries;
mod client;
mod cluster;
mod error;
mod persistent;
mod relocate;
mod server;
mod server_user;
mod shared;
mod watchdog;

pub use cluster::LocalPostgres;
pub use error::Error;
pub use relocate::RELOCATED_BASE;
pub use shared::{TestDatabase, shared_temporary};
