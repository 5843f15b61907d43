//! A JWKS document fetched from a URL, with keys picked by `kid`.
//!
//! An unknown `kid` re-reads the document at most once a minute; concurrent
//! misses wait for one fetch instead of each starting their own. A fetch that
//! fails or takes too long fails closed.
//!
//! Keys have a maximum age: once the last successful read is older, no key
//! is trusted until the document has been read again, so a key removed from
//! the JWKS stops verifying within that age. The re-read obeys the same
//! least interval as the one for unknown `kid`s; while it fails, tokens are
//! refused (fail closed) rather than checked against the stale keys.

use std::{
    collections::HashMap,
    sync::{PoisonError, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{
    Algorithm, DecodingKey,
    jwk::{AlgorithmParameters, Jwk, JwkSet, PublicKeyUse},
};

use super::{AuthError, AuthSetupError};

/// How long one fetch of the document may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) struct JwksCache {
    url: String,
    /// Least time between two reads; an unknown `kid` sooner is refused.
    min_refresh: Duration,
    /// Longest time keys are trusted after the read that brought them.
    max_age: Duration,
    client: reqwest::Client,
    keys: RwLock<KeySet>,
    /// When the document was last fetched; held across a fetch so that
    /// concurrent misses coalesce into one request.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

/// The keys of the last successful read, and when it happened.
#[derive(Default)]
struct KeySet {
    keys: HashMap<String, CachedKey>,
    read_at: Option<Instant>,
}

impl KeySet {
    fn is_younger_than(&self, age: Duration) -> bool {
        self.read_at.is_some_and(|at| at.elapsed() < age)
    }
}

#[derive(Clone)]
struct CachedKey {
    key: DecodingKey,
    family: KeyFamily,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyFamily {
    Rsa,
    Ec,
}

impl JwksCache {
    pub(super) fn new(
        url: String,
        min_refresh: Duration,
        max_age: Duration,
    ) -> Result<Self, AuthSetupError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            url,
            min_refresh,
            max_age,
            client,
            keys: RwLock::new(KeySet::default()),
            last_fetch: tokio::sync::Mutex::new(None),
        })
    }

    /// The key named `kid`, fit for `alg`, from keys younger than the maximum age.
    pub(super) async fn key(&self, kid: &str, alg: Algorithm) -> Result<DecodingKey, AuthError> {
        if let Some(key) = self.cached(kid) {
            return fit(key, alg);
        }
        let mut last_fetch = self.last_fetch.lock().await;
        // Another caller may have fetched while this one waited.
        if let Some(key) = self.cached(kid) {
            return fit(key, alg);
        }
        if last_fetch.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return Err(if self.is_fresh() {
                AuthError::UnknownKey
            } else {
                AuthError::KeysUnavailable
            });
        }
        *last_fetch = Some(Instant::now());
        let fetched = self.fetch().await;
        let keys = fetched.map_err(|err| {
            tracing::warn!(error = %err, "JWKS fetch failed");
            AuthError::KeysUnavailable
        })?;
        tracing::info!(keys = keys.len(), "JWKS document read");
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = KeySet {
            keys,
            read_at: Some(Instant::now()),
        };
        drop(last_fetch);
        self.cached(kid)
            .map_or(Err(AuthError::UnknownKey), |key| fit(key, alg))
    }

    /// The key named `kid`, unless the keys are older than the maximum age.
    fn cached(&self, kid: &str) -> Option<CachedKey> {
        let set = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let fresh = set.is_younger_than(self.max_age);
        fresh.then(|| set.keys.get(kid).cloned()).flatten()
    }

    /// Whether the last successful read is younger than the maximum age.
    fn is_fresh(&self) -> bool {
        let set = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        set.is_younger_than(self.max_age)
    }

    async fn fetch(&self) -> Result<HashMap<String, CachedKey>, reqwest::Error> {
        let set: JwkSet = self
            .client
            .get(&self.url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(set.keys.iter().filter_map(usable_key).collect())
    }
}

/// Signature keys of RSA or EC type with a `kid`; everything else is ignored.
fn usable_key(jwk: &Jwk) -> Option<(String, CachedKey)> {
    let kid = jwk.common.key_id.clone()?;
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let family = match jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyFamily::Rsa,
        AlgorithmParameters::EllipticCurve(_) => KeyFamily::Ec,
        _ => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, CachedKey { key, family }))
}

fn fit(key: CachedKey, alg: Algorithm) -> Result<DecodingKey, AuthError> {
    let family = match alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => KeyFamily::Rsa,
        Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => KeyFamily::Rsa,
        Algorithm::ES256 | Algorithm::ES384 => KeyFamily::Ec,
        _ => return Err(AuthError::WrongAlgorithm),
    };
    if key.family == family {
        Ok(key.key)
    } else {
        Err(AuthError::WrongAlgorithm)
    }
}
