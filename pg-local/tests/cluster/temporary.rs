//! Throwaway clusters: they serve databases and leave nothing behind.

use pg_local::{Error, LocalPostgres};

use crate::helpers::{connect, database_exists, postmaster_pid, process_alive, select_one};

#[tokio::test]
async fn a_temporary_cluster_serves_a_database_it_created() {
    let cluster = LocalPostgres::start_temporary().unwrap();
    cluster.ensure_database("app").unwrap();
    assert!(cluster.owns_server());
    assert_eq!(select_one(&cluster.connection_string("app")).await, 1);
}

#[tokio::test]
async fn ensuring_a_database_twice_is_harmless() {
    let cluster = LocalPostgres::start_temporary().unwrap();
    cluster.ensure_database("twice").unwrap();
    cluster.ensure_database("twice").unwrap();
    assert!(database_exists(&cluster, "twice").await);
}

#[tokio::test]
async fn dropping_a_database_disconnects_its_open_sessions() {
    let cluster = LocalPostgres::start_temporary().unwrap();
    cluster.ensure_database("busy").unwrap();
    let session = connect(&cluster.connection_string("busy")).await;
    cluster.drop_database("busy").unwrap();
    assert!(!database_exists(&cluster, "busy").await);
    assert!(session.query_one("SELECT 1", &[]).await.is_err());
    cluster.drop_database("busy").unwrap();
}

#[test]
fn a_temporary_cluster_is_removed_when_dropped() {
    let cluster = LocalPostgres::start_temporary().unwrap();
    let data_dir = cluster.data_dir().to_path_buf();
    let pid = postmaster_pid(&data_dir).expect("a running server records its pid");
    assert!(
        cluster
            .socket_dir()
            .join(format!(".s.PGSQL.{}", cluster.port()))
            .exists()
    );
    drop(cluster);
    assert!(
        !data_dir.exists(),
        "{} survived the drop",
        data_dir.display()
    );
    assert!(!process_alive(pid), "postgres {pid} survived the drop");
}

#[test]
fn an_empty_database_name_is_rejected_before_reaching_the_server() {
    let cluster = LocalPostgres::start_temporary().unwrap();
    let error = cluster.ensure_database("").unwrap_err();
    assert!(
        matches!(error, Error::InvalidDatabaseName { .. }),
        "{error}"
    );
}
