//! The edge's side of `EdgeLink/Link`: one bidirectional stream to one core
//! carrying every socket of the edge. [`LinkClient`] knows the cores
//! (`CHAT_CORE_URL`, one lazily connected channel each) and the edge's id, a
//! UUID made once per process, and the edge's service token
//! ([`LinkCredential`], scope `chat:edge`, sent as the link's
//! `authorization`); [`LinkClient::open`] starts a link with its
//! hello (cut into parts of `CHAT_LINK_HELLO_PART_BYTES`, [`hello_parts`])
//! and gives at once the [`LinkSender`] (the bounded queue of `OpenSocket`,
//! `CloseSockets` and `TypingUp` items, sent after the hello) and a future of
//! the [`LinkStream`] the core answers on. Which core to try, when, and what
//! the hello names is the fan-out hub's business (`fanout/`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chat_proto::v1 as pb;
use futures::StreamExt;
use pb::edge_link_client::EdgeLinkClient;
use pb::link_down::Item as Down;
use pb::link_up::Item as Up;
use prost::Message;
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

/// Items queued for a link beyond the hello, by default. While the queue is
/// full, the hub holds what is still to go up (closes as a set of ids,
/// openings waiting their turn) and sends it once the link takes more.
pub const UP_QUEUE: usize = 4_096;
/// The size a hello's part stays under, by default, in encoded bytes.
pub const HELLO_PART_BYTES: usize = 1024 * 1024;
/// Most socket ids in one `CloseSockets` item (at most 10 bytes each).
pub const CLOSES_PER_ITEM: usize = 16_384;
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

/// How much a link holds at once, and how a hello is cut.
#[derive(Clone, Copy, Debug)]
pub struct LinkSizes {
    /// Items queued for a link beyond the hello ([`UP_QUEUE`]).
    pub up_queue: usize,
    /// The encoded size each part of a hello stays under ([`HELLO_PART_BYTES`]);
    /// a part holds at least one socket or room, whatever its size.
    pub hello_part_bytes: usize,
}

