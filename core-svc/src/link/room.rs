//! One room followed by one link: the task that registers the room's
//! sockets, one after the other, and forwards the room's events once.
//!
//! Because openings and events pass through this one task in turn, a fresh
//! snapshot's `seq` is never behind what the link sent of the room (its
//! transaction starts after those events committed), so its answer goes out
//! before every event after it. A resumed socket behind the link gets the
//! events in between in its answer, as `missed`. Commands are handled while
//! the feed's step is in flight (it is only not polled meanwhile), so a
//! stream of openings does not keep restarting a read of the log.
//!
//! The task also forwards the room's signals (`signals.rs`). An answer
//! carries the opening socket's peer's presence as of its snapshot; a later
//! change is sent after it.

use std::{collections::HashMap, sync::Arc};

use tokio::sync::{Semaphore, mpsc};
use uuid::Uuid;

use super::{
    Down, Links, Outbound, Refused, Socket,
    registry::{Command, Registry},
    signals::RoomSignals,
};
use crate::{
    domain::{RoomEvent, RoomId, Snapshot},
    error::Error,
    fanout::{Heard, HubReceiver, RoomFeed},
    ops::GaugeGuard,
    store::{EdgeSocket, Registered, SessionId, Start},
};

/// The most events an answer carries as `missed` (one page of the log); a
/// resume from further behind the link gets a fresh snapshot instead.
const MAX_MISSED: i64 = 500;

/// Everything one room's task works with.
pub(super) struct RoomTask {
    pub links: Links,
    pub edge: Uuid,
    pub room: RoomId,
    pub registry: Registry,
    pub outbound: Outbound,
    /// Registrations in flight on the link, so that a hello of many rooms
    /// waits here rather than for the pool.
    pub opens: Arc<Semaphore>,
    /// From the hello: the last `seq` the edge holds of the room.
    pub position: Option<i64>,
}

/// Where the link stands in the room it follows.
struct Follow {
    /// The last `seq` the link sent of the room, or where it started.
    cursor: i64,
    _followed: GaugeGuard,
}

/// What the task holds while it runs, but for the room's feed.
struct Local {
    /// Subscribed before any registration reads the room's head.
    receiver: Option<HubReceiver>,
    follow: Option<Follow>,
    /// The feed the latest command started, for the task to take.
    started: Option<RoomFeed>,
    sessions: HashMap<u64, (SessionId, GaugeGuard)>,
    signals: RoomSignals,
}

/// What woke an idle task.
enum Woken {
    Command(Command),
    Heard(Heard),
}

type Event = Result<Option<RoomEvent>, Error>;

impl RoomTask {
    /// Runs until the room has no socket left, the link ends or the service
    /// stops. Only closes end sessions: the others are the edge's to name
    /// again on its next link.
    pub async fn run(self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut local = Local {
            receiver: Some(self.links.fanout.hub.subscribe(self.room)),
            follow: None,
            started: None,
            sessions: HashMap::new(),
            signals: RoomSignals::default(),
        };
        let mut feed = None;
        loop {
            let next = match &mut feed {
                None => {
                    match self.idle(&mut commands, &mut local.signals).await {
                        None => return,
                        Some(Woken::Command(command)) => self.handle(&mut local, command).await,
                        Some(Woken::Heard(heard)) => self.signal(&mut local, heard).await,
                    }
                    feed = local.started.take();
                    continue;
                }
                Some(feed) => self.next_event(feed, &mut commands, &mut local).await,
            };
            match next {
                None | Some(Ok(None)) => return,
                Some(Ok(Some(event))) => {
                    if let Some(follow) = &mut local.follow {
                        follow.cursor = event.seq;
                    }
                    self.links.fanout.metrics.delivered(&event);
                    if !self.deliver(Ok(Down::Event(event))).await {
                        return;
                    }
                }
                Some(Err(error)) => {
                    self.deliver(Err(error)).await;
                    return;
                }
            }
        }
    }

