//! Each scenario: two rooms, four clients spread over both edges, one fault
//! in the middle of the traffic, then the verdict.

use std::{collections::HashMap, time::Duration};

use tokio::{sync::watch, task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;

use crate::{
    check::{Verdict, check},
    client::{Client, Observed, Plan, Report, Status},
    system::{Edges, Member, System},
};

pub const SENDS: usize = 40;
/// How long the checker waits for anything.
pub const PATIENCE: Duration = Duration::from_secs(60);
/// The edges' default: a socket's queue may stay full this long.
pub const STALL: Duration = Duration::from_secs(10);

enum Fault {
    None,
    KillCore,
    RestartPostgres,
    TerminateListeners,
}

/// Steady traffic: one send every 10 ms, each once.
pub fn plan() -> Plan {
    Plan {
        sends: SENDS,
        pace: Duration::from_millis(10),
        stall: None,
        send_twice: false,
        padding: 0,
    }
}

/// Runs the traffic with `fault` struck halfway; returns the reports and verdict.
async fn scenario(
    name: &str,
    ws_stall: Duration,
    plans: [Plan; 4],
    fault: Fault,
) -> (Vec<Report>, Verdict) {
    let mut system = System::start(ws_stall, Edges::OnePerCore).await;
    let members = system.members(2).await;
    let traffic = Traffic::start(&system, members, plans.to_vec()).await;
    traffic.halfway().await;
    strike(&mut system, fault).await;
    traffic.finish(&system, name).await
}

/// Clients chatting through the system's edges.
pub struct Traffic {
    pub statuses: Vec<watch::Receiver<Status>>,
    clients: Vec<JoinHandle<Report>>,
    rooms: Vec<i64>,
    total: Vec<usize>,
    stop: CancellationToken,
}

impl Traffic {
    /// One client per member (client i starts on edge i modulo the edges),
    /// sending once every client is connected.
    pub async fn start(system: &System, members: Vec<Member>, plans: Vec<Plan>) -> Self {
        let rooms: Vec<i64> = members.iter().map(|member| member.room).collect();
        let total: Vec<usize> = plans.iter().map(|plan| plan.sends).collect();
        let (go, stop) = (CancellationToken::new(), CancellationToken::new());
        let mut statuses = Vec::new();
        let mut clients = Vec::new();
        for (i, (member, plan)) in members.into_iter().zip(plans).enumerate() {
            let (status, watcher) = watch::channel(Status::default());
            statuses.push(watcher);
            let client = Client {
                member,
                plan,
                edges: system.edges.clone(),
                first_edge: i % system.edges.len(),
                status,
                go: go.clone(),
                stop: stop.clone(),
            };
            clients.push(tokio::spawn(client.run()));
        }
        wait_for(&statuses, "every client connected", |s| s.connected).await;
        go.cancel();
        Self {
            statuses,
            clients,
            rooms,
            total,
            stop,
        }
    }

    /// Returns once every client has [`SENDS`]` / 2` sends acknowledged.
    pub async fn halfway(&self) {
        wait_for(&self.statuses, "half the sends acknowledged", |s| {
            s.acked >= SENDS / 2
        })
        .await;
    }

    /// Waits for every send and every subscriber, stops the clients and
    /// judges what they saw.
    pub async fn finish(self, system: &System, name: &str) -> (Vec<Report>, Verdict) {
        wait_until(&self.statuses, "every send acknowledged", |i, s| {
            s.acked == self.total[i]
        })
        .await;
        let heads: HashMap<i64, i64> = system.room_heads().await.into_iter().collect();
        wait_until(&self.statuses, "every subscriber caught up", |i, s| {
            s.last_seq == heads[&self.rooms[i]]
        })
        .await;
        self.stop.cancel();
        let mut reports = Vec::new();
        for client in self.clients {
            reports.push(client.await.expect("client task"));
        }
        let verdict = check(&reports, &heads);
        let resumes: usize = reports.iter().map(|r| r.resumes).sum();
        let errors: usize = reports.iter().map(|r| r.errors).sum();
        println!(
            "checker {name}: {verdict:?}, resumes={resumes}, error_frames={errors}, closes={:?}",
            closes(&reports)
        );
        (reports, verdict)
    }
}

async fn strike(system: &mut System, fault: Fault) {
    match fault {
        Fault::None => {}
        Fault::KillCore => system.cores[0].kill().await,
        Fault::RestartPostgres => system.restart_postgres(Duration::from_millis(500)).await,
        Fault::TerminateListeners => assert_eq!(system.terminate_listeners().await, 2),
    }
}

pub async fn wait_for(
    statuses: &[watch::Receiver<Status>],
    what: &str,
    done: impl Fn(&Status) -> bool,
) {
    wait_until(statuses, what, |_, status| done(status)).await;
}

pub async fn wait_until(
    statuses: &[watch::Receiver<Status>],
    what: &str,
    done: impl Fn(usize, &Status) -> bool,
) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let all = statuses
            .iter()
            .enumerate()
            .all(|(i, status)| done(i, &status.borrow()));
        if all {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what}: {:?}",
            snapshot(statuses)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn snapshot(statuses: &[watch::Receiver<Status>]) -> Vec<Status> {
    statuses.iter().map(|status| *status.borrow()).collect()
}

pub fn closes(reports: &[Report]) -> Vec<u16> {
    reports
        .iter()
        .flat_map(|report| report.closes.iter().copied())
        .collect()
}

pub fn assert_clean(verdict: &Verdict) {
    assert_eq!(
        verdict,
        &Verdict::default(),
        "0 lost, 0 duplicated, 0 reordered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_killed_mid_traffic_loses_nothing() {
    let (reports, verdict) = scenario("kill-core", STALL, [plan(); 4], Fault::KillCore).await;
    assert_clean(&verdict);
    assert!(
        closes(&reports).contains(&1011),
        "clients of the killed core were closed and moved"
    );
    assert!(reports.iter().any(|report| report.resumes > 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_restart_loses_nothing() {
    let (reports, verdict) = scenario(
        "restart-postgres",
        STALL,
        [plan(); 4],
        Fault::RestartPostgres,
    )
    .await;
    assert_clean(&verdict);
    let retried: usize = reports.iter().map(|report| report.errors).sum();
    assert!(
        retried > 0,
        "sends failed while PostgreSQL was down, and were retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_listen_connections_lose_nothing() {
    let (_, verdict) = scenario(
        "terminate-listeners",
        STALL,
        [plan(); 4],
        Fault::TerminateListeners,
    )
    .await;
    assert_clean(&verdict);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_consumer_loses_nothing() {
    // The pause must outlast filling the edge's queue and socket buffer (the
    // flood is one send per round trip, slow on a busy machine: hence large
    // texts) and stay within the edge's 2 s close grace, so the client still
    // reads the 1013.
    let stalling = Plan {
        stall: Some((5, Duration::from_millis(2000))),
        ..plan()
    };
    // Its partner floods the room while it is not reading.
    let flooding = Plan {
        sends: 300,
        padding: 3000,
        pace: Duration::from_millis(1),
        ..plan()
    };
    let (reports, verdict) = scenario(
        "stalled-consumer",
        Duration::from_millis(250),
        [stalling, flooding, plan(), plan()],
        Fault::None,
    )
    .await;
    assert_clean(&verdict);
    let stalled = &reports[0];
    assert!(
        stalled.closes.contains(&1013),
        "closed: {:?}",
        stalled.closes
    );
    assert!(stalled.resumes > 0, "and resumed where it stood");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_retries_store_each_message_once() {
    let twice = Plan {
        send_twice: true,
        ..plan()
    };
    let (reports, verdict) =
        scenario("idempotent-retries", STALL, [twice; 4], Fault::KillCore).await;
    assert_clean(&verdict);
    let acked: usize = reports.iter().map(|report| report.acked.len()).sum();
    assert_eq!(acked, 4 * SENDS, "one message per client_msg_id");
}

#[test]
fn the_checker_catches_loss_duplication_and_reordering() {
    let member = |room| Member {
        name: "m".into(),
        token: String::new(),
        room,
    };
    let event = |seq, kind: &str, message_id| Observed {
        seq,
        kind: kind.into(),
        message_id,
    };
    let report = |log: Vec<Observed>, acked: &[(&str, i64)]| Report {
        member: member(1),
        log,
        acked: acked.iter().map(|(id, m)| (id.to_string(), *m)).collect(),
        conflicting_acks: 0,
        resets: 0,
        resumes: 0,
        closes: Vec::new(),
        connections: 1,
        interruptions: 0,
        errors: 0,
    };
    let heads = HashMap::from([(1, 3)]);
    let good = vec![
        event(1, "chat_message", 10),
        event(2, "mark_message_as_delivered", 10),
        event(3, "chat_message", 11),
    ];
    let verdict = check(&[report(good.clone(), &[("a", 10), ("b", 11)])], &heads);
    assert_eq!(verdict, Verdict::default());

    let gap = vec![event(1, "chat_message", 10), event(3, "chat_message", 11)];
    assert_eq!(check(&[report(gap, &[("a", 10)])], &heads).lost, 1);
    let missing_ack = check(&[report(good.clone(), &[("a", 10), ("c", 12)])], &heads);
    assert_eq!(missing_ack.lost, 1);
    let twice = vec![
        event(1, "chat_message", 10),
        event(2, "chat_message", 10),
        event(3, "chat_message", 11),
    ];
    assert_eq!(check(&[report(twice, &[])], &heads).duplicated, 1);
    let backwards = vec![
        event(1, "chat_message", 10),
        event(3, "chat_message", 11),
        event(2, "x", 10),
    ];
    assert!(check(&[report(backwards, &[])], &heads).reordered >= 1);
    let other_view = vec![
        event(1, "chat_message", 99),
        event(2, "mark_message_as_delivered", 10),
        event(3, "chat_message", 11),
    ];
    let disagree = check(&[report(good, &[]), report(other_view, &[])], &heads);
    assert_eq!(disagree.reordered, 1);
}
