//! What crosses the pipe between the crowd scenario and its workers: a
//! [`Plan`] as the first line of a worker's stdin, then one command per line
//! (`flow`; end of input means stop), and one [`WorkerReport`] per line on
//! its stdout.

use std::{collections::BTreeMap, net::SocketAddr};

use serde::{Deserialize, Serialize};

/// The command that starts a worker's flow window.
pub const FLOW: &str = "flow";

/// Everything one worker holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// Sockets joined at once.
    pub concurrency: usize,
    pub sockets: Vec<SocketPlan>,
    pub flow: FlowPlan,
}

/// One socket: a member of a room, through one edge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SocketPlan {
    pub edge: SocketAddr,
    pub room: i64,
    pub token: String,
    pub user: i64,
    /// The member sends during the flow window (its room's other member
    /// is in the same worker and measures the latency).
    pub sends: bool,
}

/// The messages that flow while the crowd is held.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct FlowPlan {
    /// Messages per second of each sending member.
    pub per_member_rate: f64,
    pub seconds: f64,
    /// Seconds to wait for the last messages after the window.
    pub drain_seconds: f64,
}

/// A line of a worker's stdout.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerReport {
    /// Every socket of the plan was tried once.
    Joined(Joined),
    /// The flow window and its drain are over.
    Flowed(Flowed),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Joined {
    /// Sockets whose history frame arrived.
    pub joined: usize,
    pub failed: usize,
    /// Why joins failed, by reason (`close 1013`, `timeout`, …).
    pub failures: BTreeMap<String, u64>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Flowed {
    pub sent: u64,
    /// `chat_message` frames of the other member that arrived.
    pub delivered: u64,
    /// `error` frames.
    pub errors: u64,
    /// Latencies in microseconds: (value, count) of every recorded bucket.
    pub latency_us: Vec<(u64, u64)>,
    /// Joined sockets that have closed since, by reason.
    pub dropped: BTreeMap<String, u64>,
}
