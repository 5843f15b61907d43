//! The process-wide throwaway cluster for tests, and a fresh database on it per test.
//!
//! One server per test binary keeps tests fast; one database per test keeps them independent.
//! The cluster lives in a static because Rust tests share nothing else; statics are never
//! dropped, so its watchdog stops it when the test process exits.

use std::error::Error as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, LocalPostgres};

static SHARED: OnceLock<Result<LocalPostgres, Error>> = OnceLock::new();

/// The process-wide throwaway cluster, started on first use.
///
/// If starting fails, every call returns [`Error::SharedClusterUnavailable`] with the first
/// error, so each test reports the real cause without retrying a slow failure.
pub fn shared_temporary() -> Result<&'static LocalPostgres, Error> {
    match SHARED.get_or_init(LocalPostgres::start_temporary) {
        Ok(cluster) => Ok(cluster),
        Err(error) => Err(Error::SharedClusterUnavailable {
            reason: with_causes(error),
        }),
    }
}

fn with_causes(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// A fresh, uniquely named database on the [shared cluster](shared_temporary), dropped
/// (`WITH (FORCE)`, so open connections do not keep it alive) when this value is dropped.
///
/// Dropping blocks for the few milliseconds `DROP DATABASE` takes. A failed drop is ignored:
/// the whole cluster is removed when the process exits anyway.
#[derive(Debug)]
pub struct TestDatabase {
    cluster: &'static LocalPostgres,
    name: String,
}

impl TestDatabase {
    /// Creates a new empty database on the shared cluster.
    pub fn create() -> Result<Self, Error> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let cluster = shared_temporary()?;
        // Unique within the cluster, which only this process uses.
        let name = format!("test_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        cluster.ensure_database(&name)?;
        Ok(Self { cluster, name })
    }

    /// A libpq key/value connection string for this database.
    pub fn connection_string(&self) -> String {
        self.cluster.connection_string(&self.name)
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cluster the database lives on.
    pub fn cluster(&self) -> &'static LocalPostgres {
        self.cluster
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = self.cluster.drop_database(&self.name);
    }
}
