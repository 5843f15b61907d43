//! A link's control task: reads the edge's items, admits and closes its
//! sockets, starts a task per followed room, and keeps the edge's row in
//! `core_instances` fresh while the link is up.

use std::{collections::HashMap, sync::Arc};

use futures::{Stream, StreamExt};
use tokio::sync::Semaphore;
use tracing::Instrument;
use uuid::Uuid;

use super::{
    Down, Hello, Links, Opening, Outbound, Up,
    registry::{Command, Registry, Rejection},
    room::RoomTask,
};
use crate::{
    domain::RoomId,
    error::{Error, ErrorChain},
};

/// Registrations one link runs at once (its rooms register in parallel).
const OPENS_IN_FLIGHT: usize = 8;

/// Where an admitted socket comes from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// A new socket: answered with its snapshot.
    New,
    /// A socket of the hello: its room, when new, starts at the edge's
    /// position in it (`None`: the hello gave none).
    Held { position: Option<i64> },
}

/// One running link.
struct Link {
    links: Links,
    edge: Uuid,
    registry: Registry,
    outbound: Outbound,
    opens: Arc<Semaphore>,
}

/// Serves the link until the edge leaves, breaks the protocol, or the
/// service stops (then the link ends UNAVAILABLE). No session ends here.
pub(super) async fn run<S>(links: Links, hello: Hello, mut inbound: S, outbound: Outbound)
where
    S: Stream<Item = Result<Up, Error>> + Send + Unpin + 'static,
{
    let _open = links.fanout.metrics.link_opened();
    let link = Link {
        registry: Registry::new(links.limits),
        edge: hello.edge,
        links,
        outbound,
        opens: Arc::new(Semaphore::new(OPENS_IN_FLIGHT)),
    };
    tracing::info!(sockets = hello.sockets.len(), "edge linked");
    let outcome = link.serve(hello, &mut inbound).await;
    tracing::info!(failed = outcome.is_err(), "edge link ended");
    if let Err(error) = outcome {
        // Queued behind what the link still has to send; dropped when full.
        let _ = link.outbound.try_send(Err(error));
    }
    link.registry.clear();
}

impl Link {
    async fn serve<S>(&self, hello: Hello, inbound: &mut S) -> Result<(), Error>
    where
        S: Stream<Item = Result<Up, Error>> + Unpin,
    {
        self.hello(hello).await?;
        let mut beat = tokio::time::interval(self.links.heartbeat);
        beat.tick().await;
        loop {
            tokio::select! {
                biased;
                _ = self.links.shutdown.cancelled() => return Err(Error::ShuttingDown),
                _ = self.outbound.closed() => return Ok(()),
                _ = beat.tick() => self.beat().await,
                up = inbound.next() => match up {
                    None => return Ok(()),
                    Some(Err(error)) => return Err(error),
                    Some(Ok(Up::Open(opening))) => self.open(opening, Origin::New).await?,
                    Some(Ok(Up::Close(ids))) => self.close(ids),
                    Some(Ok(Up::Typing { socket, room })) => self.typing(socket, room),
                },
            }
        }
    }

    /// Registers the hello's sockets again, each room followed from the
    /// edge's position.
    async fn hello(&self, hello: Hello) -> Result<(), Error> {
        let positions: HashMap<RoomId, i64> = hello.rooms.into_iter().collect();
        for opening in hello.sockets {
            let position = opening
                .as_ref()
                .ok()
                .and_then(|socket| positions.get(&socket.room).copied());
            self.open(opening, Origin::Held { position }).await?;
        }
        Ok(())
    }

    /// Admits an opening, and starts its room's task if the room is new.
    async fn open(&self, opening: Opening, origin: Origin) -> Result<(), Error> {
        let socket = match opening {
            Ok(socket) => socket,
            Err(refused) => {
                self.deliver(Down::Refused(refused)).await;
                return Ok(());
            }
        };
        let (command, position) = match origin {
            Origin::Held { position } => (Command::Reopen(socket), position),
            Origin::New => (Command::Open(socket), None),
        };
        let spawn = |commands| {
            let task = RoomTask {
                links: self.links.clone(),
                edge: self.edge,
                room: socket.room,
                registry: self.registry.clone(),
                outbound: self.outbound.clone(),
                opens: Arc::clone(&self.opens),
                position,
            };
            let span = tracing::debug_span!("room", room = %socket.room);
            self.links.tasks.spawn(task.run(commands).instrument(span));
        };
        match self.registry.admit(&socket, command, spawn) {
            Ok(()) => Ok(()),
            Err(Rejection::Refused(error)) => {
                let refused = super::Refused {
                    socket: socket.id,
                    error,
                };
                self.deliver(Down::Refused(refused)).await;
                Ok(())
            }
            Err(Rejection::Duplicate) => Err(Error::InvalidArgument(
                "socket_id is open on this link already",
            )),
        }
    }

    /// Closes sockets of the link, and ends in one statement the sessions
    /// of those that closed while the edge had no link.
    fn close(&self, ids: Vec<u64>) {
        let mut unknown = ids;
        unknown.retain(|id| !self.registry.close(*id));
        if unknown.is_empty() {
            return;
        }
        let (store, edge) = (self.links.store.clone(), self.edge);
        self.links.tasks.spawn(async move {
            if let Err(err) = store.close_edge_sockets(edge, &unknown).await {
                tracing::warn!(error = %ErrorChain(&err), sockets = unknown.len(), "could not end the sessions of closed sockets");
            }
        });
    }

    /// Forwards a `typing` of an open socket's user, throttled, off the
    /// link's loop; one of a socket not open in that room is dropped.
    fn typing(&self, socket: u64, room: RoomId) {
        let Some(user) = self.registry.user_in(socket, room) else {
            return;
        };
        let (store, typing) = (self.links.store.clone(), self.links.fanout.typing.clone());
        self.links.tasks.spawn(async move {
            if let Err(err) = typing.typed(&store, room, user).await {
                tracing::warn!(error = %ErrorChain(&err), "could not forward a typing");
            }
        });
    }

    async fn beat(&self) {
        if let Err(err) = self.links.store.touch_instance(self.edge).await {
            tracing::warn!(error = %ErrorChain(&err), edge = %self.edge, "edge heartbeat failed");
        }
    }

    async fn deliver(&self, item: Down) {
        tokio::select! {
            _ = self.links.shutdown.cancelled() => {}
            _ = self.outbound.send(Ok(item)) => {}
        }
    }
}
