//! The edge's only way to the cores: for unary calls one lazily connected
//! tonic `Channel` (spread over every core of `CHAT_CORE_URL`), the caller's
//! bearer token forwarded as `authorization` metadata, and a deadline on
//! every call; for the room sockets the edge's `EdgeLink/Link` stream
//! ([`link`]); for each user socket its own `InboxService.Stream` on the
//! same channel (`inbox`).
//! Generated `pb` types stop here: every method takes and answers the edge's
//! own types of [`model`] (`convert` translates). Nothing else in the edge
//! names `pb` (a test below checks it).

mod conversations;
mod convert;
mod inbox;
pub mod link;
pub mod model;
mod token;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chat_proto::v1 as pb;
use pb::message_service_client::MessageServiceClient;
use pb::room_service_client::RoomServiceClient;
use pb::user_service_client::UserServiceClient;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};

use crate::error::Error;
pub use conversations::{Conversation, ConversationPage, ConversationQuery};
pub use inbox::{InboxItem, InboxStart, InboxStream, Subscriber};
pub use link::{
    EDGE_SCOPE, LinkClient, LinkCredential, LinkSender, LinkSizes, LinkStream, Queued, StreamEnd,
};
pub use model::{
    Change, HistoryQuery, LinkDown, LinkHello, LinkUp, Message, MessageStatus, NewMessage, Opening,
    Presence, Room, RoomEvent, SentMessage, Snapshot, SocketOpening, User,
};
pub use token::BearerToken;

/// The longest bearer token the edge forwards. Every call of every client
/// shares one HTTP/2 connection to the core, and a header block the core's
/// HTTP/2 server refuses can end that connection for all of them; a longer
/// token is refused at the edge (401 / close 4401) without a core call.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The longest `x-request-id` the edge forwards (a longer one is replaced).
pub const MAX_REQUEST_ID_BYTES: usize = service_kit::request_id::MAX_LEN;
/// How many of the latest messages a WebSocket's history frame holds.
pub const HISTORY_LIMIT: u32 = 50;
/// HTTP/2 flow-control window of one call (a history page is the largest answer).
const STREAM_WINDOW_BYTES: u32 = 128 * 1024;
/// HTTP/2 flow-control window of the whole channel, shared by every call.
const CONNECTION_WINDOW_BYTES: u32 = 256 * 1024 * 1024;
/// HTTP/2 flow-control window of a link: the hub reads it without waiting
/// on any socket, so the window only bounds a burst in flight.
const LINK_WINDOW_BYTES: u32 = 4 * 1024 * 1024;

/// A cheap-to-clone client of the core's three services. With several
/// cores, calls go to one of them until a call fails for want of a
/// connection; the next calls then go to the next core.
#[derive(Clone, Debug)]
pub struct CoreClient {
    channels: Arc<[Channel]>,
    preferred: Arc<AtomicUsize>,
    deadline: Duration,
}

impl CoreClient {
    /// A client whose channels (one per URL) connect on first use (and
    /// reconnect after failures).
    pub fn connect_lazy(urls: &[String], deadline: Duration) -> Result<Self, Error> {
        let mut endpoints = Vec::with_capacity(urls.len().max(1));
        for url in urls {
            let endpoint = Endpoint::from_shared(url.clone())
                .map_err(Error::InvalidCoreUrl)?
                .connect_timeout(deadline)
                .tcp_nodelay(true)
                .initial_stream_window_size(STREAM_WINDOW_BYTES)
                .initial_connection_window_size(CONNECTION_WINDOW_BYTES)
                .http2_keep_alive_interval(Duration::from_secs(20))
                .keep_alive_timeout(Duration::from_secs(10))
                .keep_alive_while_idle(true);
            endpoints.push(endpoint.connect_lazy());
        }
        Ok(Self {
            channels: endpoints.into(),
            preferred: Arc::new(AtomicUsize::new(0)),
            deadline,
        })
    }

    /// The deadline applied to every unary call.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// `UserService.WhoAmI`: the caller's profile; also how the edge verifies a token.
    pub async fn who_am_i(&self, token: &BearerToken) -> Result<User, Error> {
        let (core, channel) = self.pick();
        let mut client = UserServiceClient::new(channel);
        let request = self.deadlined(token, pb::WhoAmIRequest {});
        self.unary(core, client.who_am_i(request))
            .await
            .map(User::from)
    }

    /// Answers `error` only once the token is known to be good: a bad token
    /// (or an unreachable core) wins, so authentication comes before anything else.
    pub async fn after_auth(&self, token: &BearerToken, error: Error) -> Error {
        match self.who_am_i(token).await {
            Ok(_) => error,
            Err(auth_error) => auth_error,
        }
    }

    /// `RoomService.GetOrCreateDirectRoom`.
    pub async fn get_or_create_direct_room(
        &self,
        token: &BearerToken,
        user_id_1: i64,
        user_id_2: i64,
    ) -> Result<Room, Error> {
        let (core, channel) = self.pick();
        let mut client = RoomServiceClient::new(channel);
        let message = pb::GetOrCreateDirectRoomRequest {
            user_id_1,
            user_id_2,
        };
        self.unary(
            core,
            client.get_or_create_direct_room(self.deadlined(token, message)),
        )
        .await
        .map(Room::from)
    }

    /// `MessageService.EditMessage`: the message as edited.
    pub async fn edit_message(
        &self,
        token: &BearerToken,
        message_id: i64,
        text: String,
    ) -> Result<Message, Error> {
        let (core, channel) = self.pick();
        let mut client = MessageServiceClient::new(channel);
        let message = pb::EditMessageRequest { message_id, text };
        self.unary(core, client.edit_message(self.deadlined(token, message)))
            .await
            .map(Message::from)
    }

