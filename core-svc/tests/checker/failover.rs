//! Failover of an edge's link: one edge, whose `CHAT_CORE_URL` lists both
//! cores, carries every socket over its link to the first core, which is
//! killed (SIGKILL) mid-traffic. The edge re-links to the other core and no
//! socket notices: none closes, nothing is lost, duplicated or reordered,
//! and no user ever reads as offline.

use std::{future::Future, time::Duration};

use chat_proto::v1::{self as pb, user_service_client::UserServiceClient};
use tokio::{sync::watch, task::JoinHandle, time::Instant};
use tokio_util::sync::CancellationToken;

use crate::{
    client::Report,
    scenarios::{PATIENCE, STALL, Traffic, assert_clean, plan},
    system::{Edges, Member, System, authed, channel},
};

/// Direct rooms of two users each, every user with one socket on the edge.
const ROOMS: usize = 3;
/// How often the presence watcher reads every user.
const PRESENCE_EVERY: Duration = Duration::from_millis(20);

/// What the presence watcher read.
#[derive(Debug, Default)]
struct Tally {
    /// Rounds of reads, every user once a round.
    rounds: usize,
    /// `(user, round)` of every read that said offline.
    offline: Vec<(String, usize)>,
    /// Reads that failed.
    failures: Vec<String>,
}

/// Reads every user's `is_online` (`WhoAmI` on one core) in rounds until stopped.
struct Presence {
    rounds: watch::Receiver<usize>,
    stop: CancellationToken,
    task: JoinHandle<Tally>,
}

impl Presence {
    fn watch(core: &str, members: &[Member]) -> Self {
        let client = UserServiceClient::new(channel(core));
        let members = members.to_vec();
        let (rounds, watcher) = watch::channel(0);
        let stop = CancellationToken::new();
        let task = tokio::spawn(read_rounds(client, members, rounds, stop.clone()));
        Self {
            rounds: watcher,
            stop,
            task,
        }
    }

    /// Returns once a whole round has been read after this call.
    async fn one_more_round(&mut self) {
        let now = *self.rounds.borrow();
        self.rounds
            .wait_for(|&round| round >= now + 2)
            .await
            .expect("the watcher runs");
    }

    async fn stop(self) -> Tally {
        self.stop.cancel();
        self.task.await.expect("presence watcher")
    }
}

async fn read_rounds(
    mut client: UserServiceClient<tonic::transport::Channel>,
    members: Vec<Member>,
    rounds: watch::Sender<usize>,
    stop: CancellationToken,
) -> Tally {
    let mut tally = Tally::default();
    let mut tick = tokio::time::interval(PRESENCE_EVERY);
    while !stop.is_cancelled() {
        tick.tick().await;
        for member in &members {
            let request = authed(&member.token, pb::WhoAmIRequest {});
            match client.who_am_i(request).await {
                Ok(me) if me.get_ref().is_online => {}
                Ok(_) => tally.offline.push((member.name.clone(), tally.rounds)),
                Err(status) => tally.failures.push(format!("{}: {status}", member.name)),
            }
        }
        tally.rounds += 1;
        rounds.send_replace(tally.rounds);
    }
    tally
}

/// Polls `probe` until it returns `want`; panics after [`PATIENCE`].
async fn until<F: Future<Output = i64>>(what: &str, want: i64, probe: impl Fn() -> F) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let got = probe().await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what} is {want}: {got}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn assert_never_interrupted(reports: &[Report]) {
    for report in reports {
        let seen = (report.connections, report.interruptions, &report.closes[..]);
        assert_eq!(
            seen,
            (1, 0, &[][..]),
            "{}: one socket throughout (sockets, ended early, close codes)",
            report.member.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_core_an_edge_is_linked_to_is_invisible_to_its_sockets() {
    let mut system = System::start(STALL, Edges::OneForBoth).await;
    let members = system.members(ROOMS).await;
    let traffic = Traffic::start(&system, members.clone(), vec![plan(); 2 * ROOMS]).await;
    let mut presence = Presence::watch(&system.cores[1].addr, &members);
    until("core 0's links", 1, || system.gauge(0, "chat_edge_links")).await;
    assert_eq!(
        system.gauge(1, "chat_edge_links").await,
        0,
        "the edge links to its first core only"
    );
    assert_eq!(system.instances().await, 3, "two cores and the edge");
    traffic.halfway().await;
    presence.one_more_round().await;
    system.cores[0].kill().await;
    until("core 1's links", 1, || system.gauge(1, "chat_edge_links")).await;
    // Core 1 reaps the dead core once its heartbeat is older than the TTL:
    // had the edge's sessions gone stale meanwhile, they would be gone too.
    // Presence is read while the sockets are open: once the clients stop,
    // their users are rightly offline.
    until("the instances", 2, || system.instances()).await;
    presence.one_more_round().await;
    let tally = presence.stop().await;
    let (reports, verdict) = traffic.finish(&system, "kill-linked-core").await;
    println!(
        "checker kill-linked-core: presence rounds={}, offline={:?}, failures={:?}",
        tally.rounds, tally.offline, tally.failures
    );
    assert_clean(&verdict);
    assert_never_interrupted(&reports);
    assert!(
        tally.offline.is_empty() && tally.failures.is_empty(),
        "every user read online throughout: {tally:?}"
    );
    let errors: usize = reports.iter().map(|report| report.errors).sum();
    assert_eq!(
        reports.iter().map(|r| r.acked.len()).sum::<usize>(),
        2 * ROOMS * crate::scenarios::SENDS,
        "every send acknowledged once ({errors} error frames retried)"
    );
}
