//! Hears other instances' announcements and hints local subscribers, and
//! hears every instance's presence changes and `typing`s (this one's too:
//! the transactions announce them) for the [`LocalSignals`].
//!
//! The subscribers are reached through [`LocalRooms`], which this module
//! defines and the fan-out's hub implements, so that the dependency runs
//! from `fanout` to `cluster` only. The hub passes a hint on only when it is
//! news to the room's channel, so the poll of rooms where nothing happened
//! wakes no subscriber.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    Timing, notifier,
    signals::{self, LocalSignals},
};
use crate::{
    domain::RoomId,
    error::{Error, ErrorChain},
    ops::Metrics,
    store::{EVENTS_CHANNEL, PRESENCE_CHANNEL, Store, TYPING_CHANNEL},
};

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// This instance's subscribers, as the listener sees them: the rooms they
/// are in, and a way to tell them how far a room's log reaches.
pub trait LocalRooms: Send + Sync + 'static {
    /// The rooms with at least one local subscriber.
    fn rooms(&self) -> Vec<RoomId>;

    /// Tells the local subscribers of each room that its log reaches the
    /// paired sequence number, skipping what they were told already.
    /// Returns how many rooms were told.
    fn announce(&self, heads: &[(RoomId, i64)]) -> usize;
}

/// Where what the listener hears goes, and what it needs.
pub struct Listener<R, S> {
    pub rooms: R,
    pub signals: S,
    pub metrics: Metrics,
    pub store: Store,
    pub instance: Uuid,
    pub timing: Timing,
}

/// Listens until `shutdown`, reconnecting with backoff whenever the
/// connection is lost; each (re)connect catches up from the database (and
/// has the signals' subscribers read presence again).
pub async fn listen<R: LocalRooms, S: LocalSignals>(
    listener: Listener<R, S>,
    shutdown: CancellationToken,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let outcome = listener.listen_once(&shutdown).await;
        if shutdown.is_cancelled() {
            return;
        }
        match outcome {
            Ok(()) => backoff = MIN_BACKOFF,
            Err(err) => {
                tracing::warn!(error = %ErrorChain(&err), "LISTEN connection lost; reconnecting")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A notification: its channel and payload.
type Note = (String, String);

impl<R: LocalRooms, S: LocalSignals> Listener<R, S> {
    async fn listen_once(&self, shutdown: &CancellationToken) -> Result<(), Error> {
        let mut config = self.store.connection_config().clone();
        config.application_name("chat-listener");
        let (client, mut connection) = config.connect(NoTls).await?;
        let (notes, mut received) = mpsc::channel::<Note>(1024);
        let pump = tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                if let AsyncMessage::Notification(note) = message? {
                    let note = (note.channel().to_owned(), note.payload().to_owned());
                    if notes.send(note).await.is_err() {
                        break;
                    }
                }
            }
            Ok::<(), tokio_postgres::Error>(())
        });
        client
            .batch_execute(&format!(
                "LISTEN {EVENTS_CHANNEL}; LISTEN {PRESENCE_CHANNEL}; LISTEN {TYPING_CHANNEL}"
            ))
            .await?;
        tracing::info!("listening for other instances' events");
        // Whatever was announced while no connection listened is lost.
        self.signals.resync();
        let mut poll = tokio::time::interval(self.timing.poll_interval);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                note = received.recv() => match note {
                    Some((channel, payload)) => self.heard(&channel, &payload),
                    None => break,
                },
                // The first tick is immediate: it catches up after (re)connecting.
                _ = poll.tick() => catch_up(&self.rooms, &self.store).await,
            }
        }
        drop(client);
        match pump.await {
            Ok(Err(err)) => Err(err.into()),
            _ => Err(Error::Unavailable("the LISTEN connection closed".into())),
        }
    }

    /// One notification, by its channel.
    fn heard(&self, channel: &str, payload: &str) {
        match channel {
            PRESENCE_CHANNEL => self.signals.presence(&signals::parse_presence(payload)),
            TYPING_CHANNEL => match signals::parse_typing(payload) {
                Some(typed) => self.signals.typing(typed.room, typed.user, typed.peer),
                None => tracing::warn!("ignoring a malformed typing announcement"),
            },
            _ => announce(&self.rooms, &self.metrics, self.instance, payload),
        }
    }
}

/// Passes another instance's announcement to local subscribers.
fn announce(local: &impl LocalRooms, metrics: &Metrics, instance: Uuid, payload: &str) {
    let Some((from, heads)) = notifier::parse(payload) else {
        tracing::warn!("ignoring a malformed event announcement");
        return;
    };
    if from == instance {
        return;
    }
    if let Some(lag) = notifier::sent_at(payload).and_then(|sent| sent.elapsed().ok()) {
        metrics.notify_received(lag);
    }
    local.announce(&heads);
}

/// Announces the latest sequence number of every room with local
/// subscribers; rooms whose head did not move are skipped.
async fn catch_up(local: &impl LocalRooms, store: &Store) {
    let rooms = local.rooms();
    if rooms.is_empty() {
        return;
    }
    match store.room_heads(&rooms).await {
        Ok(heads) => {
            let moved = local.announce(&heads);
            if moved > 0 {
                tracing::debug!(moved, "the poll found rooms with new events");
            }
        }
        Err(err) => tracing::warn!(error = %err, "could not poll rooms for missed events"),
    }
}
