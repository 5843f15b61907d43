//! Shared test helpers: queries over tokio-postgres, polling with a deadline, process checks.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use tempfile::TempDir;
use tokio_postgres::{Client, NoTls};

/// Generous, so a loaded CI machine does not fail a test that would pass.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Connects with a libpq key/value string and drives the connection in the background.
pub async fn connect(connection_string: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(connection_string, NoTls)
        .await
        .unwrap_or_else(|error| panic!("connect to {connection_string}: {error}"));
    tokio::spawn(connection);
    client
}

/// Runs `SELECT 1` on the database and returns the answer.
pub async fn select_one(connection_string: &str) -> i32 {
    let client = connect(connection_string).await;
    client.query_one("SELECT 1", &[]).await.unwrap().get(0)
}

/// Whether the cluster has a database called `name`.
pub async fn database_exists(cluster: &pg_local::LocalPostgres, name: &str) -> bool {
    let client = connect(&cluster.connection_string("postgres")).await;
    let sql = "SELECT count(*) FROM pg_database WHERE datname = $1";
    let count: i64 = client.query_one(sql, &[&name]).await.unwrap().get(0);
    count == 1
}

/// Polls `condition` every 20 ms until it holds; panics naming `what` after [`TIMEOUT`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {TIMEOUT:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a process with this pid exists.
pub fn process_alive(pid: i32) -> bool {
    !matches!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH))
}

/// The postmaster pid recorded in a data directory, if a server runs there.
pub fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    let text = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// A temporary parent for persistent data directories that the server user can pass through.
pub fn traversable_tempdir() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}
