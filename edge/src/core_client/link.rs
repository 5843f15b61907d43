//! The edge's side of `EdgeLink/Link`: one bidirectional stream to one core
//! carrying every socket of the edge. [`LinkClient`] knows the cores
//! (`CHAT_CORE_URL`, one lazily connected channel each) and the edge's id, a
//! UUID made once per process, and the edge's service token
//! ([`LinkCredential`], scope `chat:edge`, sent as the link's
//! `authorization`); [`LinkClient::open`] starts a link with its
//! hello and gives at once the [`LinkSender`] (the bounded queue of
//! `OpenSocket`/`CloseSocket` items, sent after the hello) and a future of
//! the [`LinkStream`] the core answers on. Which core to try, when, and what
//! the hello names is the fan-out hub's business (`fanout/`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chat_proto::v1 as pb;
use pb::edge_link_client::EdgeLinkClient;
use pb::link_down::Item as Down;
use pb::link_up::Item as Up;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status, Streaming};

use service_kit::secret::Secret;

use super::model::{LinkDown, LinkHello, LinkUp, SocketOpening};
use super::{BearerToken, HISTORY_LIMIT, convert};
use crate::error::Error;

/// The scope the core requires of the token a link is opened with.
pub const EDGE_SCOPE: &str = "chat:edge";
/// The `sub` of the tokens an edge mints for itself in development mode.
const MINTED_SUB: &str = "chat-edge";
/// The lifetime of a minted token: the core checks it when a link opens.
const MINTED_TTL: Duration = Duration::from_secs(24 * 3600);

/// Items queued for a link beyond the hello. A link that cannot take more
/// counts as broken: the next link's hello says everything the queue held.
const UP_QUEUE: usize = 4_096;
/// How often an idle link is pinged, and how long an answer may take: a
/// core that vanished without a reset is noticed within both together.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// Why a link yields nothing more.
#[derive(Debug)]
pub enum StreamEnd {
    /// The core ended the stream.
    Ended,
    /// The core sent an item out of place (an empty one, an opening without a snapshot).
    Unexpected,
    /// The stream broke: the core's status, or the connection under it.
    Failed(Error),
}

/// What the edge presents as `authorization` on each link it opens.
#[derive(Clone)]
pub enum LinkCredential {
    /// The configured service token (`CHAT_EDGE_TOKEN`).
    Token(BearerToken),
    /// Development mode: a fresh token of scope [`EDGE_SCOPE`] for each
    /// link, signed with this secret (the core's development secret).
    Minted(Secret),
}

impl LinkCredential {
    /// The configured token: `None` when it is not a token the edge can
    /// send (empty, too long, or not visible ASCII).
    pub fn token(token: &Secret) -> Option<Self> {
        BearerToken::parse(token.expose()).map(Self::Token)
    }

    /// The `authorization` value of the next link.
    fn bearer(&self) -> Option<BearerToken> {
        match self {
            Self::Token(token) => Some(token.clone()),
            Self::Minted(secret) => {
                let token = service_kit::dev_token::mint_service(
                    secret.expose(),
                    MINTED_SUB,
                    EDGE_SCOPE,
                    MINTED_TTL,
                );
                BearerToken::parse(&token)
            }
        }
    }
}

impl fmt::Debug for LinkCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(_) => f.write_str("LinkCredential::Token(<redacted>)"),
            Self::Minted(_) => f.write_str("LinkCredential::Minted(<redacted>)"),
        }
    }
}

/// The cores an edge links to, the edge's id, and its credential.
#[derive(Clone, Debug)]
pub struct LinkClient {
    cores: Arc<[Core]>,
    edge_id: Arc<str>,
    credential: LinkCredential,
    deadline: Duration,
}

#[derive(Debug)]
struct Core {
    url: String,
    channel: Channel,
}

impl LinkClient {
    /// A client of the cores at `urls` (at least one), whose channels
    /// connect on first use, linking with `credential`; `deadline` bounds
    /// opening a link.
    pub fn connect_lazy(
        urls: &[String],
        credential: LinkCredential,
        deadline: Duration,
    ) -> Result<Self, Error> {
        let mut cores = Vec::with_capacity(urls.len());
        for url in urls {
            let endpoint = Endpoint::from_shared(url.clone())
                .map_err(Error::InvalidCoreUrl)?
                .connect_timeout(deadline)
                .tcp_nodelay(true)
                .initial_stream_window_size(super::LINK_WINDOW_BYTES)
                .initial_connection_window_size(super::LINK_WINDOW_BYTES)
                .http2_keep_alive_interval(KEEP_ALIVE)
                .keep_alive_timeout(KEEP_ALIVE)
                .keep_alive_while_idle(true);
            cores.push(Core {
                url: url.clone(),
                channel: endpoint.connect_lazy(),
            });
        }
        Ok(Self {
            cores: cores.into(),
            edge_id: uuid::Uuid::new_v4().to_string().into(),
            credential,
            deadline,
        })
    }

