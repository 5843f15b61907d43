//! The sessions this instance holds open, and their ending in batches.
//!
//! When an edge restarts, all of its sockets end at once: tens of
//! thousands of sessions, each of which used to delete its own row and so
//! waited for a pooled connection of its own; most timed out, and their
//! users stayed online until the next heartbeat. Now the first ending
//! session flushes: it deletes every session that ended meanwhile in one
//! statement, and again until none is left; the others only add theirs.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use crate::store::{SessionId, Store};

/// The most sessions one statement ends.
const MAX_BATCH: usize = 1_000;

/// The sessions this instance holds open right now; cheap to clone.
#[derive(Clone, Default)]
pub struct LiveSessions(Arc<Mutex<State>>);

#[derive(Default)]
struct State {
    live: HashSet<SessionId>,
    /// Ended, but their rows are not deleted yet.
    ending: Vec<SessionId>,
    /// Whether some caller of [`LiveSessions::end`] is deleting rows now.
    flushing: bool,
}

impl LiveSessions {
    pub fn insert(&self, session: SessionId) {
        self.lock().live.insert(session);
    }

    /// The live sessions' ids; the heartbeat deletes this instance's other rows.
    pub fn ids(&self) -> Vec<i64> {
        self.lock()
            .live
            .iter()
            .map(|session| session.get())
            .collect()
    }

    /// Ends `session`: its row is deleted (its user's `last_seen` set) in a
    /// batch with the others ending now. A session stays live until then, so
    /// that the heartbeat does not delete it twice; one whose deletion
    /// failed stops being live anyway, and the next heartbeat deletes it.
    pub async fn end(&self, session: SessionId, store: &Store) {
        {
            let mut state = self.lock();
            state.ending.push(session);
            if state.flushing {
                return;
            }
            state.flushing = true;
        }
        let flushing = Flushing(self);
        while let Some(batch) = flushing.next_batch() {
            if let Err(err) = store.close_sessions(&batch).await {
                tracing::warn!(
                    sessions = batch.len(),
                    error = %err,
                    "could not record the end of sessions; the heartbeat will"
                );
            }
            let mut state = self.lock();
            for session in &batch {
                state.live.remove(session);
            }
        }
    }

    /// The state, also after a panic while it was held: at worst a session
    /// is left live or ending, and the heartbeat clears it.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The flushing turn of one caller; handed back when it is dropped, even
/// if the caller's future is, so that the next ending session flushes.
struct Flushing<'a>(&'a LiveSessions);

impl Flushing<'_> {
    /// Up to [`MAX_BATCH`] ended sessions, or `None` (ending the turn) when
    /// there are none.
    fn next_batch(&self) -> Option<Vec<SessionId>> {
        let mut state = self.0.lock();
        if state.ending.is_empty() {
            state.flushing = false;
            return None;
        }
        let rest = state.ending.len().saturating_sub(MAX_BATCH);
        Some(state.ending.split_off(rest))
    }
}

impl Drop for Flushing<'_> {
    fn drop(&mut self) {
        self.0.lock().flushing = false;
    }
}
