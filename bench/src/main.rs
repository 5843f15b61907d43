//! `chat-bench`: the numbers users pick a chat backend by, beside the
//! ceilings of the same machine, in one run.
//!
//! `scripts/bench` builds everything in release mode and runs every scenario.

mod ceiling;
mod chart;
mod conversations;
mod cpu;
mod crowd;
mod fanout;
mod idle;
mod inbox;
mod pace;
mod population;
mod presence_fanout;
mod report;
mod room;
mod services;
mod services_pgbench;
mod statements;
mod steady;
mod storm;
mod system;
mod ws;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::{
    crowd::CrowdArgs,
    report::{Report, peak},
    system::{Shape, System},
};

/// Runs the scenarios and writes `<out>/bench.json` and `<out>/latency.png`.
#[derive(Debug, Parser)]
#[command(name = "chat-bench", version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Where the JSON results and the chart go.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// A tiny run that only proves every scenario works (for CI).
    #[arg(long)]
    smoke: bool,
    /// Seconds per offered-rate step.
    #[arg(long, default_value_t = 5.0)]
    step_seconds: f64,
    /// Rooms (× 2 members, both sending) of the steady scenario.
    #[arg(long, default_value_t = 16)]
    rooms: usize,
    /// Offered rates of the sweep, messages per second in total.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "250,500,1000,1500,2000,2500,3000,3500,4000,4500,5000"
    )]
    rates: Vec<f64>,
    /// Idle sockets to hold open.
    #[arg(long, default_value_t = 10_000)]
    idle_sockets: usize,
    /// Messages in the connect-storm room.
    #[arg(long, default_value_t = 100_000)]
    storm_messages: u64,
    /// Subscribe streams of the gRPC fan-out.
    #[arg(long, default_value_t = 200)]
    fanout_streams: usize,
    /// WebSockets on the one room of the crowded-room scenario, all on one edge.
    #[arg(long, default_value_t = 1_000)]
    room_sockets: usize,
    /// Messages per second sent into the crowded room.
    #[arg(long, default_value_t = 20.0)]
    room_rate: f64,
    /// Steady rate of the services scenario when no sweep ran before it
    /// (otherwise half the sweep's peak).
    #[arg(long, default_value_t = 1000.0)]
    services_rate: f64,
    /// The core's database pool, and pgbench's clients.
    #[arg(long, default_value_t = 16)]
    db_pool: usize,
    /// Worker threads of the core and of each edge (`TOKIO_WORKER_THREADS`;
    /// 0: tokio's default, one per core). One each by default: PostgreSQL,
    /// the core, the edge and this generator share the machine's two cores,
    /// and a second worker per service mostly adds cross-core wake-ups.
    #[arg(long, default_value_t = 1)]
    service_threads: usize,
    /// Rooms of the many-rooms user of the conversations scenario.
    #[arg(long, default_value_t = 10_000)]
    conversation_rooms: usize,
    /// First pages asked for each user of the conversations scenario.
    #[arg(long, default_value_t = 2_000)]
    conversation_calls: usize,
    /// Load pg_stat_statements and print, for each steady step, the
    /// statements PostgreSQL ran per message.
    #[arg(long)]
    statements: bool,
    /// Users of the user-socket scenario, each in `--inbox-rooms` rooms.
    #[arg(long, default_value_t = 200)]
    inbox_users: usize,
    /// Rooms of each user of the user-socket scenario.
    #[arg(long, default_value_t = 1_000)]
    inbox_rooms: usize,
    /// Idle user sockets per user of the user-socket scenario.
    #[arg(long, default_value_t = 5)]
    inbox_sockets_per_user: usize,
    /// Messages per second into one user's rooms when no sweep ran before
    /// (otherwise half the sweep's peak).
    #[arg(long, default_value_t = 250.0)]
    inbox_rate: f64,
    /// Seconds the user-socket scenario waits before opening its idle
    /// sockets and again while holding them, printing the core's and the
    /// edge's pids: time to attach a profiler (`heaptrack -p`).
    #[arg(long, default_value_t = 0.0)]
    inbox_hold_seconds: f64,
    /// Peers of the user whose presence fans out.
    #[arg(long, default_value_t = 1_000)]
    presence_peers: usize,
    /// Times that user goes online and offline.
    #[arg(long, default_value_t = 10)]
    presence_flips: usize,
    /// Scenarios to run [default: steady,idle,storm,fanout,room,services,
    /// conversations,inbox,presence; with --smoke all ten]. `crowd` (50,000 sockets, about two minutes) runs only when
    /// named.
    #[arg(long, value_delimiter = ',', value_enum)]
    only: Option<Vec<Scenario>>,
    #[command(flatten)]
    crowd: CrowdArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Holds a share of the crowd's sockets (started by the crowd scenario).
    #[command(hide = true)]
    HoldWorker(crowd::worker::WorkerArgs),
}

