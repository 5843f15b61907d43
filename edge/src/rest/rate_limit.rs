//! The per-user limit of REST writes (POST, PUT, DELETE): a token bucket per
//! user, answered `429` with `Retry-After` when empty.
//!
//! The bucket is keyed by the user id the core returns for the caller's
//! token (`WhoAmI`), never by anything read from the token unverified, so a
//! forged token cannot spend another user's budget and fresh tokens of one
//! user share one bucket. The verified id of a token is remembered for a
//! minute (keyed by a per-process keyed hash of the token), so a write costs
//! the extra call only once per token and minute. Both tables stay bounded:
//! a bucket that has refilled is the same as none and is swept, and so is a
//! remembered token past its minute.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use crate::AppState;
use crate::core_client::BearerToken;
use crate::error::{Error, ErrorBody};

/// How long the verified user of a token is remembered.
const IDENTITY_TTL: Duration = Duration::from_secs(60);
/// Tables are swept once they hold this many entries (and then at twice
/// what a sweep left).
const MIN_SWEEP: usize = 1024;

/// The REST write limit of one edge.
#[derive(Debug)]
pub struct RestRate {
    rate: f64,
    burst: f64,
    buckets: Mutex<Swept<i64, Bucket>>,
    identities: Mutex<Swept<u64, Identity>>,
    hasher: RandomState,
}

/// A user's bucket: `tokens` as of `last`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The user id the core gave for a token, and when.
#[derive(Debug, Clone, Copy)]
struct Identity {
    user_id: i64,
    verified: Instant,
}

/// A map that drops its stale entries whenever it has doubled in size.
#[derive(Debug)]
struct Swept<K, V> {
    entries: HashMap<K, V>,
    sweep_at: usize,
}

impl<K: std::hash::Hash + Eq, V> Swept<K, V> {
    fn new() -> Self {
        Self {
            entries: HashMap::new(),
            sweep_at: MIN_SWEEP,
        }
    }

    /// Drops every entry `stale` says is, once the map has grown enough.
    fn sweep(&mut self, stale: impl Fn(&V) -> bool) {
        if self.entries.len() >= self.sweep_at {
            self.entries.retain(|_, value| !stale(value));
            self.sweep_at = (self.entries.len() * 2).max(MIN_SWEEP);
        }
    }
}

impl RestRate {
    /// `rate_per_sec` writes per second sustained, `burst` at once.
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        Self {
            rate: f64::from(rate_per_sec.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(Swept::new()),
            identities: Mutex::new(Swept::new()),
            hasher: RandomState::new(),
        }
    }

    /// Takes one write of `user` at `now`; `Err` holds the wait until the next one is allowed.
    pub fn check(&self, user: i64, now: Instant) -> Result<(), Duration> {
        let (rate, burst) = (self.rate, self.burst);
        let mut buckets = lock(&self.buckets);
        buckets.sweep(|bucket| refilled(bucket, now, rate) >= burst);
        let bucket = buckets.entries.entry(user).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let tokens = refilled(bucket, now, rate).min(burst);
        *bucket = Bucket { tokens, last: now };
        if tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / rate))
        }
    }

    /// Users with a bucket that has not refilled yet (and some that have, until the next sweep).
    pub fn tracked_users(&self) -> usize {
        lock(&self.buckets).entries.len()
    }

    /// The user the core verified `token` as, within the last minute.
    fn remembered(&self, token: &BearerToken, now: Instant) -> Option<i64> {
        let key = self.hasher.hash_one(token.expose());
        let identities = lock(&self.identities);
        let identity = identities.entries.get(&key)?;
        (now.saturating_duration_since(identity.verified) < IDENTITY_TTL)
            .then_some(identity.user_id)
    }

    fn remember(&self, token: &BearerToken, user_id: i64, now: Instant) {
        let key = self.hasher.hash_one(token.expose());
        let mut identities = lock(&self.identities);
        identities
            .sweep(|identity| now.saturating_duration_since(identity.verified) >= IDENTITY_TTL);
        identities.entries.insert(
            key,
            Identity {
                user_id,
                verified: now,
            },
        );
    }
}

/// The bucket's tokens at `now`, before capping at the burst.
fn refilled(bucket: &Bucket, now: Instant, rate: f64) -> f64 {
    bucket.tokens + now.saturating_duration_since(bucket.last).as_secs_f64() * rate
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Middleware on the REST routes: a write of a caller over their rate gets
/// 429. Authentication comes first: no usable token is a 401, a refused one
/// the core's answer, as for any REST request.
pub async fn limit_writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::DELETE
    ) {
        return next.run(request).await;
    }
    let token = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(BearerToken::from_authorization);
    let Some(token) = token else {
        return Error::MissingCredentials.into_response();
    };
    let user_id = match verified_user(&state, &token).await {
        Ok(user_id) => user_id,
        Err(error) => return error.into_response(),
    };
    match state.rest_rate.check(user_id, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            tracing::info!(user_id, "REST write over the rate limit");
            too_many_requests(wait)
        }
    }
}

/// The id of the user `token` belongs to, as the core says.
async fn verified_user(state: &AppState, token: &BearerToken) -> Result<i64, Error> {
    let rate = &state.rest_rate;
    if let Some(user_id) = rate.remembered(token, Instant::now()) {
        return Ok(user_id);
    }
    let user = state.core.who_am_i(token).await?;
    rate.remember(token, user.id, Instant::now());
    Ok(user.id)
}

/// `429` with `Retry-After` in whole seconds (at least 1) and a `detail`.
fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait
        .as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0))
        .max(1);
    let body = ErrorBody {
        detail: format!("Too many requests; retry in {seconds} s."),
    };
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_the_burst_then_waits_for_the_rate() {
        let rate = RestRate::new(2, 3);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(rate.check(7, now), Ok(()));
        }
        assert_eq!(rate.check(7, now), Err(Duration::from_millis(500)));
        assert_eq!(rate.check(7, now + Duration::from_millis(500)), Ok(()));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        for (wait, expected) in [(0, "1"), (200, "1"), (1_000, "1"), (1_001, "2")] {
            let response = too_many_requests(Duration::from_millis(wait));
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(
                response.headers()[header::RETRY_AFTER],
                expected,
                "{wait} ms"
            );
        }
    }

    #[test]
    fn users_have_buckets_of_their_own() {
        let rate = RestRate::new(1, 1);
        let now = Instant::now();
        assert!(rate.check(1, now).is_ok());
        assert!(rate.check(1, now).is_err());
        assert!(rate.check(2, now).is_ok());
    }

    #[test]
    fn refilled_buckets_are_swept() {
        let rate = RestRate::new(10, 10);
        let start = Instant::now();
        for user in 0..3_000 {
            assert!(rate.check(user, start).is_ok());
        }
        let later = start + Duration::from_secs(2);
        for user in 3_000..6_000 {
            assert!(rate.check(user, later).is_ok());
        }
        assert_eq!(rate.tracked_users(), 3_000);
    }

    #[test]
    fn a_token_is_remembered_for_a_minute() {
        let rate = RestRate::new(1, 1);
        let token = BearerToken::parse("a.b.c").expect("a token");
        let other = BearerToken::parse("a.b.d").expect("a token");
        let now = Instant::now();
        rate.remember(&token, 42, now);
        assert_eq!(
            rate.remembered(&token, now + Duration::from_secs(59)),
            Some(42)
        );
        assert_eq!(rate.remembered(&token, now + IDENTITY_TTL), None);
        assert_eq!(rate.remembered(&other, now), None);
    }
}
