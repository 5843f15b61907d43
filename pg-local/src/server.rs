//! Creating a cluster with `initdb`, launching `postgres` under a watchdog, and waiting until
//! it accepts connections.

use std::ffi::OsString;
use std::fs::{self, OpenOptions, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::Error;
use crate::binaries::Binaries;
use crate::server_user::ServerUser;
use crate::watchdog::Watchdog;

/// The superuser role every cluster is created with.
pub(crate) const SUPERUSER: &str = "postgres";
/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How often readiness is probed.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;
/// The server log, inside the data directory.
const LOG_FILE: &str = "pg-local.log";

/// Whether a cluster trades crash safety for speed, and is kept at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Throwaway test data: no fsync, no full-page writes, asynchronous commit; the data
    /// directory is removed when the server stops.
    Throwaway,
    /// Data meant to survive crashes: PostgreSQL's defaults.
    Durable,
}

/// Everything needed to launch one server.
#[derive(Debug)]
pub(crate) struct Launch<'a> {
    pub(crate) bin: &'a Binaries,
    pub(crate) user: &'a ServerUser,
    pub(crate) data_dir: &'a Path,
    pub(crate) socket_dir: &'a Path,
    pub(crate) port: u16,
    pub(crate) durability: Durability,
    /// Paths the watchdog removes once the server has stopped.
    pub(crate) cleanup: Vec<PathBuf>,
}

/// Creates a cluster in `data_dir` (which must be absent or empty) with a trusted superuser.
pub(crate) fn initdb(
    bin: &Binaries,
    user: &ServerUser,
    data_dir: &Path,
    durability: Durability,
) -> Result<(), Error> {
    let mut command = user.command(&bin.program("initdb"));
    command.arg("-D").arg(data_dir);
    command.args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C"]);
    if durability == Durability::Throwaway {
        command.arg("--no-sync");
    }
    run(&mut command).map(drop)
}

/// Starts the server under a watchdog and returns once it accepts connections.
///
/// On failure the watchdog is dropped, which stops the server and runs the cleanup.
pub(crate) fn launch(launch: Launch<'_>) -> Result<Watchdog, Error> {
    let log = launch.data_dir.join(LOG_FILE);
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&log)
        .map_err(Error::io(format!(
            "create the server log {}",
            log.display()
        )))?;
    launch.user.give(&log)?;
    let mut argv = launch.user.argv(&launch.bin.program("postgres"));
    argv.extend(server_args(&launch));
    let watchdog = Watchdog::spawn(&argv, &log, &launch.cleanup)?;
    wait_ready(&launch, &log, &watchdog)?;
    Ok(watchdog)
}

fn server_args(launch: &Launch<'_>) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-D".into(), launch.data_dir.into()];
    args.extend(["-k".into(), launch.socket_dir.into()]);
    args.extend(["-p".into(), launch.port.to_string().into()]);
    // Unix socket only: nothing to collide with on TCP, nothing exposed.
    args.extend(["-c".into(), "listen_addresses=".into()]);
    if launch.durability == Durability::Throwaway {
        for setting in [
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
        ] {
            args.extend(["-c".into(), setting.into()]);
        }
    }
    args
}

