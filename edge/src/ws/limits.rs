//! Per-socket and per-user limits of WebSocket sessions: the message rate
//! (a token bucket per connection), the number of sockets one user may hold
//! on this edge, and the keepalive ping with its pong deadline. Users are
//! counted by the id the core resolved their token to; the edge reads no
//! token itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::origin::AllowedOrigins;

/// How many pings in a row may go unanswered before the peer counts as dead.
pub const MAX_MISSED_PONGS: u32 = 2;

/// The limits every session of this edge follows.
#[derive(Debug)]
pub struct WsPolicy {
    /// Origins whose browser pages may open sockets.
    pub origins: AllowedOrigins,
    /// Time between two server pings.
    pub ping_interval: Duration,
    /// Client messages per second a socket may send, sustained.
    pub rate_per_sec: u32,
    /// Client messages a socket may send at once after a quiet spell.
    pub rate_burst: u32,
    /// Sockets one user may hold on this edge at once.
    pub max_per_user: usize,
    /// Live sockets per user.
    pub connections: UserConnections,
}

/// What the rate limit says about one client message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the rate.
    Allowed,
    /// Over the rate: refuse it with a `rate_limited` error frame.
    Limited,
    /// Over the rate for a whole burst's worth of messages in a row: close (1008).
    Abusive,
}

/// A token bucket of `burst` messages refilled at `rate` per second.
#[derive(Debug)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    /// Messages refused in a row.
    refused: u32,
}

impl RateLimit {
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: f64::from(rate_per_sec.max(1)),
            burst,
            tokens: burst,
            last: Instant::now(),
            refused: 0,
        }
    }

    /// Takes a token for one message arriving at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.refused = 0;
            return Verdict::Allowed;
        }
        self.refused += 1;
        if f64::from(self.refused) > self.burst {
            Verdict::Abusive
        } else {
            Verdict::Limited
        }
    }
}

/// Pings sent since the peer was last heard from; shared by a session's
/// reader (which hears) and writer (which pings).
#[derive(Debug, Clone, Default)]
pub struct Liveness(Arc<AtomicU32>);

impl Liveness {
    /// The peer sent something (a pong, a message, anything).
    pub fn heard(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    /// Records one more ping; `false` when [`MAX_MISSED_PONGS`] went
    /// unanswered already and the peer counts as dead.
    pub fn ping(&self) -> bool {
        self.0.fetch_add(1, Ordering::Relaxed) < MAX_MISSED_PONGS
    }
}

/// Live sockets per user (by user id) on this edge.
#[derive(Debug, Clone, Default)]
pub struct UserConnections {
    counts: Arc<Mutex<HashMap<i64, usize>>>,
}

/// One socket's place in [`UserConnections`]; freed on drop.
#[derive(Debug)]
pub struct ConnectionSlot {
    counts: Arc<Mutex<HashMap<i64, usize>>>,
    user_id: i64,
}

impl UserConnections {
    /// A slot for one more socket of the user, or `None` when it holds `max` already.
    pub fn acquire(&self, user_id: i64, max: usize) -> Option<ConnectionSlot> {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let count = counts.entry(user_id).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            counts: Arc::clone(&self.counts),
            user_id,
        })
    }

    /// Live sockets of the user.
    pub fn count(&self, user_id: i64) -> usize {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        counts.get(&user_id).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(count) = counts.get_mut(&self.user_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_messages_are_limited_then_abusive() {
        let mut limit = RateLimit::new(10, 3);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(limit.check(now), Verdict::Allowed);
        }
        for _ in 0..3 {
            assert_eq!(limit.check(now), Verdict::Limited);
        }
        assert_eq!(limit.check(now), Verdict::Abusive);
    }

    #[test]
    fn tokens_refill_at_the_rate() {
        let mut limit = RateLimit::new(10, 1);
        let now = Instant::now();
        assert_eq!(limit.check(now), Verdict::Allowed);
        assert_eq!(limit.check(now), Verdict::Limited);
        let later = now + Duration::from_millis(100);
        assert_eq!(limit.check(later), Verdict::Allowed);
    }

    #[test]
    fn an_allowed_message_forgives_earlier_refusals() {
        let mut limit = RateLimit::new(10, 2);
        let now = Instant::now();
        limit.check(now);
        limit.check(now);
        assert_eq!(limit.check(now), Verdict::Limited);
        assert_eq!(
            limit.check(now + Duration::from_millis(100)),
            Verdict::Allowed
        );
        assert_eq!(limit.refused, 0);
    }

    #[test]
    fn a_peer_that_answers_no_ping_twice_is_dead() {
        let liveness = Liveness::default();
        assert!(liveness.ping());
        liveness.heard();
        assert!(liveness.ping());
        assert!(liveness.ping());
        assert!(!liveness.ping());
    }

    #[test]
    fn connection_slots_are_capped_per_user_and_freed_on_drop() {
        let connections = UserConnections::default();
        let (alice, bob) = (1, 2);
        let first = connections.acquire(alice, 2).unwrap();
        let _second = connections.acquire(alice, 2).unwrap();
        assert!(connections.acquire(alice, 2).is_none());
        assert!(connections.acquire(bob, 2).is_some());
        drop(first);
        assert_eq!(connections.count(alice), 1);
        assert!(connections.acquire(alice, 2).is_some());
    }
}