    /// `MessageService.DeleteMessage`.
    pub async fn delete_message(&self, token: &BearerToken, message_id: i64) -> Result<(), Error> {
        let (core, channel) = self.pick();
        let mut client = MessageServiceClient::new(channel);
        let message = pb::DeleteMessageRequest { message_id };
        self.unary(core, client.delete_message(self.deadlined(token, message)))
            .await
            .map(|_| ())
    }

    /// `MessageService.ListMessages`: one page of a room's history, newest first.
    pub async fn list_messages(
        &self,
        token: &BearerToken,
        query: HistoryQuery,
    ) -> Result<Vec<Message>, Error> {
        let (core, channel) = self.pick();
        let mut client = MessageServiceClient::new(channel);
        let message = pb::ListMessagesRequest::from(query);
        let response = self
            .unary(core, client.list_messages(self.deadlined(token, message)))
            .await?;
        Ok(response.messages.into_iter().map(Message::from).collect())
    }

    /// `MessageService.SendMessage`; the room's events come back on the link. `None`: stored, but the core's answer names no message (it
    /// always should).
    pub async fn send_message(
        &self,
        token: &BearerToken,
        new: NewMessage,
    ) -> Result<Option<SentMessage>, Error> {
        let (core, channel) = self.pick();
        let mut client = MessageServiceClient::new(channel);
        let message = pb::SendMessageRequest::from(new);
        let response = self
            .unary(core, client.send_message(self.deadlined(token, message)))
            .await?;
        Ok(convert::sent_message(&response))
    }

    /// [`authorized`], with the deadline sent along as `grpc-timeout`: the
    /// core gives up on the call when the edge does, and does not commit a
    /// write the edge has already answered as failed.
    fn deadlined<T>(&self, token: &BearerToken, message: T) -> Request<T> {
        let mut request = authorized(token, message);
        request.set_timeout(self.deadline);
        request
    }

    /// The core to call, and its channel.
    fn pick(&self) -> (usize, Channel) {
        let core = self.preferred.load(Ordering::Relaxed) % self.channels.len().max(1);
        (core, self.channels[core].clone())
    }

    /// Awaits one call to `core` within the deadline; dropping it on expiry
    /// cancels the call. A call that failed for want of a connection sends
    /// the next calls to the next core.
    async fn unary<T>(
        &self,
        core: usize,
        call: impl Future<Output = Result<Response<T>, Status>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(self.deadline, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            // The channel and the core enforce the `grpc-timeout` too, and
            // answer CANCELLED when theirs fires first.
            Ok(Err(status)) if status.code() == Code::Cancelled => {
                Err(Error::CoreDeadline(self.deadline))
            }
            Ok(Err(status)) => {
                let error = failure(status);
                if let Error::CoreTransport(_) = error {
                    let next = (core + 1) % self.channels.len().max(1);
                    let _ = self.preferred.compare_exchange(
                        core,
                        next,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
                Err(error)
            }
            Err(_elapsed) => Err(Error::CoreDeadline(self.deadline)),
        }
    }
}

/// The edge's error for a failed call or stream item: the core's own answer,
/// or, for a status tonic made from a transport failure (it carries the
/// h2/hyper error as its source, and its message is library text), the
/// core counts as unavailable. What the client then sees is the table in
/// `failure.rs`.
pub fn failure(status: Status) -> Error {
    if std::error::Error::source(&status).is_some() {
        Error::CoreTransport(status)
    } else {
        Error::Core(status)
    }
}

/// A request carrying the caller's token as `authorization` metadata, and
/// the id of the edge request it serves as `x-request-id` (so the core's
/// logs name the same request).
fn authorized<T>(token: &BearerToken, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let metadata = request.metadata_mut();
    metadata.insert("authorization", token.0.clone());
    if let Some(id) = crate::metrics::current_request_id()
        && id.len() <= MAX_REQUEST_ID_BYTES
        && let Ok(value) = AsciiMetadataValue::try_from(id.as_str())
    {
        metadata.insert(service_kit::request_id::HEADER, value);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transport_failure_is_unavailable_whatever_code_tonic_gave_it() {
        let cause = std::io::Error::other("h2 protocol error: too_many_continuations");
        let transport = Status::from_error(Box::new(cause));
        assert_eq!(failure(transport).code(), tonic::Code::Unavailable);
        let answered = Status::resource_exhausted("slow down");
        assert_eq!(failure(answered).code(), tonic::Code::ResourceExhausted);
    }

    /// The files under `dir` that name generated types, leaving out the core
    /// client's own (`core_client.rs` and `core_client/` of `src`).
    fn naming_generated_types(src: &std::path::Path, dir: &std::path::Path) -> Vec<String> {
        let mut found = Vec::new();
        let entries = std::fs::read_dir(dir).expect("the source tree is readable");
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let relative = path.strip_prefix(src).expect("under src");
            if relative == std::path::Path::new("core_client")
                || relative == std::path::Path::new("core_client.rs")
            {
                continue;
            }
            if path.is_dir() {
                found.extend(naming_generated_types(src, &path));
                continue;
            }
            let bytes = std::fs::read(&path).expect("a source file is readable");
            let text = String::from_utf8_lossy(&bytes);
            if text.contains("pb::") || text.contains("chat_proto") {
                found.push(relative.display().to_string());
            }
        }
        found
    }

    #[test]
    fn only_the_core_client_names_generated_types() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let found = naming_generated_types(&src, &src);
        assert!(
            found.is_empty(),
            "generated `pb` types named outside core_client: {found:?}"
        );
    }
}
