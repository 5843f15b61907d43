//! The crowd: N WebSockets held at once on this box while messages still
//! flow between some of them.
//!
//! A process here may hold 20,000 files and one source address reaches one
//! edge from about 28,000 ephemeral ports, so the crowd is spread: one
//! edge and one load-generator process ([`worker`], this binary's hidden
//! `hold-worker` command, on its own 127.0.0.x source address) per
//! `--crowd-per-process` sockets. The scenario runs on a system of its own,
//! so its memory figures start from a fresh core and fresh edges:
//!
//! 1. rooms of two new users each, made through the gRPC API;
//! 2. every worker joins its sockets (a socket counts once its history
//!    frame arrived), then holds them, reading every frame;
//! 3. the crowd sits idle for [`IDLE_SECONDS`]: CPU, then memory, are read;
//! 4. the members of `--crowd-flow-rooms` rooms send `--crowd-rate`
//!    messages per second in total for `--crowd-seconds`; the other member
//!    (same worker, other edge) records each message's latency;
//! 5. the workers report which sockets closed on the way, and stop.

mod figures;
mod fleet;
mod hold;
mod layout;
mod wire;
pub mod worker;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::future::try_join_all;

pub use figures::Crowd;
use figures::{Flow, Memory};
use fleet::Worker;
use layout::Layout;
use wire::{FlowPlan, Joined};

use crate::{
    cpu::CpuSplit,
    population,
    system::{Shape, System, raise_fd_limit},
};

/// Seconds the crowd sits idle before its memory is read.
const IDLE_SECONDS: f64 = 5.0;
/// Seconds to wait for the last messages after the flow window.
const DRAIN_SECONDS: f64 = 3.0;
/// Sockets each worker joins at once.
const JOIN_CONCURRENCY: usize = 64;
/// Files a process needs besides its sockets.
const SPARE_FILES: u64 = 256;

/// The crowd's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct CrowdArgs {
    /// WebSockets the crowd scenario holds at once (two per room).
    #[arg(long = "crowd-sockets", default_value_t = 50_000)]
    pub sockets: usize,
    /// Most sockets per edge and per load-generator process.
    #[arg(long = "crowd-per-process", default_value_t = 16_000)]
    pub per_process: usize,
    /// Rooms whose two members send while the crowd is held.
    #[arg(long = "crowd-flow-rooms", default_value_t = 200)]
    pub flow_rooms: usize,
    /// Messages per second, in total, of the sending rooms.
    #[arg(long = "crowd-rate", default_value_t = 500.0)]
    pub rate: f64,
    /// Seconds the messages flow.
    #[arg(long = "crowd-seconds", default_value_t = 30.0)]
    pub seconds: f64,
}

impl CrowdArgs {
    /// 40 sockets over two edges and two workers.
    pub fn shrink_for_smoke(&mut self) {
        self.sockets = 40;
        self.per_process = 20;
        self.flow_rooms = 4;
        self.rate = 20.0;
        self.seconds = 2.0;
    }
}

/// Runs the crowd on a system of its own, shaped as `shape` but with one
/// edge per generator process.
pub async fn run(args: &CrowdArgs, shape: Shape) -> anyhow::Result<Crowd> {
    let processes = processes(args)?;
    let system = System::start(Shape {
        edges: processes,
        ..shape
    })
    .await?;
    let populating = Instant::now();
    let rooms = population::rooms(system.core.addr, "crowd", args.sockets / 2).await?;
    let population_seconds = populating.elapsed().as_secs_f64();
    eprintln!("crowd: {} rooms in {population_seconds:.1} s", rooms.len());
    let layout = layout(args, processes, rooms.len());
    let edges: Vec<_> = system.edges.iter().map(|edge| edge.addr).collect();
    let before = system.rss();
    let mut crowd = connect(&system, layout.plans(&rooms, &edges)).await?;
    let idle_cpu_percent = sit_idle(&system, &crowd.workers).await;
    let generator_rss = crowd.workers.iter().map(Worker::rss).sum();
    let memory = Memory::new(before, system.rss(), crowd.joined.joined, generator_rss);
    let (flow, dropped) = flow(&system, &mut crowd.workers, args, layout.flow_rooms).await?;
    for worker in crowd.workers {
        worker.stop().await?;
    }
    let joined = crowd.joined;
    Ok(Crowd {
        sockets: rooms.len() * 2,
        held: joined
            .joined
            .saturating_sub(dropped.values().sum::<u64>() as usize),
        edges: processes,
        workers: processes,
        population_seconds,
        connect_seconds: crowd.seconds,
        connects_per_sec: joined.joined as f64 / crowd.seconds,
        cpu_ms_per_connect: crowd.cpu_ms_per_socket,
        join_failures: joined.failures,
        dropped,
        memory,
        idle_cpu_percent,
        flow,
    })
}

