//! The `Origin` allow-list of WebSocket handshakes, against cross-site
//! WebSocket hijacking: a page on another site cannot open a socket with the
//! user's browser credentials.
//!
//! Browsers always send `Origin` on a WebSocket handshake; a request with an
//! `Origin` that is not on the list gets HTTP 403 before the upgrade. A
//! request **without** `Origin` is allowed: it comes from a non-browser
//! client (websocat, Postman, a server), which could set any header anyway
//! and must present a token like everyone. Entries match exactly on scheme,
//! host and port (`http://example.com` is `http://example.com:80`); there
//! are no wildcards, and the opaque origin `null` matches nothing.

use std::fmt;
use std::str::FromStr;

/// The development default: the edge's own two ports on both loopback names.
pub const DEVELOPMENT_ORIGINS: &str =
    "http://127.0.0.1:8000,http://127.0.0.1:8001,http://localhost:8000,http://localhost:8001";

/// One allowed origin: `scheme://host[:port]`, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

/// Why a configured origin is not `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("an origin is scheme://host[:port], got {0:?}")]
    Shape(String),
    #[error("unknown scheme in origin {0:?} (http, https, ws or wss)")]
    Scheme(String),
    #[error("bad port in origin {0:?}")]
    Port(String),
}

impl FromStr for Origin {
    type Err = OriginError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let shape = || OriginError::Shape(raw.to_owned());
        let (scheme, authority) = raw.trim().split_once("://").ok_or_else(shape)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" | "ws" => 80,
            "https" | "wss" => 443,
            _ => return Err(OriginError::Scheme(raw.to_owned())),
        };
        let bad_authority = authority.is_empty()
            || authority
                .bytes()
                .any(|b| matches!(b, b'/' | b'?' | b'#' | b'@') || !b.is_ascii_graphic());
        if bad_authority {
            return Err(shape());
        }
        let (host, port) =
            split_port(authority, default_port).ok_or_else(|| OriginError::Port(raw.to_owned()))?;
        if host.is_empty() {
            return Err(shape());
        }
        Ok(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

/// `host` and port of `host[:port]` (IPv6 hosts in brackets).
fn split_port(authority: &str, default_port: u16) -> Option<(&str, u16)> {
    let port_at = match authority.rfind(':') {
        Some(at) if !authority[at..].contains(']') => at,
        _ => return Some((authority, default_port)),
    };
    let port = authority[port_at + 1..].parse().ok()?;
    Some((&authority[..port_at], port))
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// The configured allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<Origin>);

impl AllowedOrigins {
    pub fn new(origins: Vec<Origin>) -> Self {
        Self(origins)
    }

    /// Whether a handshake with this `Origin` header value (or none) may
    /// upgrade, given the request's `Host`. A page of this very edge (its
    /// Origin names the Host the request went to, like the demo page) is
    /// same-origin and always allowed: a foreign page cannot make a browser
    /// send that pair.
    pub fn allows(&self, origin: Option<&[u8]>, host: Option<&[u8]>) -> bool {
        let Some(origin) = origin.and_then(|raw| std::str::from_utf8(raw).ok()) else {
            return origin.is_none();
        };
        if is_same_origin(origin, host) {
            return true;
        }
        origin
            .parse::<Origin>()
            .is_ok_and(|origin| self.0.contains(&origin))
    }
}

/// The Origin's `host[:port]`, as written, is the request's Host.
fn is_same_origin(origin: &str, host: Option<&[u8]>) -> bool {
    let authority = origin.split_once("://").map(|(_, authority)| authority);
    match (
        authority,
        host.and_then(|raw| std::str::from_utf8(raw).ok()),
    ) {
        (Some(authority), Some(host)) => !host.is_empty() && authority.eq_ignore_ascii_case(host),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(origins: &str) -> AllowedOrigins {
        AllowedOrigins::new(origins.split(',').map(|o| o.parse().unwrap()).collect())
    }

    #[test]
    fn an_exact_origin_is_allowed() {
        let allowed = list(DEVELOPMENT_ORIGINS);
        assert!(allowed.allows(Some(b"http://127.0.0.1:8000"), Some(b"edge.internal:8001")));
        assert!(allowed.allows(Some(b"http://LOCALHOST:8001"), Some(b"edge.internal:8001")));
    }

    #[test]
    fn another_scheme_host_or_port_is_refused() {
        let allowed = list("https://chat.example.com");
        assert!(allowed.allows(
            Some(b"https://chat.example.com"),
            Some(b"edge.internal:8001")
        ));
        assert!(allowed.allows(
            Some(b"https://chat.example.com:443"),
            Some(b"edge.internal:8001")
        ));
        for origin in [
            "http://chat.example.com",
            "https://chat.example.com:8443",
            "https://evil.example.com",
            "https://chat.example.com.evil.com",
            "https://evilchat.example.com",
            "null",
            "",
            "https://chat.example.com/",
            "https://user@chat.example.com",
        ] {
            assert!(
                !allowed.allows(Some(origin.as_bytes()), Some(b"edge.internal:8001")),
                "{origin} allowed"
            );
        }
        assert!(!allowed.allows(
            Some(b"https://chat.example.com\xff"),
            Some(b"edge.internal:8001")
        ));
    }

    #[test]
    fn a_handshake_without_origin_is_allowed() {
        assert!(list("https://chat.example.com").allows(None, Some(b"edge.internal:8001")));
        assert!(AllowedOrigins::default().allows(None, Some(b"edge.internal:8001")));
    }

    #[test]
    fn configured_origins_must_be_scheme_host_and_port() {
        assert!("chat.example.com".parse::<Origin>().is_err());
        assert!("ftp://chat.example.com".parse::<Origin>().is_err());
        assert!("http://chat.example.com:99999".parse::<Origin>().is_err());
        assert!("http://".parse::<Origin>().is_err());
        assert_eq!(
            "http://[::1]:8000".parse::<Origin>().unwrap().to_string(),
            "http://[::1]:8000"
        );
        assert_eq!(
            "http://[::1]".parse::<Origin>().unwrap().to_string(),
            "http://[::1]:80"
        );
    }

    #[test]
    fn a_page_of_this_very_edge_is_same_origin() {
        let allowed = list("https://chat.example.com");
        assert!(allowed.allows(Some(b"http://127.0.0.1:43123"), Some(b"127.0.0.1:43123")));
        assert!(allowed.allows(
            Some(b"https://edge.internal:8001"),
            Some(b"EDGE.internal:8001")
        ));
        // Another port, or no Host at all, is not the same origin.
        assert!(!allowed.allows(Some(b"http://127.0.0.1:43124"), Some(b"127.0.0.1:43123")));
        assert!(!allowed.allows(Some(b"http://127.0.0.1:43123"), None));
        assert!(!allowed.allows(Some(b"http://evil.test"), Some(b"")));
    }
}
