//! Wakes feed streams when any instance announces committed events: a
//! connection of its own `LISTEN`s on the instances' channel and bumps a
//! counter that every waiting stream watches. A lost connection only slows
//! streams down to their poll until it is back.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

use crate::{
    error::{Error, ErrorChain},
    store::{EVENTS_CHANNEL, Store},
};

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The wake-up counter; cheap to clone.
#[derive(Clone)]
pub struct Wake(watch::Sender<u64>);

impl Default for Wake {
    fn default() -> Self {
        Self(watch::Sender::new(0))
    }
}

impl Wake {
    /// Wakes every waiting stream.
    pub fn wake(&self) {
        self.0.send_modify(|count| *count = count.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// Listens until `shutdown`, reconnecting with backoff.
pub async fn wake_on_notify(wake: Wake, store: Store, shutdown: CancellationToken) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match listen_once(&wake, &store, &shutdown).await {
            Ok(()) => backoff = MIN_BACKOFF,
            Err(err) if !shutdown.is_cancelled() => {
                tracing::warn!(error = %ErrorChain(&err), "feed LISTEN connection lost");
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn listen_once(
    wake: &Wake,
    store: &Store,
    shutdown: &CancellationToken,
) -> Result<(), Error> {
    let mut config = store.connection_config().clone();
    config.application_name("chat-feed-listener");
    let (client, mut connection) = config.connect(NoTls).await?;
    let notified = wake.clone();
    let mut pump = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            if let AsyncMessage::Notification(_) = message? {
                notified.wake();
            }
        }
        Ok::<(), tokio_postgres::Error>(())
    });
    client
        .batch_execute(&format!("LISTEN {EVENTS_CHANNEL}"))
        .await?;
    // Anything committed while no connection listened.
    wake.wake();
    let ended = tokio::select! {
        _ = shutdown.cancelled() => {
            pump.abort();
            return Ok(());
        }
        ended = &mut pump => ended,
    };
    drop(client);
    match ended {
        Ok(Err(err)) => Err(err.into()),
        _ => Err(Error::Unavailable(
            "the feed LISTEN connection closed".into(),
        )),
    }
}
