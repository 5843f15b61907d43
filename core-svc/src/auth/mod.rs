//! Token verification: `authorization: Bearer <jwt>` in, an [`Identity`] out.
//!
//! Algorithms are pinned by configuration and never taken from the token;
//! `exp` is required, `nbf` honoured, `iss`/`aud` checked when configured;
//! a header naming `crit` extensions is refused (none are understood).
//! Tokens are never logged; a refusal logs its reason at debug level.

mod dev_token;
mod jwks;
mod numeric_date;

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, errors::ErrorKind};
use serde::Deserialize;

pub use dev_token::{DEV_JWT_SECRET, dev_token};
use jwks::JwksCache;

use crate::config::AuthConfig;
use crate::domain::has_nul;

/// Who a verified token speaks for, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub sub: String,
    pub email: String,
    /// The token's `exp`, Unix seconds, read as the validation read it.
    pub exp: u64,
    /// The `scope` claim (space-separated); empty when absent or not a string.
    pub scope: String,
}

/// Why a request is not authenticated; the text is safe to send back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed authorization header")]
    Malformed,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token audience not accepted")]
    WrongAudience,
    #[error("token issuer not accepted")]
    WrongIssuer,
    #[error("token algorithm not accepted")]
    WrongAlgorithm,
    /// RFC 7515 §4.1.11: the header names extensions this verifier must
    /// understand, and it understands none.
    #[error("token header has critical parameters that are not understood")]
    UnknownCritical,
    /// `sub` or `email` holds U+0000, which no user record can store.
    #[error("token claims hold a NUL character")]
    NulInClaims,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("signing keys unavailable")]
    KeysUnavailable,
    #[error("invalid token")]
    Invalid,
}

/// The least length of a configured HS256 secret outside development mode
/// (RFC 7518 §3.2: a key at least as long as the hash output).
pub const MIN_SECRET_BYTES: usize = 32;

/// A configuration that cannot verify anything.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("unknown JWT algorithm {0:?}")]
    UnknownAlgorithm(String),
    #[error("algorithm {0:?} does not fit the configured key source")]
    AlgorithmMismatch(Algorithm),
    #[error(
        "the JWT secret is shorter than {MIN_SECRET_BYTES} bytes; use a longer one \
         (or --dev-mode / CHAT_DEV_MODE for local development)"
    )]
    WeakSecret,
    #[error("cannot build the JWKS client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Verifies bearer tokens; cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    keys: KeySource,
    /// One validation per accepted algorithm: jsonwebtoken wants every
    /// algorithm of a validation to fit the key's family.
    validations: HashMap<Algorithm, Validation>,
}

enum KeySource {
    Secret(DecodingKey),
    Jwks(JwksCache),
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(deserialize_with = "numeric_date::deserialize")]
    exp: u64,
    /// Any JSON: a `scope` of another shape only grants nothing.
    #[serde(default)]
    scope: Option<serde_json::Value>,
}

impl Verifier {
    /// Builds a verifier; with neither secret nor JWKS URL it uses
    /// [`DEV_JWT_SECRET`] (the caller warns about that).
    pub fn new(config: &AuthConfig) -> Result<Self, AuthSetupError> {
        let algorithms = algorithms(config)?;
        let keys = match &config.jwks_url {
            Some(url) => {
                reject_algorithms(&algorithms, |alg| {
                    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
                })?;
                KeySource::Jwks(JwksCache::new(
                    url.clone(),
                    Duration::from_secs(config.jwks_min_refresh_secs),
                    Duration::from_secs(config.jwks_max_age_secs),
                )?)
            }
            None => {
                reject_algorithms(&algorithms, |alg| {
                    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
                })?;
                KeySource::Secret(DecodingKey::from_secret(secret(config)?.as_bytes()))
            }
        };
        let validations = algorithms
            .iter()
            .map(|&alg| (alg, validation(config, alg)))
            .collect();
        Ok(Self {
            inner: Arc::new(Inner { keys, validations }),
        })
    }

    /// Verifies the value of an `authorization` header or metadata entry;
    /// a refusal is logged with its reason (never the token) at debug level.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Identity, AuthError> {
        let verified = self.check(authorization).await;
        if let Err(reason) = &verified {
            tracing::debug!(%reason, "token refused");
        }
        verified
    }

    async fn check(&self, authorization: Option<&str>) -> Result<Identity, AuthError> {
        let token = bearer_token(authorization)?;
        let header = decode_header(token).map_err(|err| refused(&err))?;
        if header.crit.is_some() {
            return Err(AuthError::UnknownCritical);
        }
        let validation = self
            .inner
            .validations
            .get(&header.alg)
            .ok_or(AuthError::WrongAlgorithm)?;
        let claims = match &self.inner.keys {
            KeySource::Secret(key) => decode_claims(token, key, validation)?,
            KeySource::Jwks(cache) => {
                let kid = header.kid.as_deref().ok_or(AuthError::UnknownKey)?;
                let key = cache.key(kid, header.alg).await?;
                decode_claims(token, &key, validation)?
            }
        };
        Identity::from_claims(claims)
    }
}

