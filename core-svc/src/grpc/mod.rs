//! The gRPC boundary: one module per service. Generated `pb` types stop
//! here; handlers authenticate, convert, call the store, convert back.

mod caller;
mod chunks;
mod conversations;
mod convert;
mod feed;
mod inbox;
mod link;
mod messages;
mod rooms;
mod users;

use std::{future::Future, pin::Pin};

use futures::{Stream, StreamExt};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tonic::Status;

pub use caller::{Authenticator, Caller};
pub use conversations::ConversationApi;
pub use feed::{EVENTS_SCOPE, FeedApi};
pub use inbox::InboxApi;
pub use link::{EDGE_SCOPE, LinkApi, MAX_LINK_UP_BYTES};
pub use messages::MessageApi;
pub use rooms::RoomApi;
pub use users::UserApi;

use crate::{deadline::Deadline, domain::RoomEvent, error::Error, fanout::Fanout};

/// Largest request message a client may send (a message text is at most
/// 4096 characters, 16 KiB of UTF-8).
pub const MAX_REQUEST_BYTES: usize = service_kit::limits::MAX_REQUEST_BYTES;
/// Largest response message the core sends (100 messages of history).
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The deadline of `request`: its `grpc-timeout`, from now.
pub fn deadline<T>(request: &tonic::Request<T>) -> Deadline {
    let header = request.metadata().get("grpc-timeout");
    Deadline::from_grpc_timeout(header.and_then(|value| value.to_str().ok()))
}

/// Runs a write and publishes its committed events, in a task of its own so
/// a caller that goes away cannot stop it between commit and publish. Until
/// it commits, the write gives up when its caller does: the deadline it is
/// handed counts as passed once the request is dropped.
#[derive(Clone)]
pub struct Writer {
    fanout: Fanout,
    tasks: TaskTracker,
}

impl Writer {
    pub fn new(fanout: Fanout, tasks: TaskTracker) -> Self {
        Self { fanout, tasks }
    }

    pub async fn commit<T, F>(
        &self,
        deadline: &Deadline,
        work: impl FnOnce(Deadline) -> F,
    ) -> Result<T, Error>
    where
        T: Send + 'static,
        F: Future<Output = Result<(T, Vec<RoomEvent>), Error>> + Send + 'static,
    {
        let _abandon_on_drop = deadline.abandon_on_drop();
        let work = work(deadline.clone());
        let fanout = self.fanout.clone();
        let task = self.tasks.spawn(async move {
            let (outcome, events) = work.await?;
            fanout.committed(&events);
            Ok(outcome)
        });
        task.await.map_err(|err| Error::Internal(Box::new(err)))?
    }
}

/// The answer of a server-streaming call.
type ServerStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// `items`, then UNAVAILABLE if the core is shutting down. A stream's pump
/// sends its own UNAVAILABLE, which is dropped when the stream's buffer is
/// full (a client that stopped reading); this one always comes last, so the
/// client knows to reconnect.
fn until_shutdown<T: Send + 'static>(
    items: impl Stream<Item = Result<T, Status>> + Send + 'static,
    shutdown: CancellationToken,
) -> ServerStream<T> {
    let ended = futures::stream::once(async move {
        shutdown
            .is_cancelled()
            .then(|| Err(Status::from(Error::ShuttingDown)))
    })
    .filter_map(futures::future::ready);
    Box::pin(items.chain(ended))
}
