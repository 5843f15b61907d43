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

#[tokio::test]
async fn the_send_function_answers_with_exactly_the_events_it_appended() {
    let db = TestDatabase::create().unwrap();
    let store = Store::connect(&db.connection_string(), 1).unwrap();
    store.migrate().await.unwrap();
    let client = sql(&db).await;
    client
        .batch_execute(
            "INSERT INTO users (sub) VALUES ('a'), ('b'), ('c');
             INSERT INTO rooms (user_lo, user_hi) VALUES (1, 2);",
        )
        .await
        .unwrap();
    let send = "SELECT outcome, seq, kind, id, status FROM chat_send_message($1, $2, 'hi', $3)";
    let answer = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
        rows.iter()
            .map(|row| {
                let outcome: &str = row.get("outcome");
                let seq: Option<i64> = row.get("seq");
                let kind: Option<&str> = row.get("kind");
                let id: Option<i64> = row.get("id");
                let status: Option<&str> = row.get("status");
                format!("{outcome} {seq:?} {kind:?} {id:?} {status:?}")
            })
            .collect()
    };
    let sent = client.query(send, &[&1_i64, &1_i64, &"k"]).await.unwrap();
    assert_eq!(
        answer(sent),
        [
            r#"sent Some(1) Some("message_created") Some(1) Some("delivered")"#,
            r#"sent Some(2) Some("message_delivered") Some(1) Some("delivered")"#,
        ]
    );
    let log: Vec<(i64, String)> = client
        .query("SELECT seq, kind FROM room_events ORDER BY seq", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get("seq"), row.get("kind")))
        .collect();
    assert_eq!(
        log,
        [
            (1, "message_created".into()),
            (2, "message_delivered".into())
        ]
    );
    let again = client.query(send, &[&1_i64, &1_i64, &"k"]).await.unwrap();
    assert_eq!(
        answer(again),
        [r#"duplicate Some(1) None Some(1) Some("delivered")"#]
    );
    let outsider = client.query(send, &[&1_i64, &3_i64, &"k"]).await.unwrap();
    assert_eq!(answer(outsider), ["not_member None None None None"]);
    let nowhere = client.query(send, &[&9_i64, &1_i64, &"k"]).await.unwrap();
    assert_eq!(answer(nowhere), ["no_room None None None None"]);
}

#[tokio::test]
async fn room_members_are_the_pair_of_each_room() {
    let db = TestDatabase::create().unwrap();
    let store = Store::connect(&db.connection_string(), 1).unwrap();
    store.migrate().await.unwrap();
    let client = sql(&db).await;
    client
        .batch_execute(
            "INSERT INTO users (sub) VALUES ('a'), ('b'), ('c');
             INSERT INTO rooms (user_lo, user_hi) VALUES (1, 2), (2, 3);",
        )
        .await
        .unwrap();
    let members: Vec<(i64, i64)> = client
        .query(
            "SELECT room_id, user_id FROM room_members ORDER BY room_id, user_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get("room_id"), row.get("user_id")))
        .collect();
    assert_eq!(members, [(1, 1), (1, 2), (2, 2), (2, 3)]);
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