impl Identity {
    /// The identity of verified claims: a `sub` that is not blank, and
    /// neither `sub` nor `email` holding U+0000 (PostgreSQL cannot store it).
    fn from_claims(claims: Claims) -> Result<Self, AuthError> {
        if claims.sub.trim().is_empty() {
            return Err(AuthError::Invalid);
        }
        let email = claims.email.unwrap_or_default();
        if has_nul(&claims.sub) || has_nul(&email) {
            return Err(AuthError::NulInClaims);
        }
        let scope = match claims.scope {
            Some(serde_json::Value::String(scope)) => scope,
            _ => String::new(),
        };
        Ok(Self {
            sub: claims.sub,
            email,
            exp: claims.exp,
            scope,
        })
    }

    /// Whether the space-separated `scope` claim names `wanted`.
    pub fn has_scope(&self, wanted: &str) -> bool {
        !wanted.is_empty() && self.scope.split_whitespace().any(|scope| scope == wanted)
    }
}

fn decode_claims(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<Claims, AuthError> {
    decode::<Claims>(token, key, validation)
        .map(|data| data.claims)
        .map_err(|err| match err.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidAudience => AuthError::WrongAudience,
            ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
            ErrorKind::InvalidAlgorithm => AuthError::WrongAlgorithm,
            _ => refused(&err),
        })
}

/// [`AuthError::Invalid`], with what jsonwebtoken found wrong logged at
/// debug level: the kind only, since its details may quote claim values.
fn refused(err: &jsonwebtoken::errors::Error) -> AuthError {
    let detail = match err.kind() {
        ErrorKind::InvalidSignature => "signature does not verify",
        ErrorKind::MissingRequiredClaim(claim) => {
            tracing::debug!(%claim, "token lacks a required claim");
            "a required claim is missing"
        }
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => "malformed token",
        ErrorKind::Json(_) => "header or claims of the wrong shape",
        _ => "token refused by the JWT library",
    };
    tracing::debug!(detail, "token invalid");
    AuthError::Invalid
}

/// The claim checks for tokens signed with `alg`.
fn validation(config: &AuthConfig, alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = config.jwt_leeway_secs;
    validation.validate_nbf = true;
    // A configured claim must be present, not only right when present.
    let mut required = vec!["exp", "sub"];
    match &config.jwt_audience {
        Some(aud) => {
            validation.set_audience(&[aud]);
            required.push("aud");
        }
        None => validation.validate_aud = false,
    }
    if let Some(iss) = &config.jwt_issuer {
        validation.set_issuer(&[iss]);
        required.push("iss");
    }
    validation.set_required_spec_claims(&required);
    validation
}

/// Extracts the token of `Bearer <token>`; the scheme is case-insensitive.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let value = authorization.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

fn algorithms(config: &AuthConfig) -> Result<Vec<Algorithm>, AuthSetupError> {
    if config.jwt_algorithms.is_empty() {
        return Ok(match config.jwks_url {
            Some(_) => vec![Algorithm::RS256, Algorithm::ES256],
            None => vec![Algorithm::HS256],
        });
    }
    let mut seen = HashSet::new();
    let mut algorithms = Vec::new();
    for name in &config.jwt_algorithms {
        let alg: Algorithm = name
            .trim()
            .parse()
            .map_err(|_| AuthSetupError::UnknownAlgorithm(name.clone()))?;
        if seen.insert(alg) {
            algorithms.push(alg);
        }
    }
    Ok(algorithms)
}

/// The HS256 secret: the configured one (at least [`MIN_SECRET_BYTES`] long
/// unless in development mode) or the built-in development secret.
fn secret(config: &AuthConfig) -> Result<&str, AuthSetupError> {
    match &config.jwt_secret {
        None => Ok(DEV_JWT_SECRET),
        Some(secret) if secret.expose().len() < MIN_SECRET_BYTES && !config.dev_mode => {
            Err(AuthSetupError::WeakSecret)
        }
        Some(secret) => Ok(secret.expose()),
    }
}

fn reject_algorithms(
    algorithms: &[Algorithm],
    unfit: impl Fn(&Algorithm) -> bool,
) -> Result<(), AuthSetupError> {
    match algorithms.iter().find(|alg| unfit(alg)) {
        Some(alg) => Err(AuthSetupError::AlgorithmMismatch(*alg)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod scope_tests;
#[cfg(test)]
mod tests;
