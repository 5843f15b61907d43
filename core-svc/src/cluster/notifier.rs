//! Batched announcements of committed events to the other instances.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{domain::RoomId, store::Store};

/// PostgreSQL refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;

/// Collects "room committed up to seq" per room until the notify task sends
/// them; bounded by the number of rooms written to since the last send.
#[derive(Clone, Default)]
pub struct Notifier {
    pending: Arc<Mutex<HashMap<RoomId, i64>>>,
    wake: Arc<Notify>,
}

impl Notifier {
    /// Records that `room` committed up to `seq`; never waits.
    pub fn committed(&self, room: RoomId, seq: i64) {
        let mut pending = self.lock();
        let head = pending.entry(room).or_insert(seq);
        *head = (*head).max(seq);
        drop(pending);
        self.wake.notify_one();
    }

    fn take(&self) -> HashMap<RoomId, i64> {
        std::mem::take(&mut *self.lock())
    }

    /// The pending heads, also after a panic while they were held: each
    /// change is one insert or take, never left half made.
    fn lock(&self) -> MutexGuard<'_, HashMap<RoomId, i64>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Sends the collected announcements until `shutdown`: whatever piled up
/// while one `NOTIFY` was in flight goes out in the next.
pub async fn notify(notifier: Notifier, store: Store, instance: Uuid, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = notifier.wake.notified() => {}
        }
        for payload in payloads(instance, &notifier.take()) {
            if let Err(err) = store.notify_committed(&payload).await {
                // Other instances' polls find these events anyway.
                tracing::warn!(error = %err, "could not announce committed events");
            }
        }
    }
}

/// `"<instance>@<unix µs> <room>:<seq> <room>:<seq> …"`, split to fit
/// PostgreSQL's limit. The send time lets receivers measure notification lag.
pub(super) fn payloads(instance: Uuid, heads: &HashMap<RoomId, i64>) -> Vec<String> {
    let sent_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_micros());
    let prefix = format!("{instance}@{sent_at}");
    let mut payloads = Vec::new();
    let mut current = prefix.clone();
    for (room, seq) in heads {
        let pair = format!(" {room}:{seq}");
        if current.len() + pair.len() > MAX_PAYLOAD {
            payloads.push(std::mem::replace(&mut current, prefix.clone()));
        }
        current.push_str(&pair);
    }
    if current.len() > prefix.len() {
        payloads.push(current);
    }
    payloads
}

/// Parses a payload: the announcing instance and its (room, seq) pairs.
pub(super) fn parse(payload: &str) -> Option<(Uuid, Vec<(RoomId, i64)>)> {
    let mut parts = payload.split(' ');
    let head = parts.next()?;
    let instance = head
        .split_once('@')
        .map_or(head, |(id, _)| id)
        .parse()
        .ok()?;
    let heads = parts
        .filter_map(|pair| {
            let (room, seq) = pair.split_once(':')?;
            Some((RoomId::parse(room.parse().ok()?).ok()?, seq.parse().ok()?))
        })
        .collect();
    Some((instance, heads))
}

/// When the payload was sent, if it says (payloads of older versions do not).
pub(super) fn sent_at(payload: &str) -> Option<SystemTime> {
    let head = payload.split(' ').next()?;
    let micros: u64 = head.split_once('@')?.1.parse().ok()?;
    UNIX_EPOCH.checked_add(Duration::from_micros(micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(id: i64) -> RoomId {
        RoomId::parse(id).unwrap()
    }

    #[test]
    fn announcements_keep_the_highest_seq_per_room() {
        let notifier = Notifier::default();
        notifier.committed(room(1), 5);
        notifier.committed(room(1), 3);
        notifier.committed(room(2), 1);
        let pending = notifier.take();
        assert_eq!(pending[&room(1)], 5);
        assert_eq!(pending[&room(2)], 1);
        assert!(notifier.take().is_empty());
    }

    #[test]
    fn payloads_round_trip() {
        let instance = Uuid::new_v4();
        let heads = HashMap::from([(room(7), 42), (room(9), 1)]);
        let payloads = payloads(instance, &heads);
        assert_eq!(payloads.len(), 1);
        let (parsed_instance, mut parsed) = parse(&payloads[0]).unwrap();
        parsed.sort();
        assert_eq!(parsed_instance, instance);
        assert_eq!(parsed, vec![(room(7), 42), (room(9), 1)]);
        let age = sent_at(&payloads[0]).unwrap().elapsed().unwrap();
        assert!(age < Duration::from_secs(60));
    }

    #[test]
    fn payloads_without_a_send_time_still_parse() {
        let instance = Uuid::new_v4();
        let payload = format!("{instance} 7:42");
        assert_eq!(parse(&payload).unwrap(), (instance, vec![(room(7), 42)]));
        assert!(sent_at(&payload).is_none());
    }

    #[test]
    fn large_batches_are_split_below_the_postgresql_limit() {
        let heads: HashMap<RoomId, i64> = (1..=2000).map(|id| (room(id), i64::MAX)).collect();
        let payloads = payloads(Uuid::new_v4(), &heads);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|payload| payload.len() < 8000));
        let total: usize = payloads.iter().map(|p| parse(p).unwrap().1.len()).sum();
        assert_eq!(total, 2000);
    }

    #[test]
    fn garbage_payloads_are_ignored() {
        assert!(parse("not-a-uuid 1:2").is_none());
        let (_, heads) = parse(&format!("{} x:1 2:y 3:4", Uuid::new_v4())).unwrap();
        assert_eq!(heads, vec![(room(3), 4)]);
    }
}
