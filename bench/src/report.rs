//! Everything one run measured: printed as a table, written as JSON.

use serde::Serialize;

use crate::{crowd::Crowd, fanout::Fanout, idle::Idle, steady::Step, storm::Storm};

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub machine: String,
    pub steady: Vec<Step>,
    pub echo: Vec<Step>,
    /// The highest offered rate whose p99 stayed under 50 ms with every
    /// message delivered.
    pub chat_peak_per_sec: f64,
    pub echo_peak_per_sec: f64,
    pub half_peak: Option<Step>,
    /// pgbench at each number of clients.
    pub pgbench: Vec<crate::ceiling::PgbenchRun>,
    /// The best of them: the ceiling.
    pub pgbench_per_sec: f64,
    pub chat_to_pgbench: f64,
    pub chat_to_echo: f64,
    pub idle: Option<Idle>,
    pub storm: Option<Storm>,
    pub fanout: Option<Fanout>,
    pub room: Option<crate::room::CrowdedRoom>,
    pub crowd: Option<Crowd>,
    pub services: Option<crate::services::Services>,
    pub conversations: Option<crate::conversations::Conversations>,
    pub inbox: Option<crate::inbox::Inbox>,
    pub presence: Option<crate::presence_fanout::PresenceFanout>,
}

/// The highest rate that kept p99 under 50 ms and delivered ≥ 99 % on time.
pub fn peak(steps: &[Step]) -> f64 {
    steps
        .iter()
        .filter(|s| s.p99_ms < 50.0 && s.errors == 0 && s.delivered as f64 >= 0.99 * s.sent as f64)
        .map(|s| s.offered_per_sec)
        .fold(0.0, f64::max)
}

impl Report {
    pub fn print(&self) {
        println!("machine: {}", self.machine);
        if !self.steady.is_empty() {
            self.print_steady();
        }
        if let Some(idle) = &self.idle {
            println!(
                "idle: {} sockets, {:.0} bytes RSS per socket (edge + core)",
                idle.sockets, idle.bytes_per_socket
            );
        }
        if let Some(storm) = &self.storm {
            println!(
                "connect storm: {:.0} connects/s with history ({} messages in the room, {} loops, {} failures)",
                storm.connects_per_sec, storm.room_messages, storm.concurrency, storm.failures
            );
        }
        if let Some(f) = &self.fanout {
            println!(
                "gRPC fan-out: {} streams, {:.0} deliveries/s, p50 {:.2} ms, p99 {:.2} ms",
                f.streams, f.deliveries_per_sec, f.p50_ms, f.p99_ms
            );
        }
        if let Some(room) = &self.room {
            print_room(room);
        }
        if let Some(crowd) = &self.crowd {
            print_crowd(crowd);
        }
        if let Some(conversations) = &self.conversations {
            print_conversations(conversations);
        }
        if let Some(services) = &self.services {
            print_services(services);
        }
        if let Some(inbox) = &self.inbox {
            print_inbox(inbox);
        }
        if let Some(presence) = &self.presence {
            print_presence(presence);
        }
    }

    fn print_steady(&self) {
        println!(
            "\n{:>10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}  (chat: send → other member's chat_message)",
            "offered/s", "delivered/s", "p50 ms", "p90 ms", "p99 ms", "p99.9", "max ms", "errors"
        );
        for step in &self.steady {
            print_step(step);
        }
        println!("\nWebSocket echo ceiling (same stack, one frame in, one out):");
        for step in &self.echo {
            print_step(step);
        }
        println!(
            "\nchat peak (p99 < 50 ms): {:.0}/s   echo peak: {:.0}/s   pgbench (same SQL): {:.0}/s",
            self.chat_peak_per_sec, self.echo_peak_per_sec, self.pgbench_per_sec
        );
        let runs: Vec<String> = self
            .pgbench
            .iter()
            .map(|run| format!("{} clients {:.0}/s", run.clients, run.per_sec))
            .collect();
        println!("pgbench by clients: {}", runs.join(", "));
        println!(
            "chat / pgbench ceiling: {:.0}%   chat / echo ceiling: {:.0}%",
            self.chat_to_pgbench * 100.0,
            self.chat_to_echo * 100.0
        );
        if let Some(step) = &self.half_peak {
            println!(
                "at half the peak ({:.0}/s): p50 {:.2} ms, p99 {:.2} ms",
                step.offered_per_sec, step.p50_ms, step.p99_ms
            );
        }
    }
}

