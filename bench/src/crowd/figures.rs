//! The crowd's figures, made from what the system and the workers reported.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::wire::{Flowed, Joined};
use crate::cpu::CpuSplit;

/// Everything the crowd scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct Crowd {
    /// Sockets asked for: two members per room.
    pub sockets: usize,
    /// Sockets joined and still open when the flow ended.
    pub held: usize,
    pub edges: usize,
    /// Load-generator processes, one source address each.
    pub workers: usize,
    /// Seconds to make the rooms and users through the gRPC API.
    pub population_seconds: f64,
    /// From starting the workers to the last history frame.
    pub connect_seconds: f64,
    /// Joined sockets per second over `connect_seconds`.
    pub connects_per_sec: f64,
    /// CPU milliseconds per joined socket, by component.
    pub cpu_ms_per_connect: CpuSplit,
    /// Sockets that never joined, by reason.
    pub join_failures: BTreeMap<String, u64>,
    /// Joined sockets that closed before the end, by reason.
    pub dropped: BTreeMap<String, u64>,
    pub memory: Memory,
    /// Percent of one core each component used while the crowd sat idle.
    pub idle_cpu_percent: CpuSplit,
    pub flow: Flow,
}

/// Resident memory before the first socket and with the crowd held.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    pub core_rss_before: u64,
    pub edge_rss_before: u64,
    pub core_rss_after: u64,
    pub edge_rss_after: u64,
    /// Growth per joined socket.
    pub core_bytes_per_socket: f64,
    pub edge_bytes_per_socket: f64,
    pub bytes_per_socket: f64,
    /// Resident memory of all workers (the clients' side), for scale.
    pub generator_rss: u64,
}

impl Memory {
    /// From (core, edges) RSS before and after `sockets` joined.
    pub fn new(before: (u64, u64), after: (u64, u64), sockets: usize, generator_rss: u64) -> Self {
        let per_socket =
            |before: u64, after: u64| (after as f64 - before as f64) / sockets.max(1) as f64;
        let core = per_socket(before.0, after.0);
        let edge = per_socket(before.1, after.1);
        Self {
            core_rss_before: before.0,
            edge_rss_before: before.1,
            core_rss_after: after.0,
            edge_rss_after: after.1,
            core_bytes_per_socket: core,
            edge_bytes_per_socket: edge,
            bytes_per_socket: core + edge,
            generator_rss,
        }
    }
}

/// The messages that flowed while the crowd was held.
#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    pub rooms: usize,
    pub offered_per_sec: f64,
    pub seconds: f64,
    pub sent: u64,
    pub delivered: u64,
    /// Sent but not delivered by the end of the drain.
    pub lost: u64,
    /// `error` frames.
    pub errors: u64,
    pub delivered_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// CPU milliseconds per delivered message, by component.
    pub cpu_ms_per_message: CpuSplit,
}

/// The sum of all workers' join reports (`seconds`: the slowest).
pub fn joined(reports: &[Joined]) -> Joined {
    let mut total = Joined::default();
    for report in reports {
        total.joined += report.joined;
        total.failed += report.failed;
        total.seconds = total.seconds.max(report.seconds);
        add_counts(&mut total.failures, &report.failures);
    }
    total
}

/// The sum of all workers' flow reports, latencies merged.
pub fn flowed(reports: &[Flowed]) -> anyhow::Result<(Flowed, Histogram<u64>)> {
    let mut total = Flowed::default();
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for report in reports {
        total.sent += report.sent;
        total.delivered += report.delivered;
        total.errors += report.errors;
        add_counts(&mut total.dropped, &report.dropped);
        for &(value, count) in &report.latency_us {
            histogram.saturating_record_n(value, count);
        }
    }
    Ok((total, histogram))
}

impl Flow {
    /// The flow's figures from the workers' merged counts.
    pub fn new(rooms: usize, offered_per_sec: f64, seconds: f64, counts: &Flowed) -> Self {
        Self {
            rooms,
            offered_per_sec,
            seconds,
            sent: counts.sent,
            delivered: counts.delivered,
            lost: counts.sent.saturating_sub(counts.delivered),
            errors: counts.errors,
            delivered_per_sec: counts.delivered as f64 / seconds,
            p50_ms: 0.0,
            p99_ms: 0.0,
            max_ms: 0.0,
            cpu_ms_per_message: CpuSplit::default(),
        }
    }

    /// Sets the latency quantiles from a histogram in microseconds.
    pub fn with_latency(mut self, latency_us: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        self.p50_ms = ms(latency_us.value_at_quantile(0.50));
        self.p99_ms = ms(latency_us.value_at_quantile(0.99));
        self.max_ms = ms(latency_us.max());
        self
    }
}

fn add_counts(total: &mut BTreeMap<String, u64>, counts: &BTreeMap<String, u64>) {
    for (reason, count) in counts {
        *total.entry(reason.clone()).or_default() += count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_latencies_merge_into_one_histogram() {
        let report = |values: &[u64]| {
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            values.iter().for_each(|&v| h.record(v).unwrap());
            Flowed {
                sent: values.len() as u64,
                delivered: values.len() as u64,
                latency_us: h
                    .iter_recorded()
                    .map(|v| (v.value_iterated_to(), v.count_at_value()))
                    .collect(),
                ..Flowed::default()
            }
        };
        let (total, histogram) =
            flowed(&[report(&[1_000, 2_000]), report(&[3_000, 40_000])]).unwrap();
        assert_eq!(total.delivered, 4);
        assert_eq!(histogram.len(), 4);
        let flow = Flow::new(1, 1.0, 1.0, &total).with_latency(&histogram);
        assert_eq!(flow.lost, 0);
        assert!((39.9..40.1).contains(&flow.max_ms), "{}", flow.max_ms);
    }

    #[test]
    fn memory_per_socket_is_the_growth_over_the_sockets() {
        let memory = Memory::new((1_000, 2_000), (3_000, 10_000), 100, 0);
        assert_eq!(memory.core_bytes_per_socket, 20.0);
        assert_eq!(memory.edge_bytes_per_socket, 80.0);
        assert_eq!(memory.bytes_per_socket, 100.0);
    }
}
