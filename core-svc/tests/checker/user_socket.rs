//! The user socket under faults: a user in two rooms holds a user socket,
//! both members of each room chat through room sockets on different edges
//! (so on different cores), and a peer holds a user socket too. Every user
//! socket's view of every room is checked with the room sockets' views
//! against every acknowledged message: nothing lost, duplicated or
//! reordered, also across a core killed mid-traffic and across resumes
//! with the last cursor.

use std::collections::{BTreeMap, HashMap};

use tokio::{sync::watch, task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;

use crate::{
    check::{Verdict, check},
    client::Report,
    scenarios::{PATIENCE, STALL, Traffic, assert_clean, closes, plan},
    system::{Edges, Member, System, User},
    user_client::{UserClient, UserReport},
};

/// Rooms of the hub user, one per peer.
const PEERS: usize = 2;

/// A running user-socket client.
struct Watched {
    status: watch::Receiver<Option<BTreeMap<i64, i64>>>,
    task: JoinHandle<UserReport>,
}

fn start(
    system: &System,
    user: &User,
    edge: usize,
    hang_up_after: Option<usize>,
    stop: &CancellationToken,
) -> Watched {
    let (status, watcher) = watch::channel(None);
    let client = UserClient {
        name: user.name.clone(),
        token: user.token.clone(),
        edges: system.edges.clone(),
        first_edge: edge,
        hang_up_after,
        status,
        stop: stop.clone(),
    };
    Watched {
        status: watcher,
        task: tokio::spawn(client.run()),
    }
}

/// Waits until `watched` has seen its first inbox (`rooms`: none) or the
/// events of each of `rooms` up to its head.
async fn until_seen(watched: &Watched, rooms: &[i64], heads: &HashMap<i64, i64>) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let done = match &*watched.status.borrow() {
            None => false,
            Some(seen) => rooms
                .iter()
                .all(|room| seen.get(room).copied().unwrap_or(0) == heads[room]),
        };
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for a user socket: {:?}, heads {heads:?}",
            watched.status.borrow()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// One report per room the user socket saw, for [`check`].
fn per_room(user: &UserReport) -> Vec<Report> {
    user.logs
        .iter()
        .map(|(&room, log)| Report {
            member: Member {
                name: user.name.clone(),
                token: String::new(),
                room,
            },
            log: log.clone(),
            acked: HashMap::new(),
            conflicting_acks: 0,
            resets: 0,
            resumes: 0,
            closes: Vec::new(),
            connections: 1,
            interruptions: 0,
            errors: 0,
        })
        .collect()
}

/// The hub's and one peer's user sockets beside the star's room sockets,
/// with `fault` struck halfway; the verdict over every view.
async fn run(name: &str, hang_up_after: Option<usize>, kill: bool) -> (Vec<UserReport>, Verdict) {
    let mut system = System::start(STALL, Edges::OnePerCore).await;
    let (hub, members) = system.star(PEERS).await;
    let peer = system.user("p0").await;
    let stop = CancellationToken::new();
    // The hub's user socket on edge 0, whose core is the one killed.
    let watched = [
        start(&system, &hub, 0, hang_up_after, &stop),
        start(&system, &peer, 1, hang_up_after, &stop),
    ];
    for user in &watched {
        until_seen(user, &[], &HashMap::new()).await;
    }
    let rooms: Vec<i64> = members.iter().map(|m| m.room).step_by(2).collect();
    let traffic = Traffic::start(&system, members, vec![plan(); 2 * PEERS]).await;
    traffic.halfway().await;
    if kill {
        system.cores[0].kill().await;
    }
    let (mut reports, verdict) = traffic.finish(&system, name).await;
    assert_clean(&verdict);
    let heads: HashMap<i64, i64> = system.room_heads().await.into_iter().collect();
    until_seen(&watched[0], &rooms, &heads).await;
    until_seen(&watched[1], &rooms[..1], &heads).await;
    stop.cancel();
    let mut users = Vec::new();
    for user in watched {
        users.push(user.task.await.expect("user client"));
    }
    let unread = system.unread_counts(hub.id).await;
    for room in &rooms {
        assert_eq!(
            users[0].unread.get(room),
            unread.get(room),
            "the hub's last unread_count of room {room} is the room list's"
        );
    }
    for user in &users {
        reports.extend(per_room(user));
    }
    let mut verdict = check(&reports, &heads);
    verdict.reordered += users
        .iter()
        .map(|user| user.resets + user.malformed)
        .sum::<usize>();
    println!(
        "checker {name} (user sockets): {verdict:?}, resumes={:?}, closes={:?}, room closes={:?}",
        users.iter().map(|user| user.resumes).collect::<Vec<_>>(),
        users
            .iter()
            .map(|user| user.closes.clone())
            .collect::<Vec<_>>(),
        closes(&reports)
    );
    for user in &users {
        assert!(
            user.inbox_seq.values().all(|&seq| seq == 0),
            "{}: the first inbox came before any event: {:?}",
            user.name,
            user.inbox_seq
        );
    }
    (users, verdict)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_sockets_lose_nothing_while_a_core_is_killed() {
    let (users, verdict) = run("user-socket-kill-core", None, true).await;
    assert_clean(&verdict);
    assert!(
        users[0].resumes > 0,
        "the hub's user socket, on the killed core's edge, resumed: {:?}",
        users[0].closes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_user_socket_gets_exactly_what_it_missed() {
    let (users, verdict) = run("user-socket-resume", Some(15), false).await;
    assert_clean(&verdict);
    for user in &users {
        assert!(
            user.resumes >= 2,
            "{} hung up and resumed with its cursor: {} resumes",
            user.name,
            user.resumes
        );
    }
}