fn print_room(r: &crate::room::CrowdedRoom) {
    println!(
        "crowded room: {} sockets on one edge, {} messages: {:.2} link events per message ({} in all), \
         {} frames delivered, {} chat_message frames missed",
        r.sockets, r.messages, r.link_events_per_message, r.link_events, r.frames, r.missed
    );
    let cpu = &r.cpu_us_per_frame;
    println!(
        "  send → chat_message p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; slowest socket's p99 {:.2} ms",
        r.p50_ms, r.p99_ms, r.max_ms, r.slowest_socket_p99_ms
    );
    println!(
        "  CPU µs per delivered frame: core {:.2} / edge {:.2} / PostgreSQL {:.2} / load generator {:.2}",
        cpu.core, cpu.edge, cpu.postgres, cpu.load_generator
    );
}

fn print_crowd(c: &Crowd) {
    println!(
        "crowd: {} of {} sockets held ({} edges, {} generator processes), joined at {:.0}/s; join failures {:?}, dropped {:?}",
        c.held, c.sockets, c.edges, c.workers, c.connects_per_sec, c.join_failures, c.dropped
    );
    let cpu = &c.cpu_ms_per_connect;
    println!(
        "  CPU ms per connect: core {:.2} / edges {:.2} / PostgreSQL {:.2} / load generator {:.2}",
        cpu.core, cpu.edge, cpu.postgres, cpu.load_generator
    );
    let m = &c.memory;
    println!(
        "  RSS per socket: core {:.0} B + edges {:.0} B = {:.0} B   (idle CPU: core {:.0}%, edges {:.0}%, PostgreSQL {:.0}% of a core)",
        m.core_bytes_per_socket,
        m.edge_bytes_per_socket,
        m.bytes_per_socket,
        c.idle_cpu_percent.core,
        c.idle_cpu_percent.edge,
        c.idle_cpu_percent.postgres
    );
    let f = &c.flow;
    println!(
        "  flowing: {:.0}/s offered over {} rooms for {} s, {:.0}/s delivered, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, lost {}, errors {}",
        f.offered_per_sec,
        f.rooms,
        f.seconds,
        f.delivered_per_sec,
        f.p50_ms,
        f.p99_ms,
        f.max_ms,
        f.lost,
        f.errors
    );
    let cpu = &f.cpu_ms_per_message;
    println!(
        "  CPU ms per message: core {:.2} / edges {:.2} / PostgreSQL {:.2} / load generator {:.2}",
        cpu.core, cpu.edge, cpu.postgres, cpu.load_generator
    );
}

fn print_services(s: &crate::services::Services) {
    println!(
        "event feed at {:.0}/s (+{:.0}/s to offline users): lag commit → consumer p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} messages",
        s.rate_per_sec,
        s.offline_per_sec,
        s.feed.p50_ms,
        s.feed.p99_ms,
        s.feed.max_ms,
        s.feed.messages
    );
    println!(
        "steady chat without webhook: p50 {:.2} ms, p99 {:.2} ms, {}/{} delivered; with a webhook receiver that never answers: p50 {:.2} ms, p99 {:.2} ms, {}/{} delivered ({} deliveries pending)",
        s.without_webhook.p50_ms,
        s.without_webhook.p99_ms,
        s.without_webhook.delivered,
        s.without_webhook.sent,
        s.silent_webhook.p50_ms,
        s.silent_webhook.p99_ms,
        s.silent_webhook.delivered,
        s.silent_webhook.sent,
        s.webhooks_pending_after
    );
    let p = &s.pgbench;
    println!(
        "pgbench send path ({} clients): {:.0}/s without, {:.0}/s with the feed's bookkeeping ({:+.1}%), \
         {:.0}/s with a webhook queued per message too ({:+.1}%)",
        p.clients,
        p.without_per_sec,
        p.feed_only_per_sec,
        p.feed_only_change * 100.0,
        p.with_per_sec,
        p.change * 100.0
    );
}

