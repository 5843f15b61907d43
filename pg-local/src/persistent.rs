//! Sharing one persistent data directory between processes: a file lock serialises startup,
//! and a server already running on the directory is attached to rather than started twice.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::Pid;

use crate::Error;
use crate::binaries::Binaries;
use crate::server::is_ready;
use crate::watchdog::process_alive;

/// How long to wait for a running server that does not accept connections yet.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Held while one process initialises or starts the cluster; released on drop.
#[derive(Debug)]
pub(crate) struct StartupLock {
    _lock: Flock<File>,
}

impl StartupLock {
    /// Blocks until this process alone may start the cluster in `data_dir`.
    ///
    /// The lock file `.<name>.pg-local.lock` lives beside the data directory and is kept.
    pub(crate) fn acquire(data_dir: &Path) -> Result<Self, Error> {
        let (Some(parent), Some(name)) = (data_dir.parent(), data_dir.file_name()) else {
            let source = std::io::Error::other("the data directory has no parent");
            return Err(Error::Io {
                action: format!("lock {}", data_dir.display()),
                source,
            });
        };
        let path = parent.join(format!(".{}.pg-local.lock", name.to_string_lossy()));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Error::io(format!("open the lock file {}", path.display())))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| {
            let action = format!("lock {}", path.display());
            Error::Io {
                action,
                source: errno.into(),
            }
        })?;
        Ok(Self { _lock: lock })
    }
}

/// Where a server that runs on a data directory can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Running {
    pub(crate) socket_dir: PathBuf,
    pub(crate) port: u16,
}

/// The server running on `data_dir`, if any, once it accepts connections.
///
/// `None` when no `postmaster.pid` exists or its process is gone (a stale file after a crash,
/// which `postgres` itself replaces). A server that is starting is waited for; one that is
/// shutting down disappears and so also yields `None`.
pub(crate) fn find_running(bin: &Binaries, data_dir: &Path) -> Result<Option<Running>, Error> {
    let started = Instant::now();
    loop {
        let Ok(text) = fs::read_to_string(data_dir.join("postmaster.pid")) else {
            return Ok(None);
        };
        if let Some((pid, running)) = parse_pid_file(&text) {
            if !process_alive(pid) {
                return Ok(None);
            }
            if is_ready(bin, &running.socket_dir, running.port)? {
                return Ok(Some(running));
            }
        }
        if started.elapsed() > ATTACH_TIMEOUT {
            let log_tail = format!(
                "a server holds {} (postmaster.pid) but does not accept connections",
                data_dir.display()
            );
            return Err(Error::StartTimeout {
                waited: ATTACH_TIMEOUT,
                log_tail,
            });
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Reads the pid (line 1), port (line 4) and first socket directory (line 5) of a
/// `postmaster.pid`; `None` while the file is incomplete.
fn parse_pid_file(text: &str) -> Option<(Pid, Running)> {
    let lines: Vec<&str> = text.lines().collect();
    let pid = lines.first()?.trim().parse().ok()?;
    let port = lines.get(3)?.trim().parse().ok()?;
    let socket_dir = lines.get(4)?.trim();
    if socket_dir.is_empty() {
        return None;
    }
    let running = Running {
        socket_dir: PathBuf::from(socket_dir),
        port,
    };
    Some((Pid::from_raw(pid), running))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_pid_file_names_pid_port_and_socket_directory() {
        let text = "8002\n/data\n1795290984\n5432\n/data\n\n  10010785 4\nready   \n";
        let (pid, running) = parse_pid_file(text).unwrap();
        assert_eq!(pid, Pid::from_raw(8002));
        assert_eq!(
            running,
            Running {
                socket_dir: "/data".into(),
                port: 5432
            }
        );
    }

    #[test]
    fn a_pid_file_still_being_written_is_incomplete() {
        assert_eq!(parse_pid_file("8002\n/data\n"), None);
    }

    #[test]
    fn a_second_lock_on_the_same_directory_waits_for_the_first() {
        let parent = tempfile::tempdir().unwrap();
        let data_dir = parent.path().join("data");
        let first = StartupLock::acquire(&data_dir).unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let _second = StartupLock::acquire(&data_dir).unwrap();
            sender.send(()).unwrap();
        });
        let early = receiver.recv_timeout(Duration::from_millis(200));
        assert!(
            early.is_err(),
            "the second lock was granted while the first was held"
        );
        drop(first);
        receiver.recv_timeout(Duration::from_secs(10)).unwrap();
        waiter.join().unwrap();
    }
}
