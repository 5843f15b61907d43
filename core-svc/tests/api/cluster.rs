//! Several core instances on one PostgreSQL.

use std::{os::unix::fs::PermissionsExt, time::Duration};

use chat_proto::v1 as pb;
use pg_local::LocalPostgres;
use tokio::time::Instant;
use tonic::Code;

use crate::{
    core_process::CoreProcess,
    helpers::{PATIENCE, SECRET, Subscription, TestCore, kind, last_seq, within},
};

/// Drains `count` events and checks they continue `after` without a gap.
async fn gapless(stream: &mut Subscription, after: i64, count: usize) -> Vec<pb::RoomEvent> {
    let events = within(stream.events(count)).await;
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    let expected: Vec<i64> = (after + 1..=after + count as i64).collect();
    assert_eq!(seqs, expected);
    events
}

#[tokio::test]
async fn concurrent_sends_through_two_instances_reach_every_subscriber_in_one_order() {
    let a = TestCore::start().await;
    // No polling: delivery across instances must come from the notifications.
    let b = a.join(|config| config.poll_interval_ms = 3_600_000).await;
    let (alice, bob_on_a, room) = a.pair().await;
    let bob = b.same_user(&bob_on_a);
    let mut on_a = alice.subscribe(room).await.unwrap();
    let mut on_b = bob.subscribe(room).await.unwrap();
    on_a.snapshot().await;
    on_b.snapshot().await;

    let senders = [alice.clone(), bob.clone()].map(|client| {
        tokio::spawn(async move {
            for i in 0..50 {
                client
                    .send(room, &format!("{} #{i}", client.id))
                    .await
                    .unwrap();
            }
        })
    });
    let total = 100 * 3;
    let (seen_on_a, seen_on_b) =
        tokio::join!(gapless(&mut on_a, 0, total), gapless(&mut on_b, 0, total));
    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(seen_on_a, seen_on_b, "one order on both instances");
    for receipt in seen_on_a.chunks(3) {
        let kinds: Vec<&str> = receipt.iter().map(kind).collect();
        assert_eq!(
            kinds,
            ["created", "delivered", "read"],
            "the recipient is subscribed elsewhere"
        );
    }
}

#[tokio::test]
async fn a_terminated_listen_connection_reconnects_and_misses_nothing() {
    let a = TestCore::start().await;
    let b = a.join(|config| config.poll_interval_ms = 3_600_000).await;
    let (alice, bob_on_a, room) = a.pair().await;
    let bob = b.same_user(&bob_on_a);
    let mut on_b = bob.subscribe(room).await.unwrap();
    on_b.snapshot().await;
    alice.send(room, "before").await.unwrap();
    gapless(&mut on_b, 0, 3).await;

    let sql = a.sql().await;
    let killed: i64 = sql
        .query_one(
            "SELECT count(*) FROM (
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE application_name = 'chat-listener' AND datname = current_database()
             ) t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 2, "both instances' listeners were terminated");
    for i in 0..10 {
        alice
            .send(room, &format!("while reconnecting {i}"))
            .await
            .unwrap();
    }
    let events = gapless(&mut on_b, 3, 30).await;
    assert_eq!(events.iter().filter(|e| kind(e) == "created").count(), 10);
    on_b.assert_quiet().await;
}

#[tokio::test]
async fn events_committed_elsewhere_without_a_notification_arrive_by_the_poll() {
    let core = TestCore::start().await;
    let polling = core.join(|config| config.poll_interval_ms = 100).await;
    let (alice, bob_on_core, room) = core.pair().await;
    let bob = polling.same_user(&bob_on_core);
    let mut stream = bob.subscribe(room).await.unwrap();
    let mut after = stream.snapshot().await.seq;
    let sql = core.sql().await;
    // Like an instance that died between commit and NOTIFY: commits that
    // nobody announces. The second comes after the poll has seen the first.
    for _ in 0..2 {
        sql.execute(
            "SELECT chat_send_message($1, $2, 'unannounced', NULL)",
            &[&room, &alice.id],
        )
        .await
        .unwrap();
        let head = last_seq(&core, room).await;
        let events = gapless(&mut stream, after, (head - after) as usize).await;
        assert_eq!(kind(&events[0]), "created");
        after = head;
    }
    stream.assert_quiet().await;
}