/// A scenario of `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// The steady-chat sweep and the ceilings beside it.
    Steady,
    /// Idle sockets held open: memory per socket.
    Idle,
    /// Connects and disconnects to a room with a long history.
    Storm,
    /// One room's `Subscribe` streams on the core directly.
    Fanout,
    /// One room with `--room-sockets` WebSockets on one edge: the edge's fan-out.
    Room,
    /// 50,000 sockets held with messages flowing, on a system of its own.
    Crowd,
    /// The event feed's lag and webhooks to a silent receiver during the
    /// steady chat, and the send path's pgbench with and without their
    /// bookkeeping.
    Services,
    /// The first page of the room list for a user with many rooms and for
    /// a user with one, and the send path's pgbench with and without the
    /// list's bookkeeping.
    Conversations,
    /// Idle user sockets of users in many rooms (memory per socket), and
    /// the latency from a send to one user socket.
    Inbox,
    /// A user with many peers going online and offline while others send.
    Presence,
}

impl Args {
    fn shrink_for_smoke(&mut self) {
        self.step_seconds = 1.0;
        self.rooms = 2;
        self.rates = vec![20.0, 40.0];
        self.idle_sockets = 20;
        self.storm_messages = 1_000;
        self.fanout_streams = 4;
        self.room_sockets = 10;
        self.room_rate = 5.0;
        self.services_rate = 20.0;
        self.conversation_rooms = 100;
        self.conversation_calls = 50;
        self.inbox_users = 2;
        self.inbox_rooms = 20;
        self.inbox_sockets_per_user = 2;
        self.inbox_rate = 20.0;
        self.presence_peers = 10;
        self.presence_flips = 2;
        self.db_pool = 4;
        self.crowd.shrink_for_smoke();
    }

    /// The system the shared scenarios run on: one edge.
    fn shape(&self) -> Shape {
        Shape {
            edges: 1,
            db_pool: self.db_pool,
            threads: self.service_threads,
            webhook: None,
            statements: self.statements,
        }
    }

