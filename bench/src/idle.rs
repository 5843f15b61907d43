//! Idle connections: N sockets held open; memory per connection of the edge
//! and the core together.

use serde::Serialize;

use crate::{population::Room, system::System, ws};

#[derive(Debug, Clone, Serialize)]
pub struct Idle {
    pub sockets: usize,
    pub core_rss_before: u64,
    pub edge_rss_before: u64,
    pub core_rss_after: u64,
    pub edge_rss_after: u64,
    pub bytes_per_socket: f64,
}

/// Opens two sockets per room (one per member) and measures the growth.
pub async fn run(system: &System, rooms: &[Room]) -> anyhow::Result<Idle> {
    let (core_rss_before, edge_rss_before) = system.rss();
    let edges: Vec<_> = system.edges.iter().map(|edge| edge.addr).collect();
    let mut sockets = Vec::with_capacity(rooms.len() * 2);
    for (r, room) in rooms.iter().enumerate() {
        for member in 0..2 {
            let edge = edges[(r * 2 + member) % edges.len()];
            sockets.push(ws::join(edge, room.id, &room.tokens[member]).await?);
        }
    }
    // Let allocators settle after the connect burst.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (core_rss_after, edge_rss_after) = system.rss();
    let grown = (core_rss_after + edge_rss_after).saturating_sub(core_rss_before + edge_rss_before);
    let idle = Idle {
        sockets: sockets.len(),
        core_rss_before,
        edge_rss_before,
        core_rss_after,
        edge_rss_after,
        bytes_per_socket: grown as f64 / sockets.len() as f64,
    };
    drop(sockets);
    Ok(idle)
}
