//! Which sockets a link holds in which rooms, and each room's task: shared
//! by the link's control task, which admits and closes sockets, and its room
//! tasks, which forget the sockets they refused.
//!
//! Commands reach a room's task in the order they were admitted, through a
//! queue with no bound of its own: every socket puts at most two commands
//! (its opening and its close) in it, so the sockets limit bounds it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::mpsc;

use super::{Limits, Socket};
use crate::{
    domain::{RoomId, UserId},
    error::Error,
};

/// What a room's task is asked to do, in order.
#[derive(Debug)]
pub(super) enum Command {
    /// Register the socket and answer with its snapshot.
    Open(Socket),
    /// Register the socket again (it was open on a broken link); answer
    /// only when it may not stay open.
    Reopen(Socket),
    /// End the socket's session.
    Close(u64),
}

/// Why a socket was not admitted.
#[derive(Debug)]
pub(super) enum Rejection {
    /// Its id is open on this link already: the edge broke the protocol.
    Duplicate,
    /// A limit of the link: the socket is refused.
    Refused(Error),
}

struct Room {
    commands: mpsc::UnboundedSender<Command>,
    sockets: usize,
}

#[derive(Default)]
struct State {
    sockets: HashMap<u64, (RoomId, UserId)>,
    rooms: HashMap<RoomId, Room>,
}

/// The sockets and rooms of one link; cheap to clone.
#[derive(Clone)]
pub(super) struct Registry {
    state: Arc<Mutex<State>>,
    limits: Limits,
}

impl Registry {
    pub fn new(limits: Limits) -> Self {
        Self {
            state: Arc::default(),
            limits,
        }
    }

    /// Admits `socket` and hands `command` to its room's task, which
    /// `spawn` starts when the room is not followed yet.
    pub fn admit(
        &self,
        socket: &Socket,
        command: Command,
        spawn: impl FnOnce(mpsc::UnboundedReceiver<Command>),
    ) -> Result<(), Rejection> {
        let mut state = self.lock();
        if state.sockets.contains_key(&socket.id) {
            return Err(Rejection::Duplicate);
        }
        if state.sockets.len() >= self.limits.sockets {
            return Err(Rejection::Refused(Error::ResourceExhausted(
                "too many sockets on this edge link",
            )));
        }
        if !state.rooms.contains_key(&socket.room) && state.rooms.len() >= self.limits.rooms {
            return Err(Rejection::Refused(Error::ResourceExhausted(
                "too many rooms on this edge link",
            )));
        }
        let room = state.rooms.entry(socket.room).or_insert_with(|| {
            let (commands, received) = mpsc::unbounded_channel();
            spawn(received);
            Room {
                commands,
                sockets: 0,
            }
        });
        room.sockets += 1;
        // A room's task ends only once its entry is gone, so it receives this.
        let _ = room.commands.send(command);
        state.sockets.insert(socket.id, (socket.room, socket.user));
        Ok(())
    }

    /// The user of socket `id`, if it is admitted in `room`.
    pub fn user_in(&self, id: u64, room: RoomId) -> Option<UserId> {
        match self.lock().sockets.get(&id) {
            Some((admitted, user)) if *admitted == room => Some(*user),
            _ => None,
        }
    }

    /// Closes the socket `id`: its room's task ends its session, and stops
    /// once it has no socket left. False when the link holds no such socket.
    pub fn close(&self, id: u64) -> bool {
        let mut state = self.lock();
        let Some((room, _)) = state.sockets.remove(&id) else {
            return false;
        };
        if let Some(entry) = state.rooms.get_mut(&room) {
            let _ = entry.commands.send(Command::Close(id));
        }
        state.release(room);
        true
    }

    /// Forgets a socket its room's task refused (if the edge did not close
    /// it meanwhile).
    pub fn forget(&self, id: u64) {
        let mut state = self.lock();
        if let Some((room, _)) = state.sockets.remove(&id) {
            state.release(room);
        }
    }

    /// Drops every room's queue: their tasks stop, leaving the sessions to
    /// the edge's next link.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.rooms.clear();
        state.sockets.clear();
    }

    /// The state, also after a panic while it was held: each change keeps
    /// the two maps in step before it can panic.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// One socket of `room` fewer; the last one's going drops the room.
    fn release(&mut self, room: RoomId) {
        if let Some(entry) = self.rooms.get_mut(&room) {
            entry.sockets = entry.sockets.saturating_sub(1);
            if entry.sockets == 0 {
                self.rooms.remove(&room);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{domain::UserId, store::Start};

    fn socket(id: u64, room: i64) -> Socket {
        Socket {
            id,
            room: RoomId::parse(room).unwrap(),
            user: UserId::parse(1).unwrap(),
            token_exp: 0,
            start: Start::Snapshot { limit: 1 },
        }
    }

    fn registry(rooms: usize, sockets: usize) -> Registry {
        Registry::new(Limits {
            rooms,
            sockets,
            queue: 1,
        })
    }

    #[test]
    fn a_room_gets_one_task_and_loses_it_with_its_last_socket() {
        let registry = registry(10, 10);
        let mut tasks = Vec::new();
        for id in [1, 2] {
            let admitted = registry.admit(&socket(id, 7), Command::Close(id), |rx| tasks.push(rx));
            assert!(admitted.is_ok());
        }
        assert_eq!(tasks.len(), 1, "one task for the room");
        assert!(registry.close(1));
        assert!(!tasks[0].is_closed(), "a socket is left");
        assert!(registry.close(2));
        assert!(!registry.close(2), "closed already");
        let mut commands = Vec::new();
        while let Ok(command) = tasks[0].try_recv() {
            commands.push(format!("{command:?}"));
        }
        assert_eq!(commands, ["Close(1)", "Close(2)", "Close(1)", "Close(2)"]);
        assert!(tasks[0].is_closed(), "the last close drops the room");
    }

    #[test]
    fn limits_refuse_with_resource_exhausted_and_duplicates_are_told_apart() {
        let registry = registry(1, 2);
        assert!(
            registry
                .admit(&socket(1, 7), Command::Close(1), drop)
                .is_ok()
        );
        let other_room = registry.admit(&socket(2, 8), Command::Close(2), drop);
        assert!(matches!(
            other_room,
            Err(Rejection::Refused(Error::ResourceExhausted(_)))
        ));
        let duplicate = registry.admit(&socket(1, 7), Command::Close(1), drop);
        assert!(matches!(duplicate, Err(Rejection::Duplicate)));
        assert!(
            registry
                .admit(&socket(3, 7), Command::Close(3), drop)
                .is_ok()
        );
        let third = registry.admit(&socket(4, 7), Command::Close(4), drop);
        assert!(matches!(
            third,
            Err(Rejection::Refused(Error::ResourceExhausted(_)))
        ));
        registry.forget(3);
        assert!(
            registry
                .admit(&socket(4, 7), Command::Close(4), drop)
                .is_ok()
        );
    }
}
