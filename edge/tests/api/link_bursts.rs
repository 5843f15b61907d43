//! Bursts on the edge's link to its core: hundreds of sockets opening at
//! once, then closing at once, on a link whose queue holds only a few items.
//! The edge holds what the queue cannot take yet (openings wait their turn,
//! closes go up many to an item), so the link never counts as broken: it is
//! opened once, and every session ends.

use edge::config::Config as EdgeConfig;
use futures::future::join_all;

use crate::helpers::{TestApp, edge_config, within};

/// Sockets of each of the two users.
const PER_USER: usize = 150;
/// The link's queue: far fewer items than the burst.
const UP_QUEUE: usize = 4;

fn small_queue(core_url: String) -> EdgeConfig {
    EdgeConfig {
        link_up_queue: UP_QUEUE,
        ws_max_per_user: PER_USER,
        ..edge_config(core_url)
    }
}

/// Open sessions in the database (a session's row goes when it ends).
async fn sessions(app: &TestApp) -> i64 {
    let sql = app.sql().await;
    let row = sql
        .query_one("SELECT count(*) FROM room_sessions", &[])
        .await
        .expect("a count of sessions");
    row.get(0)
}

#[tokio::test]
async fn a_burst_of_openings_then_of_closes_never_relinks_and_every_session_ends() {
    let app = TestApp::spawn_with(small_queue).await;
    let (alice, bob, room) = app.pair().await;
    assert_eq!(app.links_opened().await, 1);

    let joins = (0..2 * PER_USER).map(|i| {
        let user = if i % 2 == 0 { &alice } else { &bob };
        app.join(user, room)
    });
    let sockets = within(join_all(joins)).await;
    assert_eq!(sockets.len(), 2 * PER_USER);
    assert_eq!(sessions(&app).await, 2 * PER_USER as i64);
    app.wait_for_presence(&alice, true).await;

    drop(sockets);
    within(async {
        while sessions(&app).await > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    app.wait_for_presence(&alice, false).await;
    app.wait_for_presence(&bob, false).await;
    assert_eq!(app.links_opened().await, 1, "the bursts cost a re-link");
}
