//! Who holds which socket through which edge: room `r` goes to worker
//! `r % workers`, both members in the same worker, so the members of a
//! flowing room share one clock; its two members connect through two
//! different edges (when there are two), so messages cross edges; each
//! worker spreads its sockets evenly over all edges. The first
//! `flow_rooms` rooms send during the flow window.

use std::net::SocketAddr;

use super::wire::{FlowPlan, Plan, SocketPlan};
use crate::population::Room;

/// How the sockets are spread.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub workers: usize,
    /// Rooms whose members send during the flow window.
    pub flow_rooms: usize,
    /// Sockets each worker joins at once.
    pub concurrency: usize,
    pub flow: FlowPlan,
}

impl Layout {
    /// One plan per worker.
    pub fn plans(&self, rooms: &[Room], edges: &[SocketAddr]) -> Vec<Plan> {
        let mut plans: Vec<Plan> = (0..self.workers)
            .map(|_| Plan {
                concurrency: self.concurrency,
                sockets: Vec::new(),
                flow: self.flow,
            })
            .collect();
        for (r, room) in rooms.iter().enumerate() {
            let (worker, nth) = (r % self.workers, r / self.workers);
            for member in 0..2 {
                plans[worker].sockets.push(SocketPlan {
                    edge: edges[(nth + member) % edges.len()],
                    room: room.id,
                    token: room.tokens[member].clone(),
                    user: room.users[member],
                    sends: r < self.flow_rooms,
                });
            }
        }
        plans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rooms(count: usize) -> Vec<Room> {
        (0..count as i64)
            .map(|r| Room {
                id: r + 1,
                tokens: [format!("t{r}a"), format!("t{r}b")],
                users: [2 * r + 1, 2 * r + 2],
            })
            .collect()
    }

    fn layout(workers: usize, flow_rooms: usize) -> Layout {
        Layout {
            workers,
            flow_rooms,
            concurrency: 1,
            flow: FlowPlan {
                per_member_rate: 1.0,
                seconds: 1.0,
                drain_seconds: 1.0,
            },
        }
    }

    fn edges(count: u16) -> Vec<SocketAddr> {
        (0..count)
            .map(|e| SocketAddr::from(([127, 0, 0, 1], 9000 + e)))
            .collect()
    }

    #[test]
    fn both_members_of_a_room_are_in_one_worker_on_two_edges() {
        let plans = layout(3, 0).plans(&rooms(10), &edges(2));
        for plan in &plans {
            for pair in plan.sockets.chunks(2) {
                assert_eq!(pair[0].room, pair[1].room);
                assert_ne!(pair[0].edge, pair[1].edge);
            }
        }
        let total: usize = plans.iter().map(|plan| plan.sockets.len()).sum();
        assert_eq!(total, 20);
    }

    #[test]
    fn workers_and_edges_get_even_shares() {
        let plans = layout(4, 0).plans(&rooms(1008), &edges(4));
        for plan in &plans {
            assert_eq!(plan.sockets.len(), 504);
            for edge in edges(4) {
                let on_edge = plan.sockets.iter().filter(|s| s.edge == edge).count();
                assert_eq!(on_edge, 126);
            }
        }
    }

    #[test]
    fn flow_rooms_are_spread_over_the_workers() {
        let plans = layout(4, 8).plans(&rooms(100), &edges(4));
        for plan in &plans {
            let senders = plan.sockets.iter().filter(|s| s.sends).count();
            assert_eq!(senders, 4, "two rooms of two members each");
        }
    }
}