    /// The edge's id, stable for the life of the process.
    pub fn edge_id(&self) -> &str {
        &self.edge_id
    }

    /// How many cores there are to link to.
    pub fn cores(&self) -> usize {
        self.cores.len()
    }

    /// The URL of core `index` (modulo the number of cores).
    pub fn url(&self, index: usize) -> &str {
        &self.cores[index % self.cores.len()].url
    }

    /// Opens a link to core `index` (modulo the number of cores), `hello`
    /// first: the sender at once (what it queues goes up after the hello),
    /// the core's stream once it answers, within the deadline.
    pub fn open(
        &self,
        index: usize,
        hello: LinkHello,
    ) -> (
        LinkSender,
        impl Future<Output = Result<LinkStream, Error>> + Send + 'static,
    ) {
        let (tx, rx) = mpsc::channel(UP_QUEUE);
        let first = pb::LinkUp {
            item: Some(Up::Hello(hello_message(&self.edge_id, hello))),
        };
        // A fresh channel has room for its first item.
        let _ = tx.try_send(first);
        let channel = self.cores[index % self.cores.len()].channel.clone();
        let deadline = self.deadline;
        let mut request = Request::new(ReceiverStream::new(rx));
        if let Some(token) = self.credential.bearer() {
            request.metadata_mut().insert("authorization", token.0);
        }
        let opened = async move {
            let mut client = EdgeLinkClient::new(channel);
            let call = client.link(request);
            match tokio::time::timeout(deadline, call).await {
                Ok(Ok(response)) => Ok(LinkStream {
                    inner: response.into_inner(),
                }),
                Ok(Err(status)) => {
                    if matches!(
                        status.code(),
                        Code::Unauthenticated | Code::PermissionDenied
                    ) {
                        tracing::error!(
                            code = ?status.code(),
                            "the core refused the edge's service token: CHAT_EDGE_TOKEN must be \
                             a valid token of the core whose scope holds chat:edge"
                        );
                    }
                    Err(super::failure(status))
                }
                Err(_elapsed) => Err(Error::CoreDeadline(deadline)),
            }
        };
        (LinkSender { tx }, opened)
    }
}

/// The `LinkHello` of `edge_id` naming what `hello` holds.
fn hello_message(edge_id: &str, hello: LinkHello) -> pb::LinkHello {
    pb::LinkHello {
        edge_id: edge_id.to_owned(),
        sockets: hello.sockets.into_iter().map(open_message).collect(),
        rooms: hello
            .rooms
            .into_iter()
            .map(|(room_id, seq)| pb::RoomPosition { room_id, seq })
            .collect(),
    }
}

/// The `OpenSocket` of a socket, with the 50-message history.
fn open_message(socket: SocketOpening) -> pb::OpenSocket {
    pb::OpenSocket {
        socket_id: socket.socket_id,
        room_id: socket.room_id,
        authorization: socket.token.0.to_str().unwrap_or_default().to_owned(),
        history_limit: Some(HISTORY_LIMIT),
        after_seq: socket.after_seq,
    }
}

/// The queue of items going up one link.
#[derive(Debug)]
pub struct LinkSender {
    tx: mpsc::Sender<pb::LinkUp>,
}

impl LinkSender {
    /// Queues `up`; `false` when the link is gone or its queue is full (it
    /// then counts as broken).
    pub fn send(&self, up: LinkUp) -> bool {
        let item = match up {
            LinkUp::Open(socket) => Up::Open(open_message(socket)),
            LinkUp::Close(socket_id) => Up::Close(pb::CloseSocket { socket_id }),
            LinkUp::Typing { socket_id, room_id } => {
                Up::Typing(pb::TypingUp { socket_id, room_id })
            }
        };
        self.tx.try_send(pb::LinkUp { item: Some(item) }).is_ok()
    }
}

