//! PostgreSQL storage: every read and write of chat state, and nothing else.
//!
//! Races are settled by the database: named unique constraints,
//! `INSERT … ON CONFLICT`, and the per-room counter row (`rooms.last_seq`),
//! locked by every change of a room so that its events are numbered without
//! gaps in the order they commit.
//!
//! Who may do what in a room is not decided here: the store reads the rows
//! and asks [`crate::access`]. The one rule that runs inside PostgreSQL is
//! the send, `chat_send_message` (migrations/0005, its bookkeeping 0009),
//! whose answer carries the events it appended; the store only turns its
//! rows into values. What the room list shows (unread counts, activity,
//! last message) is kept by the send and by a trigger on every change of a
//! message (migrations/0009), never counted per request.
//! Columns are read by name (see `rows`).

mod conversations;
mod events;
mod feed;
mod inbox;
mod instances;
mod lane;
mod links;
mod messages;
mod migrate;
mod presence;
mod rooms;
mod rows;
mod sessions;
mod users;
mod webhooks;

use std::{str::FromStr, time::Duration};

use deadpool_postgres::{
    Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, Timeouts,
};
use tokio_postgres::{NoTls, error::SqlState};

pub use conversations::{Conversation, ConversationPage, ListCursor};
pub use feed::{FeedFilter, FeedItem, FeedKind, FeedPage, FeedPosition, Partition};
pub use inbox::{InboxSnapshot, MAX_CURSOR_LAG};
pub use instances::EVENTS_CHANNEL;
pub use lane::LaneRead;
pub use links::{EdgeSocket, Registered};
pub use messages::{NewMessage, Sent};
pub use presence::{PRESENCE_CHANNEL, TYPING_CHANNEL};
pub use sessions::{Opened, SessionId, Start};
pub use webhooks::{Claimed, WebhookStats};

use crate::{deadline::Deadline, error::Error};

/// How long a request waits for a pooled connection before failing UNAVAILABLE.
const POOL_WAIT: Duration = Duration::from_secs(5);

/// The chat's storage; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// Settings for connections outside the pool (the LISTEN connection).
    config: std::sync::Arc<tokio_postgres::Config>,
}

impl Store {
    /// A pool of at most `max_connections` to the database at `url`;
    /// connections are opened lazily.
    pub fn connect(url: &str, max_connections: usize) -> Result<Self, Error> {
        let config =
            tokio_postgres::Config::from_str(url).map_err(|err| Error::Internal(err.into()))?;
        Self::from_config(config, max_connections)
    }

    /// A pool of at most `max_connections` with these connection settings.
    fn from_config(config: tokio_postgres::Config, max_connections: usize) -> Result<Self, Error> {
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .recycle_timeout(Some(POOL_WAIT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|err| Error::Internal(err.into()))?;
        Ok(Self {
            pool,
            config: std::sync::Arc::new(config),
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, Error> {
        Ok(self.pool.get().await?)
    }

    /// A pooled connection, waiting no longer than the deadline leaves.
    async fn client_by(&self, deadline: &Deadline) -> Result<deadpool_postgres::Object, Error> {
        let wait = Some(deadline.remaining()?.min(POOL_WAIT));
        let timeouts = Timeouts {
            wait,
            create: wait,
            recycle: wait,
        };
        match self.pool.timeout_get(&timeouts).await {
            Ok(client) => Ok(client),
            Err(PoolError::Timeout(_)) if deadline.check().is_err() => Err(Error::DeadlineExceeded),
            Err(err) => Err(err.into()),
        }
    }

    /// Succeeds when PostgreSQL answers a trivial query.
    pub async fn ping(&self) -> Result<(), Error> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// Pool usage: (connections open, connections idle).
    pub fn pool_status(&self) -> (usize, usize) {
        let status = self.pool.status();
        (status.size, status.available)
    }
}

/// The current transaction's lock, statement and idle timeouts, each what
/// is left of `deadline`: PostgreSQL itself then gives up in time, even
/// while this process is stalled.
fn local_timeouts(deadline: &Deadline) -> Result<String, Error> {
    let ms = deadline.remaining()?.as_millis();
    Ok(format!(
        "SET LOCAL lock_timeout = {ms}; SET LOCAL statement_timeout = {ms}; \
         SET LOCAL idle_in_transaction_session_timeout = {ms}"
    ))
}

/// A transaction bounded by `deadline` (see [`local_timeouts`]); check the
/// deadline again right before committing it.
async fn transaction_by<'a>(
    client: &'a mut deadpool_postgres::Object,
    deadline: &Deadline,
) -> Result<deadpool_postgres::Transaction<'a>, Error> {
    let tx = client.transaction().await?;
    tx.batch_execute(&local_timeouts(deadline)?).await?;
    Ok(tx)
}

impl From<tokio_postgres::Error> for Error {
    fn from(err: tokio_postgres::Error) -> Self {
        if gave_up_in_time(&err) {
            Self::DeadlineExceeded
        } else if is_unavailable(&err) {
            Self::Unavailable(err.into())
        } else {
            Self::Internal(err.into())
        }
    }
}

impl From<PoolError> for Error {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::Backend(err) => err.into(),
            PoolError::Timeout(_) | PoolError::Closed => Self::Unavailable(err.into()),
            PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_) => {
                Self::Internal(err.into())
            }
        }
    }
}

/// Connection failures and server shutdowns: the request may succeed later.
fn is_unavailable(err: &tokio_postgres::Error) -> bool {
    if err.is_closed() {
        return true;
    }
    match err.code() {
        Some(code) => {
            code.code().starts_with("08")
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::TOO_MANY_CONNECTIONS
        }
        // No server error: the failure happened on the wire.
        None => std::error::Error::source(err).is_some_and(|source| source.is::<std::io::Error>()),
    }
}

/// A lock or statement timeout (set from a deadline) fired.
fn gave_up_in_time(err: &tokio_postgres::Error) -> bool {
    err.code().is_some_and(|code| {
        *code == SqlState::QUERY_CANCELED || *code == SqlState::LOCK_NOT_AVAILABLE
    })
}

/// True when `err` is a violation of the named constraint.
fn violates(err: &tokio_postgres::Error, constraint: &str) -> bool {
    err.as_db_error()
        .and_then(|db| db.constraint())
        .is_some_and(|name| name == constraint)
}
