//! This instance's heartbeat, and the end of dead instances' sessions.

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{LiveSessions, Timing};
use crate::{error::ErrorChain, store::Store};

/// Beats until `shutdown`. Dead instances are reaped only once this one has
/// reached the database for a whole time-to-live, so that after an outage
/// of the database nobody's session is taken for dead before its instance
/// had a chance to beat again.
pub async fn heartbeat(
    store: Store,
    instance: Uuid,
    live: LiveSessions,
    timing: Timing,
    shutdown: CancellationToken,
) {
    let mut healthy_since: Option<Instant> = None;
    let mut ticks = tokio::time::interval(timing.heartbeat_interval());
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match store
            .heartbeat(instance, &live.ids(), timing.heartbeat_interval())
            .await
        {
            Ok(cleared) => {
                healthy_since.get_or_insert_with(Instant::now);
                if cleared > 0 {
                    tracing::info!(cleared, "removed sessions whose close was not recorded");
                }
            }
            Err(err) => {
                healthy_since = None;
                tracing::warn!(error = %ErrorChain(&err), "heartbeat failed");
                continue;
            }
        }
        if healthy_since.is_some_and(|since| since.elapsed() >= timing.instance_ttl) {
            match store.reap_instances(timing.instance_ttl).await {
                Ok(0) => {}
                Ok(ended) => tracing::info!(ended, "ended the sessions of dead instances"),
                Err(err) => {
                    tracing::warn!(error = %ErrorChain(&err), "could not reap dead instances")
                }
            }
        }
    }
}