/// What a core sends down one link, read in order.
#[derive(Debug)]
pub struct LinkStream {
    inner: Streaming<pb::LinkDown>,
}

impl LinkStream {
    /// The next item. Events of a kind this edge does not know are skipped
    /// (and logged).
    pub async fn next(&mut self) -> Result<LinkDown, StreamEnd> {
        loop {
            let item = match self.inner.message().await {
                Ok(Some(down)) => down.item.ok_or(StreamEnd::Unexpected)?,
                Ok(None) => return Err(StreamEnd::Ended),
                Err(status) => return Err(StreamEnd::Failed(super::failure(status))),
            };
            if let Some(down) = link_down(item)? {
                return Ok(down);
            }
        }
    }
}

/// One item of a link; `None` for an event of an unknown kind.
fn link_down(item: Down) -> Result<Option<LinkDown>, StreamEnd> {
    Ok(match item {
        Down::Opened(opened) => {
            let snapshot = opened.snapshot.ok_or(StreamEnd::Unexpected)?;
            Some(LinkDown::Opened {
                socket_id: opened.socket_id,
                snapshot: snapshot.into(),
                missed: opened.missed.into_iter().filter_map(known).collect(),
                peer: opened.peer.map(Into::into),
            })
        }
        Down::Refused(refused) => Some(LinkDown::Refused {
            socket_id: refused.socket_id,
            error: Error::Core(Status::new(Code::from(refused.code), refused.message)),
        }),
        Down::Event(event) => {
            let room_id = event.room_id;
            known(event).map(|event| LinkDown::Event { room_id, event })
        }
        Down::Presence(pb::RoomPresence { room_id, presence }) => {
            let presence = presence.ok_or(StreamEnd::Unexpected)?.into();
            Some(LinkDown::Presence { room_id, presence })
        }
        Down::Typing(typing) => Some(LinkDown::Typing {
            room_id: typing.room_id,
            user_id: typing.user_id,
        }),
    })
}

/// A room event of a kind this edge knows.
fn known(event: pb::RoomEvent) -> Option<super::RoomEvent> {
    let seq = event.seq;
    let converted = convert::event(event);
    if converted.is_none() {
        tracing::warn!(seq, "skipped a room event of unknown kind");
    }
    converted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_credential_is_a_fresh_bearer_token_and_never_printed() {
        let credential = LinkCredential::Minted(Secret::new("a-secret-that-stays-hidden"));
        let token = credential.bearer().expect("a token");
        assert!(token.0.to_str().unwrap().starts_with("Bearer ey"));
        assert!(!format!("{credential:?}").contains("hidden"));
    }

    #[test]
    fn a_configured_token_must_be_one_the_edge_can_send() {
        assert!(LinkCredential::token(&Secret::new("abc.def.ghi")).is_some());
        assert!(LinkCredential::token(&Secret::new("")).is_none());
        assert!(LinkCredential::token(&Secret::new("a b")).is_none());
    }

    #[test]
    fn a_refusal_carries_the_code_subscribe_would_have_failed_with() {
        let refused = Down::Refused(pb::SocketRefused {
            socket_id: 3,
            code: Code::PermissionDenied as i32,
            message: "not a member".into(),
        });
        let Ok(Some(LinkDown::Refused { socket_id, error })) = link_down(refused) else {
            panic!("expected a refusal");
        };
        assert_eq!((socket_id, error.code()), (3, Code::PermissionDenied));
    }

    #[test]
    fn an_opening_without_a_snapshot_is_out_of_place() {
        let opened = Down::Opened(pb::SocketOpened {
            socket_id: 1,
            snapshot: None,
            missed: Vec::new(),
            peer: None,
        });
        assert!(matches!(link_down(opened), Err(StreamEnd::Unexpected)));
    }

    #[tokio::test]
    async fn every_url_gets_a_core_and_the_edge_an_id() {
        let urls = [
            "http://127.0.0.1:1".to_owned(),
            "http://127.0.0.1:2".to_owned(),
        ];
        let credential = LinkCredential::Minted(Secret::new("a-secret"));
        let client = LinkClient::connect_lazy(&urls, credential, Duration::from_secs(1));
        let client = client.unwrap_or_else(|_| panic!("valid URLs"));
        assert_eq!(client.cores(), 2);
        assert_eq!(client.url(3), "http://127.0.0.1:2");
        assert_eq!(uuid::Uuid::parse_str(client.edge_id()).map(|_| ()), Ok(()));
    }
}
