//! `chat.v1.EdgeLink`: an edge's sockets over one stream. Checks the edge's
//! own service token (scope [`EDGE_SCOPE`]), reads the hello, verifies each
//! socket's token as a call's `authorization` header is, and converts the
//! link's answers; the link itself is [`crate::link`].

use chat_proto::v1::{self as pb, edge_link_server::EdgeLink};
use futures::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;

use super::{Authenticator, ServerStream, rooms::start, until_shutdown};
use crate::{
    domain::RoomId,
    error::Error,
    link::{Down, Hello, Links, Opening, Refused, Socket, Up},
};

/// The scope an edge's service token needs to open a link: a link keeps and
/// ends the sessions of every socket under its edge's id, so only an edge
/// may hold one. Checked when the link opens.
pub const EDGE_SCOPE: &str = "chat:edge";

/// Largest item an edge sends. An edge sends a large hello in parts of about
/// 1 MiB (`HelloPart`) and closes in batches, so this is a margin, not a
/// size any item nears.
pub const MAX_LINK_UP_BYTES: usize = 64 * 1024 * 1024;

/// Sockets whose tokens one link checks at once, keeping their order (a
/// user seen first by this core costs a query).
const TOKEN_CHECKS: usize = 16;

pub struct LinkApi {
    auth: Authenticator,
    links: Links,
}

impl LinkApi {
    pub fn new(auth: Authenticator, links: Links) -> Self {
        Self { auth, links }
    }
}

type DownStream = ServerStream<pb::LinkDown>;

#[tonic::async_trait]
impl EdgeLink for LinkApi {
    type LinkStream = DownStream;

    #[tracing::instrument(skip_all, fields(edge))]
    async fn link(
        &self,
        request: Request<Streaming<pb::LinkUp>>,
    ) -> Result<Response<Self::LinkStream>, Status> {
        self.auth.service(&request, EDGE_SCOPE).await?;
        let mut inbound = request.into_inner();
        let hello = self.read_hello(&mut inbound).await?;
        tracing::Span::current().record("edge", tracing::field::display(hello.edge));
        self.links.store.touch_instance(hello.edge).await?;
        let auth = self.auth.clone();
        // A broken request stream ends the link like a finished one.
        let ups = inbound
            .scan((), |_, item| futures::future::ready(item.ok()))
            .map(move |item| {
                let auth = auth.clone();
                async move { up(&auth, item).await }
            })
            .buffered(TOKEN_CHECKS);
        let items = self.links.start(hello, Box::pin(ups));
        let stream = ReceiverStream::new(items)
            .map(|item| item.map(pb::LinkDown::from).map_err(Status::from));
        let shutdown = self.links.shutdown.clone();
        Ok(Response::new(until_shutdown(stream, shutdown)))
    }
}

impl LinkApi {
    /// The hello, whole: its first item, then its `HelloPart`s until the
    /// one without `continued`, each part's tokens checked as it comes.
    async fn read_hello(&self, inbound: &mut Streaming<pb::LinkUp>) -> Result<Hello, Status> {
        let first = match self.next_up(inbound).await? {
            Some(pb::link_up::Item::Hello(hello)) => hello,
            _ => return Err(Error::InvalidArgument("a link starts with its hello").into()),
        };
        let edge = Uuid::parse_str(&first.edge_id)
            .map_err(|_| Error::InvalidArgument("edge_id must be a UUID"))?;
        let mut hello = Hello {
            edge,
            sockets: Vec::new(),
            rooms: Vec::new(),
        };
        let mut continued = first.continued;
        self.add_part(&mut hello, first.sockets, &first.rooms)
            .await?;
        while continued {
            let part = match self.next_up(inbound).await? {
                Some(pb::link_up::Item::HelloPart(part)) => part,
                _ => {
                    let error = "a continued hello goes on with its parts, before anything else";
                    return Err(Error::InvalidArgument(error).into());
                }
            };
            continued = part.continued;
            self.add_part(&mut hello, part.sockets, &part.rooms).await?;
        }
        Ok(hello)
    }

