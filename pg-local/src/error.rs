//! The one error type of this crate: every failure names what was being done and why it failed.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Everything that can go wrong while finding, starting or talking to a local PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No directory with `initdb` and `postgres` was found.
    #[error(
        "PostgreSQL server binaries not found ({searched}): install postgresql \
         (apt-get install postgresql) or set PG_BINDIR to the directory holding initdb"
    )]
    BinariesNotFound {
        /// Where the search looked, for the reader of the message.
        searched: String,
    },
    /// A helper program this crate relies on is not installed.
    #[error("`{program}` not found on PATH: {hint}")]
    ToolNotFound {
        /// The program name.
        program: &'static str,
        /// How to install it.
        hint: &'static str,
    },
    /// Running as root, but neither `postgres` nor `nobody` exists to run the server as.
    #[error(
        "running as root and no unprivileged user (`postgres` or `nobody`) to run PostgreSQL as"
    )]
    NoUnprivilegedUser,
    /// The server user cannot reach the data directory through one of its parents.
    #[error(
        "{path} is not traversable by user `{user}`, who runs PostgreSQL: make it world-executable or pick another data directory"
    )]
    NotTraversable {
        /// The parent directory that blocks the way.
        path: PathBuf,
        /// The user PostgreSQL runs as.
        user: String,
    },
    /// No directory short enough for a unix socket path could be found.
    #[error("no directory gives a unix socket path under 108 bytes (tried {tried})")]
    SocketPathTooLong {
        /// The directories that were tried.
        tried: String,
    },
    /// A database name PostgreSQL would reject or truncate.
    #[error("invalid database name {name:?}: {reason}")]
    InvalidDatabaseName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A file system or process operation failed.
    #[error("could not {action}")]
    Io {
        /// What was being done, e.g. "create the temporary data directory".
        action: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A PostgreSQL program (initdb, psql …) exited unsuccessfully.
    #[error("`{command}` failed ({status}): {output}")]
    Command {
        /// The program and its arguments.
        command: String,
        /// How it exited.
        status: ExitStatus,
        /// Its trimmed standard error, or standard output when that was empty.
        output: String,
    },
    /// The server rejected a statement.
    #[error("PostgreSQL rejected `{statement}`: {sqlstate}: {message}")]
    Sql {
        /// The statement that was sent.
        statement: String,
        /// The five-character SQLSTATE code.
        sqlstate: String,
        /// The server's message.
        message: String,
    },
    /// The server process exited before accepting connections.
    #[error("PostgreSQL exited during startup; server log ends with:\n{log_tail}")]
    ServerExited {
        /// The last lines of the server log.
        log_tail: String,
    },
    /// The server did not accept connections in time.
    #[error(
        "PostgreSQL did not accept connections within {waited:?}; server log ends with:\n{log_tail}"
    )]
    StartTimeout {
        /// How long was waited.
        waited: Duration,
        /// The last lines of the server log.
        log_tail: String,
    },
    /// The process-wide shared cluster failed to start earlier; the first error is repeated.
    #[error("the shared temporary PostgreSQL failed to start: {reason}")]
    SharedClusterUnavailable {
        /// The error of the first attempt, with its causes.
        reason: String,
    },
}

impl Error {
    /// Wraps an I/O error with what was being attempted.
    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let action = action.into();
        move |source| Error::Io { action, source }
    }
}
