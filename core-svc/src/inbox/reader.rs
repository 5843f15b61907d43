//! The one feed reader of this process: started by the first user stream
//! (at the end of the feed), it follows every room and hands each item to
//! the registry, and stops once no stream is left. Its failure ends every
//! stream; the next stream starts a new one.

use tokio_util::sync::CancellationToken;

use super::{
    Inbox,
    registry::{Registration, Registry},
};
use crate::{
    domain::UserId,
    error::{Error, ErrorChain},
    feed::{Followed, Start},
    store::Partition,
};

impl Inbox {
    /// Registers a stream of `user`, starting the reader if none runs.
    pub(super) async fn register(&self, user: UserId) -> Result<Registration, Error> {
        if let Some(registration) = self.registry.join(user) {
            return Ok(registration);
        }
        let _starting = self.starting.lock().await;
        if let Some(registration) = self.registry.join(user) {
            return Ok(registration);
        }
        let from = Box::pin(self.feed.store.feed_end()).await?;
        let items = Box::pin(self.feed.follow(Start::After(from), Partition::ALL)).await?;
        let registration = self.registry.start_reading(user, from);
        tracing::debug!("the inbox reader starts");
        self.feed.tasks.spawn(read(
            self.registry.clone(),
            items,
            self.feed.shutdown.clone(),
        ));
        Ok(registration)
    }
}

/// Dispatches the feed until no stream is left, the service stops or the
/// feed fails.
async fn read(registry: Registry, mut items: Followed, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = registry.emptied.notified() => if registry.stop_if_idle() {
                tracing::debug!("the inbox reader stops: no stream is left");
                return;
            },
            item = items.recv() => match item {
                Some(Ok(item)) => registry.dispatch(item),
                Some(Err(Error::ShuttingDown)) => return,
                Some(Err(err)) => {
                    tracing::warn!(error = %ErrorChain(&err), "the inbox reader failed; its streams end");
                    registry.fail_all();
                    return;
                }
                None => {
                    registry.fail_all();
                    return;
                }
            },
        }
    }
}