    /// The next item of the hello, unless the service stops first.
    async fn next_up(
        &self,
        inbound: &mut Streaming<pb::LinkUp>,
    ) -> Result<Option<pb::link_up::Item>, Status> {
        let up = tokio::select! {
            _ = self.links.shutdown.cancelled() => return Err(Error::ShuttingDown.into()),
            up = inbound.message() => up?,
        };
        Ok(up.and_then(|up| up.item))
    }

    /// Adds one part's sockets (their tokens checked) and rooms to `hello`.
    async fn add_part(
        &self,
        hello: &mut Hello,
        sockets: Vec<pb::OpenSocket>,
        rooms: &[pb::RoomPosition],
    ) -> Result<(), Error> {
        for position in rooms {
            hello
                .rooms
                .push((RoomId::parse(position.room_id)?, position.seq));
        }
        let mut openings = futures::stream::iter(sockets)
            .map(|open| opening(&self.auth, open))
            .buffered(TOKEN_CHECKS);
        while let Some(opening) = openings.next().await {
            hello.sockets.push(opening);
        }
        Ok(())
    }
}

async fn up(auth: &Authenticator, item: pb::LinkUp) -> Result<Up, Error> {
    match item.item {
        Some(pb::link_up::Item::Open(open)) => Ok(Up::Open(opening(auth, open).await)),
        Some(pb::link_up::Item::Close(close)) => Ok(Up::Close(vec![close.socket_id])),
        Some(pb::link_up::Item::Closes(closes)) => Ok(Up::Close(closes.socket_ids)),
        Some(pb::link_up::Item::Typing(typing)) => Ok(Up::Typing {
            socket: typing.socket_id,
            room: RoomId::parse(typing.room_id)?,
        }),
        Some(pb::link_up::Item::Hello(_) | pb::link_up::Item::HelloPart(_)) => Err(
            Error::InvalidArgument("a link has one hello, its first items"),
        ),
        None => Err(Error::InvalidArgument("a link item must be set")),
    }
}

/// The socket, or what `Subscribe` would fail with, in its order: the
/// token first, then the room id, then where to start.
async fn opening(auth: &Authenticator, open: pb::OpenSocket) -> Opening {
    let id = open.socket_id;
    socket(auth, open)
        .await
        .map_err(|error| Refused { socket: id, error })
}

async fn socket(auth: &Authenticator, open: pb::OpenSocket) -> Result<Socket, Error> {
    let header = Some(open.authorization.as_str()).filter(|value| !value.is_empty());
    let caller = auth.authorize(header).await?;
    let room = RoomId::parse(open.room_id)?;
    let start = start(open.history_limit, open.after_seq)?;
    Ok(Socket {
        id: open.socket_id,
        room,
        user: caller.id,
        token_exp: caller.token_exp,
        start,
    })
}

impl From<Down> for pb::LinkDown {
    fn from(down: Down) -> Self {
        use pb::link_down::Item;
        let item = match down {
            Down::Opened {
                socket,
                user,
                token_exp,
                snapshot,
                missed,
                peer,
            } => Item::Opened(pb::SocketOpened {
                socket_id: socket,
                snapshot: Some(pb::Snapshot {
                    user_id: user.get(),
                    token_exp,
                    ..snapshot.into()
                }),
                missed: missed.into_iter().map(Into::into).collect(),
                peer: Some(peer.into()),
            }),
            Down::Refused(Refused { socket, error }) => {
                let status = Status::from(error);
                Item::Refused(pb::SocketRefused {
                    socket_id: socket,
                    code: status.code() as i32,
                    message: status.message().to_owned(),
                })
            }
            Down::Event(event) => Item::Event(event.into()),
            Down::Presence { room, presence } => Item::Presence(pb::RoomPresence {
                room_id: room.get(),
                presence: Some(presence.into()),
            }),
            Down::Typing { room, user } => Item::Typing(pb::Typing {
                room_id: room.get(),
                user_id: user.get(),
            }),
        };
        Self { item: Some(item) }
    }
}
