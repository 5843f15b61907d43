//! [`LocalPostgres`]: one running PostgreSQL server, either throwaway or persistent.

use std::fs::{self, DirBuilder};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::binaries::Binaries;
use crate::client::{self, quote_identifier};
use crate::persistent::{StartupLock, find_running};
use crate::relocate::relocate;
use crate::server::{self, Durability, Launch, SocketDir};
use crate::server_user::ServerUser;
use crate::watchdog::Watchdog;

/// The port of every cluster. The socket lives in a private directory, so the number only
/// names the socket file and cannot collide with another server.
const PORT: u16 = 5432;

/// A PostgreSQL server started from the locally installed binaries, reachable over a unix
/// socket as the trusted superuser `postgres`.
///
/// The server runs as long as this value (or, for an attached one, its owner) lives. All methods
/// block; async callers wrap them in `spawn_blocking` when that matters.
#[derive(Debug)]
pub struct LocalPostgres {
    bin: Binaries,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    port: u16,
    /// `None` when attached to a server that another value or process owns.
    watchdog: Option<Watchdog>,
}

impl LocalPostgres {
    /// Starts a throwaway cluster in a fresh temporary directory.
    ///
    /// Unix socket only (`listen_addresses=''`), with `fsync`, `synchronous_commit` and
    /// `full_page_writes` off. The server stops and its directory is removed when this value
    /// is dropped and also when the process exits in any way, SIGKILL included.
    pub fn start_temporary() -> Result<Self, Error> {
        let bin = Binaries::discover()?;
        let user = ServerUser::for_new_cluster()?;
        let temp = tempfile::Builder::new()
            .prefix("pg-local-")
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(Error::io("create a temporary data directory"))?;
        user.give(temp.path())?;
        user.check_traversable(temp.path())?;
        server::initdb(&bin, &user, temp.path(), Durability::Throwaway)?;
        let cluster = Self::launch(bin, &user, temp.path(), Durability::Throwaway)?;
        // The watchdog now removes the directory; the guard must not race it.
        let _ = temp.keep();
        Ok(cluster)
    }

    /// Starts, or attaches to, the persistent cluster in `data_dir`.
    ///
    /// The directory is created and initialised on first use and kept afterwards; PostgreSQL's
    /// durable defaults apply. If a server already runs on it (another instance started at the
    /// same time, say), this attaches to that server and never stops it. Otherwise the server
    /// started here stops with a fast shutdown when this value is dropped or the process dies.
    /// Concurrent starts are serialised by a lock file beside the data directory.
    ///
    /// When running as root and the server user cannot reach a new `data_dir` (a checkout
    /// under `/root`), the cluster is created under `/var/lib/pg-local` instead and `data_dir`
    /// becomes a symbolic link to it; [`LocalPostgres::data_dir`] tells the real place.
    pub fn start_persistent(data_dir: &Path) -> Result<Self, Error> {
        let bin = Binaries::discover()?;
        let data_dir = reachable_dir(prepare_persistent_dir(data_dir)?)?;
        let _lock = StartupLock::acquire(&data_dir)?;
        if let Some(running) = find_running(&bin, &data_dir)? {
            let (socket_dir, port) = (running.socket_dir, running.port);
            return Ok(Self {
                bin,
                data_dir,
                socket_dir,
                port,
                watchdog: None,
            });
        }
        let user = ServerUser::for_data_dir(&data_dir)?;
        user.check_traversable(&data_dir)?;
        user.give(&data_dir)?;
        fs::set_permissions(&data_dir, fs::Permissions::from_mode(0o700))
            .map_err(Error::io(format!("make {} private", data_dir.display())))?;
        if !data_dir.join("PG_VERSION").exists() {
            server::initdb(&bin, &user, &data_dir, Durability::Durable)?;
        }
        Self::launch(bin, &user, &data_dir, Durability::Durable)
    }

    fn launch(
        bin: Binaries,
        user: &ServerUser,
        data_dir: &Path,
        durability: Durability,
    ) -> Result<Self, Error> {
        let socket = SocketDir::choose(data_dir, PORT, user)?;
        let mut cleanup: Vec<PathBuf> = socket.temporary.iter().map(|d| d.path().into()).collect();
        if durability == Durability::Throwaway {
            cleanup.push(data_dir.to_path_buf());
        }
        let launch = Launch {
            bin: &bin,
            user,
            data_dir,
            socket_dir: &socket.path,
            port: PORT,
            durability,
            cleanup,
        };
        let watchdog = server::launch(launch)?;
        // The watchdog removes the short socket directory; the guard must not race it.
        let _ = socket.temporary.map(tempfile::TempDir::keep);
        let (data_dir, socket_dir) = (data_dir.to_path_buf(), socket.path);
        Ok(Self {
            bin,
            data_dir,
            socket_dir,
            port: PORT,
            watchdog: Some(watchdog),
        })
    }

    /// A libpq key/value connection string for database `dbname`, as accepted by
    /// `tokio_postgres::Config::from_str`, e.g. `host=/tmp/pg-local-x port=5432 user=postgres
    /// dbname=chat`.
    pub fn connection_string(&self, dbname: &str) -> String {
        client::connection_string(&self.socket_dir, self.port, dbname)
    }

    /// The directory holding the server's unix socket (the `host` of a connection).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The port, which with [`socket_dir`](Self::socket_dir) names the socket file.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Whether this value started the server (and stops it on drop) rather than attached to one.
    pub fn owns_server(&self) -> bool {
        self.watchdog.is_some()
    }

    /// Creates database `name` unless it exists; safe to call concurrently.
    pub fn ensure_database(&self, name: &str) -> Result<(), Error> {
        let statement = format!("CREATE DATABASE {}", quote_identifier(name)?);
        match client::execute(&self.bin, &self.socket_dir, self.port, &statement) {
            // duplicate_database, or the unique index on pg_database when two creators race.
            Err(Error::Sql { sqlstate, .. }) if sqlstate == "42P04" || sqlstate == "23505" => {
                Ok(())
            }
            result => result,
        }
    }

    /// Drops database `name` if it exists, disconnecting its sessions (`WITH (FORCE)`).
    pub fn drop_database(&self, name: &str) -> Result<(), Error> {
        let statement = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_identifier(name)?
        );
        client::execute(&self.bin, &self.socket_dir, self.port, &statement)
    }
}

/// `data_dir` itself when the server user can reach it, else a relocated directory.
fn reachable_dir(data_dir: PathBuf) -> Result<PathBuf, Error> {
    let user = ServerUser::for_data_dir(&data_dir)?;
    match user.check_traversable(&data_dir) {
        Ok(()) => Ok(data_dir),
        Err(blocked @ Error::NotTraversable { .. }) => relocate(&data_dir, blocked),
        Err(other) => Err(other),
    }
}

/// Creates `data_dir` (mode 0700) and its parents (default mode, so the server user can pass
/// through them), and returns its absolute, canonical path.
fn prepare_persistent_dir(data_dir: &Path) -> Result<PathBuf, Error> {
    let action = || format!("create the data directory {}", data_dir.display());
    if let Some(parent) = data_dir.parent() {
        fs::create_dir_all(parent).map_err(Error::io(action()))?;
    }
    if let Err(error) = DirBuilder::new().mode(0o700).create(data_dir)
        && error.kind() != ErrorKind::AlreadyExists
    {
        return Err(Error::io(action())(error));
    }
    fs::canonicalize(data_dir).map_err(Error::io(format!(
        "resolve the data directory {}",
        data_dir.display()
    )))
}
