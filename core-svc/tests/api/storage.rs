//! The schema behind the API: migrations applied once by racing instances,
//! room heads, the constraints the database itself enforces, quiet restarts.

use core_svc::{domain::RoomId, store::Store};
use pg_local::TestDatabase;

use crate::core_process::CoreProcess;

#[tokio::test]
async fn instances_starting_at_once_migrate_the_schema_once() {
    let db = TestDatabase::create().unwrap();
    let stores: Vec<Store> = (0..4)
        .map(|_| Store::connect(&db.connection_string(), 2).unwrap())
        .collect();
    let runs = futures::future::join_all(stores.iter().map(Store::migrate)).await;
    let applied: usize = runs.into_iter().map(Result::unwrap).sum();
    let files = migration_files();
    assert!(files >= 3, "the migrations directory was not found");
    assert_eq!(
        applied, files,
        "exactly one instance applied each migration"
    );
    let client = sql(&db).await;
    let versions: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(versions, files as i64);
    // Starting again later changes nothing.
    assert_eq!(stores[0].migrate().await.unwrap(), 0);
}

#[tokio::test]
async fn room_heads_pair_each_known_room_with_its_last_seq() {
    let db = TestDatabase::create().unwrap();
    let store = Store::connect(&db.connection_string(), 1).unwrap();
    store.migrate().await.unwrap();
    let client = sql(&db).await;
    client
        .batch_execute(
            "INSERT INTO users (sub) VALUES ('a'), ('b'), ('c');
             INSERT INTO rooms (user_lo, user_hi, last_seq) VALUES (1, 2, 7), (1, 3, 0);",
        )
        .await
        .unwrap();
    let room = |id| RoomId::parse(id).unwrap();
    let mut heads = store
        .room_heads(&[room(2), room(99), room(1)])
        .await
        .unwrap();
    heads.sort();
    assert_eq!(heads, [(room(1), 7), (room(2), 0)]);
    assert_eq!(store.room_heads(&[room(99)]).await.unwrap(), []);
}

/// A plain connection to `db`, beside the store.
async fn sql(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(&db.connection_string(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    client
}

/// The SQL files of `migrations/`: every one must be applied.
fn migration_files() -> usize {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|entry| {
            let path = entry.as_ref().unwrap().path();
            path.extension().is_some_and(|ext| ext == "sql")
        })
        .count()
}

#[tokio::test]
async fn the_schema_refuses_a_second_room_for_a_pair_and_text_on_deleted_messages() {
    let db = TestDatabase::create().unwrap();
    Store::connect(&db.connection_string(), 1)
        .unwrap()
        .migrate()
        .await
        .unwrap();
    let client = sql(&db).await;
    client
        .batch_execute(
            "INSERT INTO users (sub) VALUES ('a'), ('b');
             INSERT INTO rooms (user_lo, user_hi) VALUES (1, 2);",
        )
        .await
        .unwrap();
    let duplicate = client
        .execute("INSERT INTO rooms (user_lo, user_hi) VALUES (1, 2)", &[])
        .await
        .unwrap_err();
    assert_eq!(
        duplicate.as_db_error().unwrap().constraint(),
        Some("rooms_direct_pair_key")
    );
    let unordered = client
        .execute("INSERT INTO rooms (user_lo, user_hi) VALUES (2, 1)", &[])
        .await
        .unwrap_err();
    assert_eq!(
        unordered.as_db_error().unwrap().constraint(),
        Some("rooms_direct_pair_ordered")
    );
    let deleted_with_text = client
        .execute(
            "INSERT INTO messages (room_id, sender_id, seq, text, status, deleted_at)
             VALUES (1, 1, 1, 'kept', 'delivered', now())",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(
        deleted_with_text.as_db_error().unwrap().constraint(),
        Some("messages_text_unless_deleted")
    );
}

#[tokio::test]
async fn a_restart_on_a_migrated_database_logs_no_database_notice() {
    let db = TestDatabase::create().unwrap();
    let secret = "a-test-secret-that-is-at-least-32-bytes";
    let mut first = CoreProcess::spawn(&db.connection_string(), secret).await;
    first.kill().await;
    let log = tempfile::NamedTempFile::new().unwrap();
    let file = log.reopen().unwrap();
    let mut second = CoreProcess::spawn_logging(&db.connection_string(), secret, &[], file).await;
    second.kill().await;
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(text.contains("INFO"), "the log was captured: {text}");
    assert!(
        !text.contains("already exists") && !text.contains("NOTICE"),
        "a restart logged a database notice: {text}"
    );
}