    /// The next command or signal; `None` when the task is to stop.
    async fn idle(
        &self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        signals: &mut RoomSignals,
    ) -> Option<Woken> {
        tokio::select! {
            biased;
            _ = self.links.shutdown.cancelled() => None,
            _ = self.outbound.closed() => None,
            command = commands.recv() => command.map(Woken::Command),
            heard = signals.next() => Some(Woken::Heard(heard)),
        }
    }

    /// The feed's next event, handling the commands that come meanwhile.
    /// The feed's step stays in flight across them (a read of the log is
    /// not started over), but is not polled while one is handled, so the
    /// link sends nothing of the room meanwhile. `None`: stop.
    async fn next_event(
        &self,
        feed: &mut RoomFeed,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        local: &mut Local,
    ) -> Option<Event> {
        let mut next = std::pin::pin!(feed.next());
        loop {
            tokio::select! {
                biased;
                _ = self.links.shutdown.cancelled() => return None,
                _ = self.outbound.closed() => return None,
                command = commands.recv() => self.handle(local, command?).await,
                heard = local.signals.next() => self.signal(local, heard).await,
                event = &mut next => return Some(event),
            }
        }
    }

    async fn handle(&self, local: &mut Local, command: Command) {
        match command {
            Command::Open(socket) => self.open(local, socket).await,
            Command::Reopen(socket) => self.reopen(local, socket).await,
            Command::Close(id) => {
                if let Some((session, _gauge)) = local.sessions.remove(&id) {
                    Box::pin(self.links.live.end(session, &self.links.store)).await;
                }
            }
        }
    }

    /// Registers a new socket and answers with its snapshot (and, resumed
    /// behind the link, the events it missed).
    async fn open(&self, local: &mut Local, socket: Socket) {
        let start = match (socket.start, &local.follow) {
            (
                Start::Resume {
                    after_seq,
                    fallback_limit,
                },
                Some(follow),
            ) if after_seq < follow.cursor - MAX_MISSED => Start::Snapshot {
                limit: fallback_limit,
            },
            (start, _) => start,
        };
        local.signals.subscribe(&self.links, self.room).await;
        let mut registered = match self.register(&socket, Some(start)).await {
            Ok(registered) => registered,
            Err(error) => return self.refuse(socket.id, error).await,
        };
        let Some(mut snapshot) = registered.snapshot.take() else {
            return self.refuse(socket.id, no_snapshot()).await;
        };
        self.keep(local, socket.id, &registered);
        let missed = match &local.follow {
            None => {
                self.follow(local, snapshot.seq, &registered);
                Vec::new()
            }
            Some(follow) if snapshot.resumed && snapshot.seq < follow.cursor => {
                match self.missed(&snapshot, follow.cursor).await {
                    Ok(missed) => {
                        snapshot.seq = follow.cursor;
                        missed
                    }
                    Err(error) => return self.fail_open(local, socket.id, error).await,
                }
            }
            Some(_) => Vec::new(),
        };
        let opened = Down::Opened {
            socket: socket.id,
            user: socket.user,
            token_exp: socket.token_exp,
            snapshot,
            missed,
            peer: registered.peer,
        };
        self.deliver(Ok(opened)).await;
    }

    /// Registers a socket named by the hello again, with no snapshot. Only a
    /// socket that may no longer stay open is refused; when the database
    /// fails, the link does (the edge links again).
    async fn reopen(&self, local: &mut Local, socket: Socket) {
        local.signals.subscribe(&self.links, self.room).await;
        let registered = match self.register(&socket, None).await {
            Ok(registered) => registered,
            Err(error) if refuses_the_socket(&error) => {
                return self.refuse(socket.id, error).await;
            }
            Err(error) => {
                self.deliver(Err(error)).await;
                return;
            }
        };
        self.keep(local, socket.id, &registered);
        if local.follow.is_none() {
            let from = self.position.unwrap_or(registered.last_seq);
            self.follow(local, from, &registered);
            // Presence may have changed while the edge had no link.
            self.signal(local, Heard::Resync).await;
        }
    }

