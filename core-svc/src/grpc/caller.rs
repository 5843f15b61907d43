//! Who is calling: the bearer token of the request's metadata, verified,
//! then resolved to a user id (creating the user on first sight), with the
//! token's verified expiry for callers that hold it for long (WebSockets).

use moka::future::Cache;
use tonic::Request;

use crate::{auth::Verifier, domain::UserId, error::Error, store::Store};

/// Users whose id is remembered, so most calls need no user query.
const CACHED_USERS: u64 = 100_000;

#[derive(Clone)]
pub struct Authenticator {
    verifier: Verifier,
    store: Store,
    /// `sub` → (id, email as last stored).
    known: Cache<String, (UserId, String)>,
}

impl Authenticator {
    pub fn new(verifier: Verifier, store: Store) -> Self {
        Self {
            verifier,
            store,
            known: Cache::new(CACHED_USERS),
        }
    }

    /// The calling user; UNAUTHENTICATED before anything else is looked at.
    pub async fn caller<T>(&self, request: &Request<T>) -> Result<UserId, Error> {
        self.authenticate(request).await.map(|caller| caller.id)
    }

    /// The calling user and the verified expiry of their token.
    pub async fn authenticate<T>(&self, request: &Request<T>) -> Result<Caller, Error> {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok());
        self.authorize(header).await
    }

    /// The user of an `authorization` value (`Bearer <jwt>`), checked as a
    /// call's header is: an edge link's sockets each carry their own.
    pub async fn authorize(&self, header: Option<&str>) -> Result<Caller, Error> {
        let identity = self.verifier.verify(header).await?;
        let token_exp = identity.exp;
        let cached = self.known.get(&identity.sub).await;
        let id = match cached {
            Some((id, email)) if identity.email.is_empty() || email == identity.email => id,
            _ => {
                let id = self
                    .store
                    .upsert_user(&identity.sub, &identity.email)
                    .await?;
                self.known.insert(identity.sub, (id, identity.email)).await;
                id
            }
        };
        tracing::Span::current().record("user_id", id.get());
        Ok(Caller { id, token_exp })
    }
}

impl Authenticator {
    /// Checks that the caller is a service whose token grants `scope`:
    /// UNAUTHENTICATED for a bad token, PERMISSION_DENIED without the
    /// scope. No user is looked up or created for a service.
    pub async fn service<T>(&self, request: &Request<T>, scope: &str) -> Result<(), Error> {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok());
        let identity = self.verifier.verify(header).await?;
        if identity.has_scope(scope) {
            Ok(())
        } else {
            Err(Error::PermissionDenied(
                "the token does not grant this service",
            ))
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The user the token's `sub` resolves to.
    pub id: UserId,
    /// The token's `exp`, Unix seconds, as the verifier read it.
    pub token_exp: u64,
}
