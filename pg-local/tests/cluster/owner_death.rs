//! A server lives only as long as its owning process: SIGKILL of the owner stops it.
//!
//! The owner is this test binary re-run as a child with `PG_LOCAL_TEST_CHILD` set, so that the
//! ignored test [`child_holds_a_cluster`] starts a cluster, prints its data directory and waits
//! to be killed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use pg_local::LocalPostgres;

use crate::helpers::{postmaster_pid, process_alive, traversable_tempdir, wait_until};

const CHILD_MODE: &str = "PG_LOCAL_TEST_CHILD";
const CHILD_DATA_DIR: &str = "PG_LOCAL_TEST_CHILD_DATA_DIR";
const READY: &str = "pg-local-child-ready ";

#[test]
#[ignore = "the body of the child process of the owner-death tests"]
fn child_holds_a_cluster() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    let cluster = match mode.as_str() {
        "temporary" => LocalPostgres::start_temporary().unwrap(),
        _ => LocalPostgres::start_persistent(Path::new(&std::env::var(CHILD_DATA_DIR).unwrap()))
            .unwrap(),
    };
    println!("{READY}{}", cluster.data_dir().display());
    loop {
        std::thread::park();
    }
}

/// Starts the child in `mode` and returns it with the data directory it reported.
fn spawn_owner(mode: &str, data_dir: Option<&Path>) -> (Child, PathBuf) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "owner_death::child_holds_a_cluster",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_MODE, mode)
        .stdout(Stdio::piped());
    if let Some(dir) = data_dir {
        command.env(CHILD_DATA_DIR, dir);
    }
    let mut child = command.spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let reported = stdout
        .lines()
        .map(Result::unwrap)
        .find_map(|line| line.strip_prefix(READY).map(PathBuf::from))
        .expect("the child exited without starting its cluster");
    (child, reported)
}

#[test]
fn sigkill_of_the_owner_stops_a_temporary_cluster_and_removes_it() {
    let (mut child, data_dir) = spawn_owner("temporary", None);
    let pid = postmaster_pid(&data_dir).expect("the child's server records its pid");
    assert!(process_alive(pid));

    child.kill().unwrap(); // SIGKILL: no destructor, no atexit, nothing runs in the child
    child.wait().unwrap();
    wait_until("the orphaned server to stop", || !process_alive(pid));
    wait_until("the temporary data directory to vanish", || {
        !data_dir.exists()
    });
}

#[test]
fn sigkill_of_the_owner_stops_a_persistent_cluster_and_keeps_its_data() {
    let parent = traversable_tempdir();
    let requested = parent.path().join("pgdata");
    let (mut child, data_dir) = spawn_owner("persistent", Some(&requested));
    let pid = postmaster_pid(&data_dir).expect("the child's server records its pid");

    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("the orphaned server to stop", || !process_alive(pid));
    assert_eq!(
        postmaster_pid(&data_dir),
        None,
        "a fast shutdown removes postmaster.pid"
    );
    assert!(
        data_dir.join("PG_VERSION").exists(),
        "the persistent data was removed"
    );
}