#[tokio::test]
async fn users_of_a_killed_instance_go_offline_within_thirty_seconds() {
    let first = TestCore::start().await;
    // The surviving instance reaps; it needs the short time-to-live too.
    let a = first.join_ttl().await;
    let (alice, bob_on_a, room) = a.pair().await;
    let mut doomed = CoreProcess::spawn(&a.url, SECRET).await;
    let doomed_core = TestCore::remote(&doomed.addr).await;
    let bob = doomed_core.same_user(&bob_on_a);
    let mut stream = bob.subscribe(room).await.unwrap();
    stream.snapshot().await;
    assert!(bob_on_a.who_am_i().await.unwrap().is_online);

    doomed.kill().await;
    let killed_at = Instant::now();
    within(async {
        while bob_on_a.who_am_i().await.unwrap().is_online {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(killed_at.elapsed() < Duration::from_secs(30));
    let me = bob_on_a.who_am_i().await.unwrap();
    assert!(me.last_seen.is_some());
    // The room no longer counts bob as looking: a send stays unread.
    let sent = alice.send(room, "are you there?").await.unwrap();
    assert_eq!(sent.message.unwrap().status(), pb::MessageStatus::Delivered);
}

#[tokio::test]
async fn a_killed_instance_leaves_last_seen_alone_while_the_user_is_online_elsewhere() {
    let first = TestCore::start().await;
    let a = first.join_ttl().await;
    let (_alice, bob_on_a, room) = a.pair().await;
    let mut doomed = CoreProcess::spawn(&a.url, SECRET).await;
    let doomed_core = TestCore::remote(&doomed.addr).await;
    let bob = doomed_core.same_user(&bob_on_a);
    let mut stays = bob_on_a.subscribe(room).await.unwrap();
    stays.snapshot().await;
    let mut dies = bob.subscribe(room).await.unwrap();
    dies.snapshot().await;

    doomed.kill().await;
    let sql = a.sql().await;
    within(async {
        loop {
            let row = sql
                .query_one(
                    "SELECT count(*) FROM room_sessions WHERE user_id = $1",
                    &[&bob_on_a.id],
                )
                .await
                .unwrap();
            if row.get::<_, i64>(0) == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let me = bob_on_a.who_am_i().await.unwrap();
    assert!(me.is_online);
    assert_eq!(me.last_seen, None, "still online on the other instance");
}

/// The last two streams of a user end at once on two instances: whichever
/// ends second sees the other gone, and the user goes offline with
/// `last_seen` set.
#[tokio::test]
async fn the_last_streams_ending_at_once_on_two_instances_set_last_seen() {
    let a = TestCore::start().await;
    let b = a.join(|_| {}).await;
    let (alice, _bob, room) = a.pair().await;
    let alice_on_b = b.same_user(&alice);
    for _ in 0..5 {
        let mut on_a = alice.subscribe(room).await.unwrap();
        on_a.snapshot().await;
        let mut on_b = alice_on_b.subscribe(room).await.unwrap();
        on_b.snapshot().await;
        let before = alice.who_am_i().await.unwrap().last_seen;
        drop((on_a, on_b));
        let me = alice.until_offline().await;
        assert!(me.last_seen.is_some());
        assert_ne!(me.last_seen, before, "going offline sets last_seen");
    }
}

#[tokio::test]
async fn the_core_survives_a_database_restart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("pg");
    let pg = LocalPostgres::start_persistent(&data).unwrap();
    pg.ensure_database("chat").unwrap();
    let core = TestCore::on_database(pg.connection_string("chat"), |_| {}).await;
    let (alice, bob, room) = core.pair().await;
    let mut stream = bob.subscribe(room).await.unwrap();
    stream.snapshot().await;
    alice.send(room, "before").await.unwrap();
    stream.events(3).await;

    drop(pg);
    for _ in 0..3 {
        let status = alice.send(room, "while down").await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    let pg = LocalPostgres::start_persistent(&data).unwrap();
    let deadline = Instant::now() + PATIENCE;
    let sent = loop {
        match alice.send(room, "after").await {
            Ok(sent) => break sent,
            Err(status) if Instant::now() < deadline => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => panic!("the core did not recover: {status:?}"),
        }
    };
    // The stream stayed open across the outage and carries on in order.
    let events = stream.events(3).await;
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5, 6]);
    assert_eq!(
        crate::helpers::message_id(&events[0]),
        sent.message.unwrap().message_id
    );
    drop(core);
    drop(pg);
}

impl TestCore {
    /// Another instance on this database with a short instance TTL.
    async fn join_ttl(&self) -> TestCore {
        self.join(|config| config.instance_ttl_secs = 2).await
    }
}