impl Default for LinkSizes {
    fn default() -> Self {
        Self {
            up_queue: UP_QUEUE,
            hello_part_bytes: HELLO_PART_BYTES,
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
    sizes: LinkSizes,
}

#[derive(Debug)]
struct Core {
    url: String,
    channel: Channel,
}

impl LinkClient {
    /// A client of the cores at `urls` (at least one), whose channels
    /// connect on first use, linking with `credential`; `deadline` bounds
    /// opening a link, `sizes` its queue and its hello's parts.
    pub fn connect_lazy(
        urls: &[String],
        credential: LinkCredential,
        deadline: Duration,
        sizes: LinkSizes,
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
            sizes,
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
    /// first (in parts, [`hello_parts`]): the sender at once (what it queues
    /// goes up after the hello, which the queue does not count), the core's
    /// stream once it answers, within the deadline.
    pub fn open(
        &self,
        index: usize,
        hello: LinkHello,
    ) -> (
        LinkSender,
        impl Future<Output = Result<LinkStream, Error>> + Send + 'static,
    ) {
        let (tx, rx) = mpsc::channel(self.sizes.up_queue.max(1));
        let parts = hello_parts(&self.edge_id, hello, self.sizes.hello_part_bytes);
        let ups = futures::stream::iter(parts).chain(ReceiverStream::new(rx));
        let channel = self.cores[index % self.cores.len()].channel.clone();
        let deadline = self.deadline;
        let mut request = Request::new(ups);
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

/// The hello of `edge_id` naming what `hello` holds, as the items that
/// carry it: a `LinkHello`, then as many `HelloPart`s as it takes for each
/// item to stay under `part_bytes` (one socket or room larger than that
/// goes alone). Every item but the last has `continued` set.
pub fn hello_parts(edge_id: &str, hello: LinkHello, part_bytes: usize) -> Vec<pb::LinkUp> {
    let mut parts = Parts {
        done: Vec::new(),
        current: Part::default(),
        bytes: edge_id.len() + ENTRY_OVERHEAD,
        limit: part_bytes,
    };
    for socket in hello.sockets {
        let open = open_message(socket);
        parts.make_room(open.encoded_len()).sockets.push(open);
    }
    for (room_id, seq) in hello.rooms {
        let room = pb::RoomPosition { room_id, seq };
        parts.make_room(room.encoded_len()).rooms.push(room);
    }
    parts.done.push(parts.current);
    let count = parts.done.len();
    let items = parts.done.into_iter().enumerate();
    items
        .map(|(index, part)| part.item(edge_id, index, index + 1 < count))
        .collect()
}

/// What an entry of a part costs beyond its own encoding, at most: its tag
/// and length (and, once per part, the item's and `continued`'s).
const ENTRY_OVERHEAD: usize = 8;

/// A hello being cut into parts.
struct Parts {
    done: Vec<Part>,
    current: Part,
    /// The encoded size of `current`, over-estimated.
    bytes: usize,
    limit: usize,
}

impl Parts {
    /// The part an entry of `size` bytes goes in: the current one, or a new
    /// one when it would outgrow the limit (never an empty one).
    fn make_room(&mut self, size: usize) -> &mut Part {
        let size = size + ENTRY_OVERHEAD;
        let empty = self.current.sockets.is_empty() && self.current.rooms.is_empty();
        if self.bytes + size > self.limit && !empty {
            self.done.push(std::mem::take(&mut self.current));
            self.bytes = ENTRY_OVERHEAD;
        }
        self.bytes += size;
        &mut self.current
    }
}

/// The sockets and rooms of one part of a hello.
#[derive(Default)]
struct Part {
    sockets: Vec<pb::OpenSocket>,
    rooms: Vec<pb::RoomPosition>,
}

impl Part {
    /// The item of part `index` (the `LinkHello` for the first).
    fn item(self, edge_id: &str, index: usize, continued: bool) -> pb::LinkUp {
        let (sockets, rooms) = (self.sockets, self.rooms);
        let item = match index {
            0 => Up::Hello(pb::LinkHello {
                edge_id: edge_id.to_owned(),
                sockets,
                rooms,
                continued,
            }),
            _ => Up::HelloPart(pb::HelloPart {
                sockets,
                rooms,
                continued,
            }),
        };
        pb::LinkUp { item: Some(item) }
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

/// What became of an item offered to a link's queue.
#[derive(Debug, PartialEq, Eq)]
pub enum Queued {
    /// Queued.
    Yes,
    /// The queue is full: offer it again once [`LinkSender::ready`] says so.
    Full,
    /// The link is gone.
    Gone,
}

impl LinkSender {
    /// Queues `up`, without waiting.
    pub fn send(&self, up: LinkUp) -> Queued {
        let item = match up {
            LinkUp::Open(socket) => Up::Open(open_message(socket)),
            LinkUp::Close(socket_ids) => Up::Closes(pb::CloseSockets { socket_ids }),
            LinkUp::Typing { socket_id, room_id } => {
                Up::Typing(pb::TypingUp { socket_id, room_id })
            }
        };
        match self.tx.try_send(pb::LinkUp { item: Some(item) }) {
            Ok(()) => Queued::Yes,
            Err(mpsc::error::TrySendError::Full(_)) => Queued::Full,
            Err(mpsc::error::TrySendError::Closed(_)) => Queued::Gone,
        }
    }

    /// A sender on a queue of `capacity` items, and the queue's far end.
    #[cfg(test)]
    pub(crate) fn for_tests(capacity: usize) -> (Self, TestQueue) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self { tx }, TestQueue(rx))
    }

    /// Resolves once the queue has room for an item (`true`), or the link
    /// is gone (`false`). Owns what it needs: it borrows nothing.
    pub fn ready(&self) -> impl Future<Output = bool> + Send + 'static {
        let tx = self.tx.clone();
        async move { tx.reserve_owned().await.is_ok() }
    }
}

/// The far end of a [`LinkSender::for_tests`] queue.
#[cfg(test)]
pub(crate) struct TestQueue(mpsc::Receiver<pb::LinkUp>);

#[cfg(test)]
impl TestQueue {
    /// Everything queued so far: the batches of closes, and the ids of the
    /// openings, each in order.
    pub fn drain(&mut self) -> (Vec<Vec<u64>>, Vec<u64>) {
        let (mut closes, mut opens) = (Vec::new(), Vec::new());
        while let Ok(item) = self.0.try_recv() {
            match item.item {
                Some(Up::Closes(batch)) => closes.push(batch.socket_ids),
                Some(Up::Open(open)) => opens.push(open.socket_id),
                other => panic!("unexpected {other:?}"),
            }
        }
        (closes, opens)
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

    /// A hello of `sockets` sockets (tokens of about 300 bytes) and `rooms` rooms.
    fn hello(sockets: u64, rooms: i64) -> LinkHello {
        let token = BearerToken::parse(&format!("ey{}", "x".repeat(300))).expect("a token");
        LinkHello {
            sockets: (1..=sockets)
                .map(|socket_id| SocketOpening {
                    socket_id,
                    room_id: 7,
                    token: token.clone(),
                    after_seq: None,
                })
                .collect(),
            rooms: (1..=rooms).map(|room_id| (room_id, room_id * 10)).collect(),
        }
    }

    /// The sockets and rooms of each part, and whether more follow.
    fn contents(item: &pb::LinkUp) -> (&[pb::OpenSocket], &[pb::RoomPosition], bool) {
        match &item.item {
            Some(Up::Hello(hello)) => (&hello.sockets, &hello.rooms, hello.continued),
            Some(Up::HelloPart(part)) => (&part.sockets, &part.rooms, part.continued),
            other => panic!("not a part of a hello: {other:?}"),
        }
    }

    #[test]
    fn a_large_hello_goes_up_in_parts_each_under_the_size_in_order() {
        let parts = hello_parts("edge-1", hello(300, 500), 4096);
        assert!(parts.len() > 20, "{} parts", parts.len());
        assert!(matches!(&parts[0].item, Some(Up::Hello(hello)) if hello.edge_id == "edge-1"));
        let mut sockets = Vec::new();
        let mut rooms = Vec::new();
        for (index, part) in parts.iter().enumerate() {
            assert!(
                part.encoded_len() <= 4096,
                "part {index}: {}",
                part.encoded_len()
            );
            let (part_sockets, part_rooms, continued) = contents(part);
            assert_eq!(continued, index + 1 < parts.len(), "part {index}");
            assert!(index == 0 || matches!(part.item, Some(Up::HelloPart(_))));
            sockets.extend(part_sockets.iter().map(|socket| socket.socket_id));
            rooms.extend(part_rooms.iter().map(|room| (room.room_id, room.seq)));
        }
        assert_eq!(sockets, (1..=300).collect::<Vec<_>>());
        assert_eq!(rooms, (1..=500).map(|id| (id, id * 10)).collect::<Vec<_>>());
    }

    #[test]
    fn a_small_hello_is_one_item_that_says_nothing_follows() {
        let parts = hello_parts("edge-1", hello(3, 2), HELLO_PART_BYTES);
        assert_eq!(parts.len(), 1);
        let (sockets, rooms, continued) = contents(&parts[0]);
        assert_eq!((sockets.len(), rooms.len(), continued), (3, 2, false));
    }

    #[test]
    fn a_socket_larger_than_a_part_goes_alone() {
        let parts = hello_parts("edge-1", hello(3, 0), 100);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|part| contents(part).0.len() == 1));
    }

    #[test]
    fn closes_go_up_as_one_batched_item() {
        let (sender, mut queue) = LinkSender::for_tests(1);
        assert_eq!(sender.send(LinkUp::Close(vec![4, 5, 6])), Queued::Yes);
        assert_eq!(sender.send(LinkUp::Close(vec![7])), Queued::Full);
        assert_eq!(queue.drain(), (vec![vec![4, 5, 6]], Vec::new()));
    }

    #[tokio::test]
    async fn every_url_gets_a_core_and_the_edge_an_id() {
        let urls = [
            "http://127.0.0.1:1".to_owned(),
            "http://127.0.0.1:2".to_owned(),
        ];
        let credential = LinkCredential::Minted(Secret::new("a-secret"));
        let sizes = LinkSizes::default();
        let client = LinkClient::connect_lazy(&urls, credential, Duration::from_secs(1), sizes);
        let client = client.unwrap_or_else(|_| panic!("valid URLs"));
        assert_eq!(client.cores(), 2);
        assert_eq!(client.url(3), "http://127.0.0.1:2");
        assert_eq!(uuid::Uuid::parse_str(client.edge_id()).map(|_| ()), Ok(()));
    }
}
