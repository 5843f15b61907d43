//! The watchdog: a small `sh` that owns the `postgres` process and stops it when its owner goes.
//!
//! The shell's standard input is a pipe whose only writer is the owning process. The shell starts
//! the server in the background and blocks reading that pipe; the read returns when the owner
//! drops its end or dies in any way, SIGKILL included. The shell then sends SIGINT (fast
//! shutdown), waits for the server, and removes the directories it was told to clean up. Neither
//! `Drop` of statics (never run for Rust tests) nor `PR_SET_PDEATHSIG` (tied to the spawning
//! thread) could give that guarantee.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::Error;

/// `$@` is the server command. Fd 3 keeps the pipe because background jobs get /dev/null as
/// standard input. The server's pid goes to standard output, which is then closed.
const SCRIPT: &str = r#"
exec 2>>"$PG_LOCAL_LOG" 3<&0
"$@" </dev/null 3<&- >>"$PG_LOCAL_LOG" 2>&1 &
server=$!
echo "$server"
exec >/dev/null
{ read -r _ <&3; kill -INT "$server"; } &
exec 3<&-
wait "$server"
wait
printf '%s\n' "$PG_LOCAL_CLEANUP" | while IFS= read -r dir; do
    if [ -n "$dir" ]; then rm -rf -- "$dir"; fi
done
"#;

/// A running server and the shell that will stop it.
#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Child,
    /// Dropping this end of the pipe is what stops the server.
    lifeline: Option<ChildStdin>,
    server: Pid,
}

impl Watchdog {
    /// Starts `server_argv` under a watchdog that appends its output to `log` and removes
    /// every path in `cleanup` after the server has stopped.
    pub(crate) fn spawn(
        server_argv: &[OsString],
        log: &Path,
        cleanup: &[PathBuf],
    ) -> Result<Self, Error> {
        let cleanup = cleanup_list(cleanup).map_err(Error::io("pass cleanup paths"))?;
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(SCRIPT)
            .arg("pg-local-watchdog")
            .args(server_argv)
            .env("PG_LOCAL_LOG", log)
            .env("PG_LOCAL_CLEANUP", cleanup)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own process group, so a terminal's Ctrl-C reaches only us; our exit then
            // closes the pipe and the watchdog still cleans up.
            .process_group(0)
            .spawn()
            .map_err(Error::io("start the watchdog shell /bin/sh"))?;
        let lifeline = child.stdin.take();
        let stdout = child.stdout.take();
        let mut watchdog = Self {
            child,
            lifeline,
            server: Pid::from_raw(0),
        };
        watchdog.server = read_pid(stdout).map_err(Error::io("read the server pid"))?;
        Ok(watchdog)
    }

    /// Whether the server process still exists.
    pub(crate) fn server_alive(&self) -> bool {
        process_alive(self.server)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.lifeline.take());
        // Only fails if the child was already reaped, which nothing else does.
        let _ = self.child.wait();
    }
}

/// Whether a process with this pid exists (owned by anyone).
pub(crate) fn process_alive(pid: Pid) -> bool {
    !matches!(kill(pid, None), Err(Errno::ESRCH))
}

fn read_pid(stdout: Option<std::process::ChildStdout>) -> io::Result<Pid> {
    let stdout = stdout.ok_or_else(|| io::Error::other("no pipe from the watchdog"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let pid = line.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("watchdog printed {line:?}"),
        )
    })?;
    Ok(Pid::from_raw(pid))
}

/// One path per line; a path with a newline in it cannot be passed safely.
fn cleanup_list(paths: &[PathBuf]) -> io::Result<OsString> {
    let mut list = OsString::new();
    for path in paths {
        if path.as_os_str().as_encoded_bytes().contains(&b'\n') {
            let message = format!("path {} contains a newline", path.display());
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        list.push(path);
        list.push("\n");
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn dropping_the_watchdog_removes_the_cleanup_paths() {
        let dir = tempfile::tempdir().unwrap();
        let doomed = dir.path().join("doomed");
        std::fs::create_dir(&doomed).unwrap();
        let argv: Vec<OsString> = vec!["true".into()];
        let watchdog = Watchdog::spawn(
            &argv,
            &dir.path().join("log"),
            std::slice::from_ref(&doomed),
        );
        drop(watchdog.unwrap());
        assert!(!doomed.exists());
    }

    #[test]
    fn a_server_that_exits_by_itself_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let argv: Vec<OsString> = vec!["true".into()];
        let watchdog = Watchdog::spawn(&argv, &dir.path().join("log"), &[]).unwrap();
        wait_for("the server to exit", || !watchdog.server_alive());
    }

    #[test]
    fn cleanup_paths_with_newlines_are_refused() {
        let error = cleanup_list(&[PathBuf::from("/tmp/a\nb")]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }
}