    /// Forwards what one signal of the room makes the link send.
    async fn signal(&self, local: &mut Local, heard: Heard) {
        for down in local.signals.downs(&self.links, self.room, heard).await {
            self.deliver(Ok(down)).await;
        }
    }

    async fn register(&self, socket: &Socket, start: Option<Start>) -> Result<Registered, Error> {
        let _permit = self
            .opens
            .acquire()
            .await
            .map_err(|err| Error::Internal(err.into()))?;
        let row = EdgeSocket {
            edge: self.edge,
            socket: socket.id,
            room: self.room,
            user: socket.user,
        };
        let registered = Box::pin(self.links.store.register_edge_socket(&row, start)).await?;
        self.links.fanout.committed(&registered.read_events);
        Ok(registered)
    }

    /// The events of the room after a resumed snapshot, up to `cursor`.
    async fn missed(&self, snapshot: &Snapshot, cursor: i64) -> Result<Vec<RoomEvent>, Error> {
        let store = &self.links.store;
        let missed = Box::pin(store.events_between(self.room, snapshot.seq, cursor)).await?;
        if missed.len() as i64 != cursor - snapshot.seq {
            return Err(Error::Internal(
                format!("event log of room {} has a gap", self.room).into(),
            ));
        }
        Ok(missed)
    }

    /// Holds the socket's session until its close. (Not added to the live
    /// set: that is the heartbeat's view of this core's own sessions, and a
    /// link that breaks leaves its sessions to the edge.)
    fn keep(&self, local: &mut Local, id: u64, registered: &Registered) {
        let gauge = self.links.fanout.metrics.link_socket_opened();
        local.sessions.insert(id, (registered.session, gauge));
    }

    /// Starts following the room after `cursor`.
    fn follow(&self, local: &mut Local, cursor: i64, registered: &Registered) {
        let receiver = local
            .receiver
            .take()
            .unwrap_or_else(|| self.links.fanout.hub.subscribe(self.room));
        let mut feed = RoomFeed::new(
            self.links.store.clone(),
            receiver,
            self.room,
            cursor,
            registered.head(),
        );
        feed.push_known(registered.read_events.iter().cloned());
        local.started = Some(feed);
        local.follow = Some(Follow {
            cursor,
            _followed: self.links.fanout.metrics.link_room_followed(),
        });
    }

    /// Ends the session of a socket whose answer failed, and refuses it.
    async fn fail_open(&self, local: &mut Local, id: u64, error: Error) {
        if let Some((session, _gauge)) = local.sessions.remove(&id) {
            Box::pin(self.links.live.end(session, &self.links.store)).await;
        }
        self.refuse(id, error).await;
    }

    async fn refuse(&self, socket: u64, error: Error) {
        self.registry.forget(socket);
        self.deliver(Ok(Down::Refused(Refused { socket, error })))
            .await;
    }

    /// Queues `item` for the edge; false when the link or the service ended.
    async fn deliver(&self, item: Result<Down, Error>) -> bool {
        tokio::select! {
            _ = self.links.shutdown.cancelled() => false,
            sent = self.outbound.send(item) => sent.is_ok(),
        }
    }
}

/// Whether `error` means the socket may not stay open, rather than that
/// this core cannot tell right now.
fn refuses_the_socket(error: &Error) -> bool {
    match error {
        Error::Unauthenticated(_)
        | Error::PermissionDenied(_)
        | Error::NotFound(_)
        | Error::InvalidArgument(_)
        | Error::ResourceExhausted(_) => true,
        Error::ShuttingDown
        | Error::DeadlineExceeded
        | Error::Unavailable(_)
        | Error::Internal(_) => false,
    }
}

fn no_snapshot() -> Error {
    Error::Internal("a registration with a start took no snapshot".into())
}