    fn runs(&self, scenario: Scenario) -> bool {
        match &self.only {
            Some(only) => only.contains(&scenario),
            None => scenario != Scenario::Crowd || self.smoke,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if let Some(Command::HoldWorker(worker)) = args.command {
        return crowd::worker::run(worker).await;
    }
    if args.smoke {
        args.shrink_for_smoke();
    }
    std::fs::create_dir_all(&args.out)?;
    let mut report = Report {
        machine: machine(),
        ..Report::default()
    };
    shared_system_scenarios(&args, &mut report).await?;
    if args.runs(Scenario::Crowd) {
        report.crowd = Some(crowd::run(&args.crowd, args.shape()).await?);
    }
    report.print();
    std::fs::write(
        args.out.join("bench.json"),
        serde_json::to_vec_pretty(&report)?,
    )?;
    if !report.steady.is_empty()
        && let Err(err) = chart::draw(&args.out.join("latency.png"), &report.steady, &report.echo)
    {
        eprintln!("no chart: {err:#}");
    }
    Ok(())
}

/// The scenarios that share one system of one core and one edge.
async fn shared_system_scenarios(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let shared = [
        Scenario::Steady,
        Scenario::Idle,
        Scenario::Storm,
        Scenario::Fanout,
        Scenario::Room,
        Scenario::Services,
        Scenario::Conversations,
        Scenario::Inbox,
        Scenario::Presence,
    ];
    if !shared.iter().any(|&scenario| args.runs(scenario)) {
        return Ok(());
    }
    let system = System::start(args.shape()).await?;
    if args.runs(Scenario::Steady) {
        steady_and_ceilings(args, &system, report).await?;
    }
    if args.runs(Scenario::Idle) {
        let idle_rooms = population::rooms(system.core.addr, "idle", args.idle_sockets / 2).await?;
        report.idle = Some(idle::run(&system, &idle_rooms).await?);
    }
    if args.runs(Scenario::Storm) {
        let storm_room = population::rooms(system.core.addr, "storm", 1)
            .await?
            .remove(0);
        storm::fill(&system, &storm_room, args.storm_messages).await?;
        let seconds = args.step_seconds * 2.0;
        let storm = storm::run(&system, &storm_room, args.storm_messages, 16, seconds).await?;
        report.storm = Some(storm);
    }
    if args.runs(Scenario::Fanout) {
        let fan_room = population::rooms(system.core.addr, "fan", 1)
            .await?
            .remove(0);
        let streams = args.fanout_streams;
        let fanout = fanout::run(
            system.core.addr,
            &fan_room,
            streams,
            50.0,
            args.step_seconds,
        );
        report.fanout = Some(fanout.await?);
    }
    if args.runs(Scenario::Room) {
        let room = population::rooms(system.core.addr, "room", 1)
            .await?
            .remove(0);
        let seconds = args.step_seconds * 2.0;
        let crowded = room::run(&system, &room, args.room_sockets, args.room_rate, seconds);
        report.room = Some(crowded.await?);
    }
    if args.runs(Scenario::Services) {
        // Half the peak when the sweep found one, as the feed's target says.
        let rate = match report.chat_peak_per_sec {
            peak if peak > 0.0 => peak / 2.0,
            _ => args.services_rate,
        };
        let seconds = args.step_seconds * 2.0;
        let services = services::run(&system, args.shape(), args.rooms, rate, seconds);
        report.services = Some(services.await?);
    }
    if args.runs(Scenario::Conversations) {
        let conversations = conversations::run(
            &system,
            args.conversation_rooms,
            args.conversation_calls,
            args.db_pool,
            args.step_seconds * 2.0,
            args.statements,
        );
        report.conversations = Some(conversations.await?);
    }
    if args.runs(Scenario::Inbox) {
        let rate = match report.chat_peak_per_sec {
            peak if peak > 0.0 => peak / 2.0,
            _ => args.inbox_rate,
        };
        let sizes = inbox::Sizes {
            users: args.inbox_users,
            rooms: args.inbox_rooms,
            sockets_per_user: args.inbox_sockets_per_user,
            rate,
            seconds: args.step_seconds * 2.0,
            hold: std::time::Duration::from_secs_f64(args.inbox_hold_seconds),
        };
        report.inbox = Some(inbox::run(&system, sizes).await?);
    }
    if args.runs(Scenario::Presence) {
        let fanout = presence_fanout::run(&system, args.presence_peers, args.presence_flips);
        report.presence = Some(fanout.await?);
    }
    Ok(())
}

async fn steady_and_ceilings(
    args: &Args,
    system: &System,
    report: &mut Report,
) -> anyhow::Result<()> {
    let rooms = population::rooms(system.core.addr, "steady", args.rooms).await?;
    let edges: Vec<_> = system.edges.iter().map(|edge| edge.addr).collect();
    for &rate in &args.rates {
        if args.statements {
            statements::reset(system).await?;
        }
        let before = cpu::CpuSplit::now(system);
        let mut step = steady::step(&edges, &rooms, rate, args.step_seconds).await?;
        let after = cpu::CpuSplit::now(system);
        step.cpu_ms_per_message = Some(before.per_message(&after, step.delivered));
        if args.statements {
            let top = statements::top(system, step.delivered).await?;
            statements::print(rate, &top);
            step.statements = Some(top);
        }
        eprintln!(
            "chat {rate}/s: p99 {:.2} ms, delivered {}/{}",
            step.p99_ms, step.delivered, step.sent
        );
        report.steady.push(step);
    }
    let echo = ceiling::echo_server().await?;
    for &rate in &args.rates {
        report
            .echo
            .push(ceiling::echo_step(echo, args.rooms * 2, rate, args.step_seconds).await?);
    }
    report.chat_peak_per_sec = peak(&report.steady);
    report.echo_peak_per_sec = peak(&report.echo);
    if report.chat_peak_per_sec > 0.0 {
        let half = report.chat_peak_per_sec / 2.0;
        report.half_peak = Some(steady::step(&edges, &rooms, half, args.step_seconds * 2.0).await?);
    }
    let clients: Vec<usize> = [1, 2, 4, 8, args.db_pool]
        .into_iter()
        .filter(|&clients| clients <= args.db_pool)
        .collect();
    report.pgbench = ceiling::pgbench(
        system,
        args.rooms,
        &clients,
        args.step_seconds.ceil() as u64,
    )
    .await?;
    report.pgbench_per_sec = report
        .pgbench
        .iter()
        .map(|run| run.per_sec)
        .fold(0.0, f64::max);
    report.chat_to_pgbench = report.chat_peak_per_sec / report.pgbench_per_sec.max(1.0);
    report.chat_to_echo = report.chat_peak_per_sec / report.echo_peak_per_sec.max(1.0);
    Ok(())
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|line| line.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024 / 1024);
    format!("{cpus} cores, {memory} GiB, PostgreSQL on the same box (fsync on)")
}
