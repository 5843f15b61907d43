//! Persistent clusters: data survives restarts, a second start attaches, failures explain.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use pg_local::{Error, LocalPostgres};

use crate::helpers::{connect, postmaster_pid, select_one, traversable_tempdir};

#[tokio::test]
async fn a_persistent_cluster_keeps_its_data_across_restarts() {
    let parent = traversable_tempdir();
    let data_dir = parent.path().join("nested").join("pgdata");

    let cluster = LocalPostgres::start_persistent(&data_dir).unwrap();
    cluster.ensure_database("chat").unwrap();
    let client = connect(&cluster.connection_string("chat")).await;
    client
        .batch_execute("CREATE TABLE kept (word text); INSERT INTO kept VALUES ('hello')")
        .await
        .unwrap();
    drop(client);
    drop(cluster);
    assert_eq!(
        postmaster_pid(&data_dir),
        None,
        "the server outlived its owner"
    );

    let cluster = LocalPostgres::start_persistent(&data_dir).unwrap();
    assert!(cluster.owns_server());
    let client = connect(&cluster.connection_string("chat")).await;
    let word: String = client
        .query_one("SELECT word FROM kept", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(word, "hello");
}

#[tokio::test]
async fn a_second_start_on_a_running_directory_attaches_and_leaves_it_running() {
    let parent = traversable_tempdir();
    let data_dir = parent.path().join("pgdata");
    let owner = LocalPostgres::start_persistent(&data_dir).unwrap();
    let attached = LocalPostgres::start_persistent(&data_dir).unwrap();
    assert!(owner.owns_server());
    assert!(!attached.owns_server());
    assert_eq!(
        attached.connection_string("x"),
        owner.connection_string("x")
    );

    drop(attached);
    assert_eq!(select_one(&owner.connection_string("postgres")).await, 1);
    drop(owner);
    assert_eq!(postmaster_pid(&data_dir), None);
}

#[test]
fn simultaneous_starts_share_one_server() {
    let parent = traversable_tempdir();
    let data_dir = parent.path().join("pgdata");
    let clusters: Vec<LocalPostgres> = std::thread::scope(|scope| {
        let starts: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| LocalPostgres::start_persistent(&data_dir).unwrap()))
            .collect();
        starts
            .into_iter()
            .map(|start| start.join().unwrap())
            .collect()
    });
    let owners = clusters
        .iter()
        .filter(|cluster| cluster.owns_server())
        .count();
    assert_eq!(owners, 1);
    for cluster in &clusters {
        cluster.ensure_database("both").unwrap();
    }
}

#[test]
fn a_data_directory_from_another_version_fails_with_the_server_log() {
    let parent = traversable_tempdir();
    let data_dir = parent.path().join("pgdata");
    fs::create_dir(&data_dir).unwrap();
    fs::write(data_dir.join("PG_VERSION"), "99\n").unwrap();
    fs::write(data_dir.join("postgresql.conf"), "").unwrap();
    let error = LocalPostgres::start_persistent(&data_dir).unwrap_err();
    assert!(matches!(error, Error::ServerExited { .. }), "{error}");
    assert!(error.to_string().contains("incompatible"), "{error}");
}

#[test]
fn an_existing_cluster_behind_a_parent_the_server_user_cannot_enter_is_named_in_the_error() {
    if !nix::unistd::geteuid().is_root() {
        return; // Without root the server runs as the caller, who can enter its own directory.
    }
    let private = tempfile::tempdir().unwrap();
    fs::set_permissions(private.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let data_dir = private.path().join("pgdata");
    fs::create_dir(&data_dir).unwrap();
    fs::write(data_dir.join("PG_VERSION"), "15\n").unwrap();
    let error = LocalPostgres::start_persistent(&data_dir).unwrap_err();
    match error {
        Error::NotTraversable { path, .. } => assert_eq!(path, private.path()),
        other => panic!("expected NotTraversable, got {other}"),
    }
}

#[tokio::test]
async fn a_new_cluster_behind_a_parent_the_server_user_cannot_enter_moves_where_it_can() {
    if !nix::unistd::geteuid().is_root() {
        return; // Without root the server runs as the caller, who can enter its own directory.
    }
    // Like a checkout under /root (mode 0700) started by root.
    let private = tempfile::tempdir().unwrap();
    fs::set_permissions(private.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let requested = private.path().join(".data").join("postgres");

    let cluster = LocalPostgres::start_persistent(&requested).unwrap();
    let relocated = cluster.data_dir().to_path_buf();
    assert!(
        relocated.starts_with(pg_local::RELOCATED_BASE),
        "{}",
        relocated.display()
    );
    assert_eq!(fs::read_link(&requested).unwrap(), relocated);
    cluster.ensure_database("chat").unwrap();
    let client = connect(&cluster.connection_string("chat")).await;
    client
        .batch_execute("CREATE TABLE kept (n int)")
        .await
        .unwrap();
    drop(client);
    drop(cluster);

    let again = LocalPostgres::start_persistent(&requested).unwrap();
    assert_eq!(
        again.data_dir(),
        relocated,
        "a later start finds the same cluster"
    );
    let client = connect(&again.connection_string("chat")).await;
    client
        .query_one("SELECT count(*) FROM kept", &[])
        .await
        .unwrap();
    drop(client);
    drop(again);
    fs::remove_dir_all(&relocated).unwrap();
}

#[tokio::test]
async fn a_data_directory_too_deep_for_a_socket_path_gets_a_short_socket_directory() {
    let parent = traversable_tempdir();
    let data_dir = parent.path().join("d".repeat(90)).join("pgdata");
    let owner = LocalPostgres::start_persistent(&data_dir).unwrap();
    let socket_dir = owner.socket_dir().to_path_buf();
    assert!(
        !socket_dir.starts_with(parent.path()),
        "{}",
        socket_dir.display()
    );
    assert_eq!(select_one(&owner.connection_string("postgres")).await, 1);

    let attached = LocalPostgres::start_persistent(&data_dir).unwrap();
    assert_eq!(attached.socket_dir(), socket_dir);
    drop(attached);
    drop(owner);
    assert!(
        !socket_dir.exists(),
        "the short socket directory outlived the server"
    );
}
