//! What the hub still has to send up the link while its queue is full: the
//! ids of sockets that closed (a set, sent many to an item) and the ids of
//! sockets waiting to open (sent in turn). A burst of closes or openings
//! thus never overflows the link's queue, and never costs a re-link.
//!
//! Both are bounded by the sockets themselves: a socket closes once, and an
//! opening socket waits for its answer within the core deadline (then it
//! closes, and its opening is skipped). At 8 bytes an id, a burst of
//! 100,000 closes holds 800 KB until the core takes it.

use std::collections::VecDeque;

use crate::core_client::link::CLOSES_PER_ITEM;
use crate::core_client::{LinkSender, LinkUp, Queued, SocketOpening};

/// The items waiting for room on the link's queue.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    closes: Vec<u64>,
    opens: VecDeque<u64>,
}

impl Outbox {
    /// A fresh outbox for a new link: the closes to repeat, the sockets to open.
    pub fn new(closes: Vec<u64>, opens: impl IntoIterator<Item = u64>) -> Self {
        Self {
            closes,
            opens: opens.into_iter().collect(),
        }
    }

    /// Socket `socket_id` closed: the core must hear of it.
    pub fn close(&mut self, socket_id: u64) {
        self.closes.push(socket_id);
    }

    /// Socket `socket_id` asks to open.
    pub fn open(&mut self, socket_id: u64) {
        self.opens.push_back(socket_id);
    }

    /// `true` while something waits to go up.
    pub fn waiting(&self) -> bool {
        !self.closes.is_empty() || !self.opens.is_empty()
    }

    /// How many closes wait.
    pub fn closes(&self) -> usize {
        self.closes.len()
    }

    /// Queues on `up` all it takes: the closes first, many to an item, then
    /// the openings in turn, each as `opening` finds it (`None`: it closed
    /// or was answered meanwhile, and is skipped). Stops at a full queue;
    /// answers what became of the last offer.
    pub fn flush(
        &mut self,
        up: &LinkSender,
        mut opening: impl FnMut(u64) -> Option<SocketOpening>,
    ) -> Queued {
        while !self.closes.is_empty() {
            let start = self.closes.len().saturating_sub(CLOSES_PER_ITEM);
            let batch = self.closes[start..].to_vec();
            match up.send(LinkUp::Close(batch)) {
                Queued::Yes => self.closes.truncate(start),
                other => return other,
            }
        }
        while let Some(socket_id) = self.opens.pop_front() {
            let Some(socket) = opening(socket_id) else {
                continue;
            };
            match up.send(LinkUp::Open(socket)) {
                Queued::Yes => {}
                other => {
                    self.opens.push_front(socket_id);
                    return other;
                }
            }
        }
        Queued::Yes
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