/// Polls until the server accepts connections; fails if it exits or time runs out.
fn wait_ready(launch: &Launch<'_>, log: &Path, watchdog: &Watchdog) -> Result<(), Error> {
    let started = Instant::now();
    loop {
        if is_ready(launch.bin, launch.socket_dir, launch.port)? {
            return Ok(());
        }
        if !watchdog.server_alive() {
            return Err(Error::ServerExited {
                log_tail: log_tail(log),
            });
        }
        if started.elapsed() > START_TIMEOUT {
            let log_tail = log_tail(log);
            return Err(Error::StartTimeout {
                waited: START_TIMEOUT,
                log_tail,
            });
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Whether a server on this socket accepts connections (`pg_isready` exits 0).
pub(crate) fn is_ready(bin: &Binaries, socket_dir: &Path, port: u16) -> Result<bool, Error> {
    let status = bin
        .command("pg_isready")
        .arg("-q")
        .arg("-h")
        .arg(socket_dir)
        .args(["-p", &port.to_string(), "-U", SUPERUSER, "-d", "postgres"])
        .status()
        .map_err(Error::io(format!(
            "run {}",
            bin.program("pg_isready").display()
        )))?;
    Ok(status.success())
}

/// The last lines of the server log, or a note saying why there are none.
fn log_tail(log: &Path) -> String {
    match fs::read_to_string(log) {
        Ok(text) => last_lines(&text, 20),
        Err(error) => format!("(cannot read {}: {error})", log.display()),
    }
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// Runs a command to completion; a non-zero exit becomes [`Error::Command`] with its output.
pub(crate) fn run(command: &mut Command) -> Result<Output, Error> {
    let described = format!("{command:?}");
    let output = command
        .output()
        .map_err(Error::io(format!("run {described}")))?;
    if output.status.success() {
        return Ok(output);
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let text = if stderr.is_empty() { stdout } else { stderr };
    Err(Error::Command {
        command: described,
        status: output.status,
        output: last_lines(&text, 20),
    })
}

/// Where the server puts its socket: the preferred directory, or a short temporary one when
/// `<preferred>/.s.PGSQL.<port>` would not fit in a unix socket address.
#[derive(Debug)]
pub(crate) struct SocketDir {
    pub(crate) path: PathBuf,
    /// The short temporary directory, removed if launching fails before a watchdog owns it.
    pub(crate) temporary: Option<TempDir>,
}

impl SocketDir {
    /// Picks `preferred` if the socket path fits, else a fresh directory in the temp dir or `/tmp`.
    pub(crate) fn choose(preferred: &Path, port: u16, user: &ServerUser) -> Result<Self, Error> {
        if socket_path_fits(preferred, port) {
            return Ok(Self {
                path: preferred.to_path_buf(),
                temporary: None,
            });
        }
        let bases = [std::env::temp_dir(), PathBuf::from("/tmp")];
        for base in &bases {
            // Private: with trust authentication, reaching the socket is logging in.
            let private = Permissions::from_mode(0o700);
            let created = tempfile::Builder::new()
                .prefix("pgs-")
                .permissions(private)
                .tempdir_in(base);
            let Ok(dir) = created else {
                continue;
            };
            if socket_path_fits(dir.path(), port) {
                user.give(dir.path())?;
                return Ok(Self {
                    path: dir.path().to_path_buf(),
                    temporary: Some(dir),
                });
            }
        }
        let tried = format!("{}, {} and /tmp", preferred.display(), bases[0].display());
        Err(Error::SocketPathTooLong { tried })
    }
}

fn socket_path_fits(dir: &Path, port: u16) -> bool {
    let socket = dir.join(format!(".s.PGSQL.{port}"));
    socket.as_os_str().len() <= MAX_SOCKET_PATH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_directory_holds_the_socket_itself() {
        let user = ServerUser::for_new_cluster().unwrap();
        let chosen = SocketDir::choose(Path::new("/tmp/pg-local-abc"), 5432, &user).unwrap();
        assert_eq!(chosen.path, Path::new("/tmp/pg-local-abc"));
        assert!(chosen.temporary.is_none());
    }

    #[test]
    fn a_long_directory_moves_the_socket_to_a_short_temporary_one() {
        let user = ServerUser::for_new_cluster().unwrap();
        let long = PathBuf::from("/tmp").join("x".repeat(100));
        let chosen = SocketDir::choose(&long, 5432, &user).unwrap();
        assert_ne!(chosen.path, long);
        assert!(socket_path_fits(&chosen.path, 5432));
        assert!(chosen.path.is_dir());
    }

    #[test]
    fn the_log_tail_keeps_only_the_last_lines() {
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(last_lines("a", 5), "a");
    }
}