/// Edges, and workers, the crowd needs; after making sure each process
/// may open that many sockets.
fn processes(args: &CrowdArgs) -> anyhow::Result<usize> {
    let files = raise_fd_limit().context("raising the open-files limit")?;
    if args.per_process as u64 + SPARE_FILES > files {
        bail!("a process may open {files} files here: lower --crowd-per-process");
    }
    Ok(args.sockets.div_ceil(args.per_process.max(1)).max(1))
}

fn layout(args: &CrowdArgs, workers: usize, rooms: usize) -> Layout {
    let flow_rooms = args.flow_rooms.min(rooms);
    Layout {
        workers,
        flow_rooms,
        concurrency: JOIN_CONCURRENCY,
        flow: FlowPlan {
            per_member_rate: args.rate / (2 * flow_rooms.max(1)) as f64,
            seconds: args.seconds,
            drain_seconds: DRAIN_SECONDS,
        },
    }
}

/// The workers once every socket was tried.
struct Connected {
    workers: Vec<Worker>,
    joined: Joined,
    /// From starting the workers to the last history frame.
    seconds: f64,
    cpu_ms_per_socket: CpuSplit,
}

/// Starts one worker per plan and waits until each has tried every socket.
async fn connect(system: &System, plans: Vec<wire::Plan>) -> anyhow::Result<Connected> {
    let before = cpu_now(system, &[]);
    let started = Instant::now();
    let mut workers = Vec::with_capacity(plans.len());
    for (n, plan) in plans.iter().enumerate() {
        workers.push(Worker::start(fleet::source_address(n)?, plan).await?);
    }
    let reports = try_join_all(workers.iter_mut().map(Worker::joined)).await?;
    let seconds = started.elapsed().as_secs_f64();
    let joined = figures::joined(&reports);
    eprintln!(
        "crowd: {} of {} sockets joined in {seconds:.1} s, failures {:?}",
        joined.joined,
        plans.iter().map(|plan| plan.sockets.len()).sum::<usize>(),
        joined.failures
    );
    let cpu_ms_per_socket = before.per_message(&cpu_now(system, &workers), joined.joined as u64);
    Ok(Connected {
        workers,
        joined,
        seconds,
        cpu_ms_per_socket,
    })
}

/// Lets the held crowd sit idle; returns the CPU it cost meanwhile.
async fn sit_idle(system: &System, workers: &[Worker]) -> CpuSplit {
    let before = cpu_now(system, workers);
    tokio::time::sleep(Duration::from_secs_f64(IDLE_SECONDS)).await;
    before.percent(&cpu_now(system, workers), IDLE_SECONDS)
}

/// Runs every worker's flow window; returns its figures and the sockets
/// that closed since they joined.
async fn flow(
    system: &System,
    workers: &mut [Worker],
    args: &CrowdArgs,
    rooms: usize,
) -> anyhow::Result<(Flow, std::collections::BTreeMap<String, u64>)> {
    let before = cpu_now(system, workers);
    let reports = try_join_all(workers.iter_mut().map(Worker::flow)).await?;
    let after = cpu_now(system, workers);
    let (counts, latency_us) = figures::flowed(&reports)?;
    let mut flow = Flow::new(rooms, args.rate, args.seconds, &counts).with_latency(&latency_us);
    flow.cpu_ms_per_message = before.per_message(&after, counts.delivered);
    eprintln!(
        "crowd: {:.0} messages/s for {} s: delivered {}/{}, p50 {:.2} ms, p99 {:.2} ms",
        args.rate, args.seconds, flow.delivered, flow.sent, flow.p50_ms, flow.p99_ms
    );
    Ok((flow, counts.dropped))
}

fn cpu_now(system: &System, workers: &[Worker]) -> CpuSplit {
    let generators: Vec<u32> = workers.iter().map(Worker::pid).collect();
    CpuSplit::now(system).with_generators(&generators)
}
