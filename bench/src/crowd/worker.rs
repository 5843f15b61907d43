//! The hidden `hold-worker` command: one load-generator process of the
//! crowd. It reads its [`Plan`] from stdin, joins its sockets from its own
//! source address a few at a time, reports, holds them (every socket keeps
//! reading), runs the flow window when told, reports again, and closes
//! everything at the end of its input.

use std::{
    io::{BufRead, Write},
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use futures::StreamExt;
use tokio::{
    sync::{mpsc, watch},
    task::JoinSet,
};

use super::{
    hold::{Sender, Tally, Window, hold},
    wire::{FLOW, FlowPlan, Joined, Plan, WorkerReport},
};
use crate::ws;

/// Longest wait for one socket's history frame.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Arguments of the `hold-worker` command.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The loopback address this worker's sockets connect from.
    #[arg(long)]
    pub source: IpAddr,
}

/// Runs the worker until its stdin ends.
pub async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let mut input = stdin_lines();
    let line = input.recv().await.context("no plan on stdin")?;
    let plan: Plan = serde_json::from_str(&line).context("reading the plan")?;
    let tally = Arc::new(Tally::default());
    let (start, window) = watch::channel(None);
    // Owns every held socket: dropping it at the end closes them all.
    let mut held = JoinSet::new();
    let joined = join_all(args.source, &plan, &mut held, &window, &tally).await;
    report(&WorkerReport::Joined(joined))?;
    while let Some(command) = input.recv().await {
        if command.trim() == FLOW {
            flow(&plan.flow, &start).await;
            report(&WorkerReport::Flowed(tally.snapshot()))?;
        }
    }
    held.shutdown().await;
    Ok(())
}

/// Joins every socket of `plan`, `plan.concurrency` at a time; each joined
/// socket is held by a task in `held`.
async fn join_all(
    source: IpAddr,
    plan: &Plan,
    held: &mut JoinSet<()>,
    window: &watch::Receiver<Option<Window>>,
    tally: &Arc<Tally>,
) -> Joined {
    let started = Instant::now();
    let senders = plan.sockets.iter().filter(|s| s.sends).count().max(1);
    let every = Duration::from_secs_f64(1.0 / plan.flow.per_member_rate.max(0.001));
    let mut joins = futures::stream::iter(&plan.sockets)
        .map(|socket| async move {
            let joining = ws::join_from(source, socket.edge, socket.room, &socket.token);
            (socket, tokio::time::timeout(JOIN_TIMEOUT, joining).await)
        })
        .buffer_unordered(plan.concurrency.max(1));
    let mut joined = Joined::default();
    let mut nth_sender = 0;
    while let Some((socket, result)) = joins.next().await {
        let reason = match result {
            Ok(Ok(ws)) => {
                let sender = socket.sends.then(|| {
                    nth_sender += 1;
                    Sender {
                        me: socket.user,
                        every,
                        phase: every.mul_f64(nth_sender as f64 / senders as f64),
                    }
                });
                held.spawn(hold(ws, sender, window.clone(), Arc::clone(tally)));
                joined.joined += 1;
                continue;
            }
            Ok(Err(err)) => short(&format!("{err:#}")),
            Err(_) => "timeout".to_owned(),
        };
        joined.failed += 1;
        *joined.failures.entry(reason).or_default() += 1;
    }
    joined.seconds = started.elapsed().as_secs_f64();
    joined
}

/// Opens the flow window and waits until it and its drain are over.
async fn flow(plan: &FlowPlan, start: &watch::Sender<Option<Window>>) {
    let epoch = Instant::now();
    let until = epoch + Duration::from_secs_f64(plan.seconds);
    start.send_replace(Some(Window { epoch, until }));
    tokio::time::sleep_until((until + Duration::from_secs_f64(plan.drain_seconds)).into()).await;
}

/// The lines of stdin, read by a thread of their own; the channel closes
/// at the end of the input (or on a read error).
fn stdin_lines() -> mpsc::Receiver<String> {
    let (lines, received) = mpsc::channel(4);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines.blocking_send(line).is_err() {
                break;
            }
        }
    });
    received
}

/// One line on stdout, for the scenario.
fn report(report: &WorkerReport) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, report)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// A failure reason short enough to count by.
fn short(reason: &str) -> String {
    reason.chars().take(100).collect()
}
