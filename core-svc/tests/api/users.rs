//! Users and presence: created by their first call, email kept current, online
//! while a stream is open, `last_seen` set when the last one ends.

use std::time::Duration;

use core_svc::auth::dev_token;

use crate::helpers::{Client, SECRET, Subscription, TestCore, within};

#[tokio::test]
async fn the_first_call_of_a_new_sub_creates_the_user_with_the_next_id() {
    let core = TestCore::start().await;
    let alice = core.user("alice").await;
    let bob = core.user("bob").await;
    assert_eq!(bob.id, alice.id + 1);
    let me = alice.who_am_i().await.unwrap();
    assert_eq!(me.email, "alice@example.com");
    assert!(!me.is_online);
    assert_eq!(me.last_seen, None);
    // The same sub is the same user.
    assert_eq!(core.user("alice").await.id, alice.id);
}

#[tokio::test]
async fn a_changed_email_claim_is_stored() {
    let core = TestCore::start().await;
    let alice = core.user("alice").await;
    let token = dev_token(SECRET, "alice", "new@example.com", Duration::from_secs(60));
    let renamed = core.anonymous(Some(format!("Bearer {token}")));
    let me = renamed.who_am_i().await.unwrap();
    assert_eq!(me.id, alice.id);
    assert_eq!(me.email, "new@example.com");
}

#[tokio::test]
async fn a_user_is_online_while_a_stream_is_open_and_offline_after() {
    let core = TestCore::start().await;
    let (alice, _bob, room) = core.pair().await;
    let (first, second) = two_streams(&alice, room).await;
    assert!(alice.who_am_i().await.unwrap().is_online);

    drop(first);
    // Still online: one stream remains.
    assert!(alice.who_am_i().await.unwrap().is_online);
    drop(second);
    let me = alice.until_offline().await;
    assert!(
        me.last_seen.is_some(),
        "last_seen is set when going offline"
    );
}

/// `user`'s open sessions, as the database counts them.
async fn sessions_of(core: &TestCore, user: &Client) -> i64 {
    core.sql()
        .await
        .query_one(
            "SELECT count(*) FROM room_sessions WHERE user_id = $1",
            &[&user.id],
        )
        .await
        .unwrap()
        .get(0)
}

/// Waits until the database counts `count` open sessions of `user`.
async fn until_sessions(core: &TestCore, user: &Client, count: i64) {
    within(async {
        while sessions_of(core, user).await != count {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// Two open streams of `user` on `room`, each past its snapshot.
async fn two_streams(user: &Client, room: i64) -> (Subscription, Subscription) {
    let mut first = user.subscribe(room).await.unwrap();
    first.snapshot().await;
    let mut second = user.subscribe(room).await.unwrap();
    second.snapshot().await;
    (first, second)
}

#[tokio::test]
async fn last_seen_changes_only_when_the_last_of_two_streams_ends() {
    let core = TestCore::start().await;
    let (alice, _bob, room) = core.pair().await;
    let (first, second) = two_streams(&alice, room).await;

    drop(first);
    until_sessions(&core, &alice, 1).await;
    let me = alice.who_am_i().await.unwrap();
    assert!(me.is_online);
    assert_eq!(me.last_seen, None, "never offline yet");

    drop(second);
    until_sessions(&core, &alice, 0).await;
    let went_offline = alice.who_am_i().await.unwrap().last_seen;
    assert!(went_offline.is_some());

    let (first, second) = two_streams(&alice, room).await;
    drop(second);
    until_sessions(&core, &alice, 1).await;
    let me = alice.who_am_i().await.unwrap();
    assert!(me.is_online);
    assert_eq!(me.last_seen, went_offline, "still online: unchanged");

    drop(first);
    until_sessions(&core, &alice, 0).await;
    let me = alice.who_am_i().await.unwrap();
    assert!(!me.is_online);
    assert_ne!(me.last_seen, went_offline, "offline again: now");
}

/// Everyone whose stream ends at once (an edge restarting drops all of its
/// sockets) goes offline, even on a pool of one connection that is stuck
/// for longer than a request may wait for it, and long before a heartbeat
/// would clear the sessions. One session per connection, each waiting for
/// the pool, would time out and leave its user online.
#[tokio::test]
async fn users_whose_streams_all_end_at_once_go_offline_together() {
    let core = TestCore::start_tuned(|config| {
        config.db_pool_size = 1;
        config.instance_ttl_secs = 600;
    })
    .await;
    let mut members = Vec::new();
    let mut streams = Vec::new();
    for _ in 0..40 {
        let (alice, bob, room) = core.pair().await;
        for member in [alice, bob] {
            let mut stream = member.subscribe(room).await.unwrap();
            stream.snapshot().await;
            members.push(member);
            streams.push(stream);
        }
    }
    assert!(members[0].who_am_i().await.unwrap().is_online);
    // Session rows cannot be deleted until this transaction ends: the
    // first end holds the only pooled connection meanwhile.
    let blocker = core.sql().await;
    blocker
        .batch_execute("BEGIN; LOCK TABLE room_sessions IN EXCLUSIVE MODE")
        .await
        .unwrap();
    drop(streams);
    tokio::time::sleep(POOL_WAIT + Duration::from_secs(1)).await;
    blocker.batch_execute("COMMIT").await.unwrap();
    for member in &members {
        within(async {
            while member.who_am_i().await.unwrap().is_online {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }
}

/// How long a request waits for a pooled connection (the core's `POOL_WAIT`).
const POOL_WAIT: Duration = Duration::from_secs(5);
