//! Per-test databases on the shared throwaway cluster.

use pg_local::{TestDatabase, shared_temporary};

use crate::helpers::{connect, database_exists};

#[tokio::test]
async fn two_test_databases_are_distinct_and_dropped_afterwards() {
    let first = TestDatabase::create().unwrap();
    let second = TestDatabase::create().unwrap();
    assert_ne!(first.name(), second.name());

    let client = connect(&first.connection_string()).await;
    client
        .batch_execute("CREATE TABLE only_in_first (id int)")
        .await
        .unwrap();
    let other = connect(&second.connection_string()).await;
    let visible = other.query("SELECT 1 FROM only_in_first", &[]).await;
    assert!(
        visible.is_err(),
        "a table of the first database is visible in the second"
    );

    let names = [first.name().to_string(), second.name().to_string()];
    drop((first, second));
    let cluster = shared_temporary().unwrap();
    for name in &names {
        assert!(
            !database_exists(cluster, name).await,
            "{name} outlived its TestDatabase"
        );
    }
}

#[test]
fn the_shared_cluster_is_started_once_per_process() {
    let first = shared_temporary().unwrap();
    let second = shared_temporary().unwrap();
    assert!(std::ptr::eq(first, second));
    assert!(
        TestDatabase::create()
            .unwrap()
            .cluster()
            .data_dir()
            .exists()
    );
}
