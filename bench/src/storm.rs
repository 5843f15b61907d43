//! Connect storm: sockets connecting as fast as they can to a room holding
//! many messages; each connect counts once its history frame arrived.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{population::Room, system::System, ws};

#[derive(Debug, Clone, Serialize)]
pub struct Storm {
    pub room_messages: u64,
    pub concurrency: usize,
    pub connects: u64,
    pub connects_per_sec: f64,
    pub failures: u64,
}

/// Fills `room` with `messages` read messages straight in the database.
pub async fn fill(system: &System, room: &Room, messages: u64) -> anyhow::Result<()> {
    let (db, connection) =
        tokio_postgres::connect(&system.database_url(), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    db.execute(
        "INSERT INTO messages (room_id, sender_id, seq, text, status)
         SELECT $1::bigint, CASE WHEN g % 2 = 0 THEN $2::bigint ELSE $3::bigint END, g, 'message ' || g, 'read'
         FROM generate_series(1, $4::bigint) g",
        &[&room.id, &room.users[0], &room.users[1], &(messages as i64)],
    )
    .await?;
    // What autovacuum does shortly after such a load; without it the
    // planner has no idea the room is large.
    db.batch_execute("ANALYZE messages").await?;
    Ok(())
}

/// `concurrency` loops connect (and disconnect) for `seconds`.
pub async fn run(
    system: &System,
    room: &Room,
    messages: u64,
    concurrency: usize,
    seconds: f64,
) -> anyhow::Result<Storm> {
    let edges: Vec<_> = system.edges.iter().map(|edge| edge.addr).collect();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let loops: Vec<_> = (0..concurrency)
        .map(|i| {
            let (edge, room, token) = (edges[i % edges.len()], room.id, room.tokens[i % 2].clone());
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u64, 0u64);
                while Instant::now() < deadline {
                    match ws::join(edge, room, &token).await {
                        Ok(socket) => {
                            ok += 1;
                            drop(socket);
                        }
                        Err(_) => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let (mut connects, mut failures) = (0, 0);
    for task in loops {
        let (ok, failed) = task.await?;
        connects += ok;
        failures += failed;
    }
    Ok(Storm {
        room_messages: messages,
        concurrency,
        connects,
        connects_per_sec: connects as f64 / seconds,
        failures,
    })
}
