//! Property tests on a real core: random operations by random users over
//! random rooms against a simple model of who may do what, and the room
//! sequence under random concurrent schedules. Few cases, each on a fresh
//! database, so they stay fast.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tonic::Code;

use crate::helpers::{Client, TestCore, message_id, within};

/// A random operation: who (0..3) does what to which room or message slot.
#[derive(Debug, Clone)]
enum Op {
    Send { who: usize, room: usize },
    Edit { who: usize, slot: usize },
    Delete { who: usize, slot: usize },
    List { who: usize, room: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 0..3usize).prop_map(|(who, room)| Op::Send { who, room }),
        (0..3usize, 0..8usize).prop_map(|(who, slot)| Op::Edit { who, slot }),
        (0..3usize, 0..8usize).prop_map(|(who, slot)| Op::Delete { who, slot }),
        (0..3usize, 0..3usize).prop_map(|(who, room)| Op::List { who, room }),
    ]
}

/// Users 0, 1, 2; room 0 is {0, 1}, room 1 is {1, 2}, room 2 does not exist.
const MEMBERS: [[bool; 3]; 2] = [[true, true, false], [false, true, true]];

/// A stored message as the model sees it.
struct Stored {
    id: i64,
    room: usize,
    sender: usize,
    deleted: bool,
}

fn expected_for_room(who: usize, room: usize) -> Code {
    match MEMBERS.get(room) {
        None => Code::NotFound,
        Some(members) if members[who] => Code::Ok,
        Some(_) => Code::PermissionDenied,
    }
}

fn expected_for_message(who: usize, message: Option<&Stored>) -> Code {
    match message {
        None => Code::NotFound,
        Some(m) if !MEMBERS[m.room][who] || m.deleted => Code::NotFound,
        Some(m) if m.sender != who => Code::PermissionDenied,
        Some(_) => Code::Ok,
    }
}

fn code<T>(result: &Result<T, tonic::Status>) -> Code {
    result
        .as_ref()
        .map_or_else(tonic::Status::code, |_| Code::Ok)
}

async fn run_ops(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let core = TestCore::start().await;
    let users = [
        core.user("u0").await,
        core.user("u1").await,
        core.user("u2").await,
    ];
    let rooms = [
        users[0].room_with(users[1].id).await.unwrap(),
        users[1].room_with(users[2].id).await.unwrap(),
        10_000,
    ];
    let mut stored: Vec<Stored> = Vec::new();
    for op in ops {
        match op {
            Op::Send { who, room } => {
                let result = users[who].send(rooms[room], "p").await;
                prop_assert_eq!(code(&result), expected_for_room(who, room), "{:?}", op);
                if let Ok(sent) = result {
                    let id = sent.message.unwrap().message_id;
                    stored.push(Stored {
                        id,
                        room,
                        sender: who,
                        deleted: false,
                    });
                }
            }
            Op::Edit { who, slot } | Op::Delete { who, slot } => {
                let target = stored.get(slot);
                let expected = expected_for_message(who, target);
                let id = target.map_or(99_999, |m| m.id);
                let result = match op {
                    Op::Edit { .. } => users[who].edit(id, "q").await.map(|_| ()),
                    _ => users[who].delete(id).await,
                };
                prop_assert_eq!(code(&result), expected, "{:?}", op);
                if let (Ok(()), Op::Delete { .. }) = (&result, &op) {
                    stored[slot].deleted = true;
                }
            }
            Op::List { who, room } => {
                let result = users[who].list(rooms[room], 0, 100).await;
                prop_assert_eq!(code(&result), expected_for_room(who, room), "{:?}", op);
                if let Ok(listed) = result {
                    let live = stored
                        .iter()
                        .filter(|m| m.room == room && !m.deleted)
                        .count();
                    prop_assert_eq!(listed.len(), live);
                }
            }
        }
    }
    Ok(())
}

#[test]
fn random_operations_match_the_authorization_model() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 6,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(op(), 1..25);
    runner
        .run(&strategy, |ops| runtime.block_on(run_ops(ops)))
        .unwrap();
}

/// Each sender's messages, each with a pause before it (milliseconds).
fn schedule() -> impl Strategy<Value = [Vec<u8>; 2]> {
    let one = proptest::collection::vec(0..4u8, 1..8);
    [one.clone(), one]
}

async fn send_all(client: Client, room: i64, pauses: Vec<u8>) {
    for (i, pause) in pauses.into_iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(u64::from(pause))).await;
        client.send(room, &format!("m{i}")).await.unwrap();
    }
}

async fn run_schedule(pauses: [Vec<u8>; 2]) -> Result<(), TestCaseError> {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let carol_view = core.same_user(&alice);
    let mut subscribers = Vec::new();
    for client in [&alice, &bob, &carol_view] {
        let mut subscription = client.subscribe(room).await.unwrap();
        let start = subscription.snapshot().await.seq;
        subscribers.push((subscription, start));
    }
    let [a, b] = pauses;
    tokio::join!(
        send_all(alice.clone(), room, a),
        send_all(bob.clone(), room, b)
    );
    let last = crate::helpers::last_seq(&core, room).await;
    let mut views: Vec<Vec<(i64, i64)>> = Vec::new();
    for (subscription, start) in &mut subscribers {
        let count = usize::try_from(last - *start).unwrap();
        let events = within(subscription.events(count)).await;
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        let expected: Vec<i64> = (*start + 1..=last).collect();
        prop_assert_eq!(&seqs, &expected, "gapless and in order");
        views.push(events.iter().map(|e| (e.seq, message_id(e))).collect());
    }
    // Every subscriber saw the same event at each seq.
    let mut by_seq: BTreeMap<i64, i64> = BTreeMap::new();
    for view in &views {
        for &(seq, message) in view {
            prop_assert_eq!(*by_seq.entry(seq).or_insert(message), message);
        }
    }
    Ok(())
}

#[test]
fn room_sequences_are_gapless_and_identical_under_random_schedules() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 5,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&schedule(), |pauses| runtime.block_on(run_schedule(pauses)))
        .unwrap();
}