fn print_step(s: &Step) {
    println!(
        "{:>10.0} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>6}",
        s.offered_per_sec,
        s.delivered_per_sec,
        s.p50_ms,
        s.p90_ms,
        s.p99_ms,
        s.p999_ms,
        s.max_ms,
        s.errors
    );
}

fn print_conversations(c: &crate::conversations::Conversations) {
    println!(
        "\nroom list, first page, {} calls each: {} rooms p50 {:.2} ms p99 {:.2} ms; \
         1 room p50 {:.2} ms p99 {:.2} ms; p99 ratio {:.2} (target ≤ 2)",
        c.calls, c.rooms, c.many_p50_ms, c.many_p99_ms, c.one_p50_ms, c.one_p99_ms, c.p99_ratio
    );
    println!(
        "room list, first page of a user with 50 rooms (as full as the {}-room user's): \
         p50 {:.2} ms p99 {:.2} ms; the {}-room user's p99 is {:.2}× that",
        c.rooms, c.fifty_p50_ms, c.fifty_p99_ms, c.rooms, c.p99_ratio_to_full_page
    );
    if let (Some(many), Some(one), Some(fifty)) = (c.many_db_ms, c.one_db_ms, c.fifty_db_ms) {
        println!(
            "room list, the page query in PostgreSQL (mean): {} rooms {many:.3} ms, \
             1 room {one:.3} ms, 50 rooms {fifty:.3} ms",
            c.rooms
        );
    }
    println!(
        "send path pgbench ({} clients, every recipient offline): {:.0}/s before the \
         room list's bookkeeping, {:.0}/s with it ({:+.1}%, target ≥ −20%)",
        c.pgbench_clients,
        c.send_before_per_sec,
        c.send_after_per_sec,
        c.send_change * 100.0
    );
}

fn print_inbox(i: &crate::inbox::Inbox) {
    println!(
        "\nuser sockets: {} idle ({} users in {} rooms each), {:.0} bytes RSS per socket \
         (edge + core, target ≤ 8192)",
        i.sockets, i.users, i.rooms_per_user, i.bytes_per_socket
    );
    println!(
        "user socket at {:.0} msg/s into its rooms: p50 {:.2} ms p99 {:.2} ms max {:.2} ms \
         (target p99 ≤ 10); {} sent, {} missed, {} rooms out of order",
        i.rate_per_sec, i.p50_ms, i.p99_ms, i.max_ms, i.messages, i.missed, i.rooms_out_of_order
    );
    println!(
        "user socket: {} room events received, {} of them on the fast lane (the rest through \
         the event feed)",
        i.events_received, i.fast_lane_events
    );
}

fn print_presence(p: &crate::presence_fanout::PresenceFanout) {
    println!(
        "\npresence fan-out: {} peers × {} flips: {}/{} frames, to the last peer p50 {:.1} ms \
         max {:.1} ms; sends p99 {:.2} ms before, {:.2} ms during (max {:.2})",
        p.peers,
        p.flips,
        p.frames,
        p.expected_frames,
        p.fan_out_p50_ms,
        p.fan_out_max_ms,
        p.send_p99_before_ms,
        p.send_p99_during_ms,
        p.send_max_during_ms
    );
}
