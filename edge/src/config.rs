//! The edge's settings: one `clap` struct, every flag with an environment
//! variable as its fallback. Tests build it with [`Config::new`].

use std::net::SocketAddr;
use std::time::Duration;

pub use service_kit::secret::Secret;
use service_kit::settings::{DEV_MODE_HELP, dev_mode_parser};

use crate::core_client::LinkSizes;
pub use crate::core_client::link::{HELLO_PART_BYTES, UP_QUEUE};
use crate::rest::rate_limit::RestRate;
use crate::serve::ConnLimits;
use crate::ws::limits::{UserConnections, WsPolicy};
use crate::ws::origin::{AllowedOrigins, DEVELOPMENT_ORIGINS, Origin};

/// Default deadline of every unary call on the core, in milliseconds.
pub const DEFAULT_CORE_DEADLINE_MS: u64 = 5_000;
/// Default capacity of each WebSocket's outbound frame queue.
pub const DEFAULT_WS_QUEUE: usize = 256;
/// Default time a WebSocket's outbound queue may stay full, in milliseconds.
pub const DEFAULT_WS_STALL_MS: u64 = 10_000;
/// Default time between two server pings on a WebSocket, in milliseconds.
pub const DEFAULT_WS_PING_MS: u64 = 30_000;
/// Default sustained client messages per second on one WebSocket.
pub const DEFAULT_WS_RATE_PER_SEC: u32 = 10;
/// Default burst of client messages on one WebSocket.
pub const DEFAULT_WS_RATE_BURST: u32 = 20;
/// Default WebSockets one user may hold on one edge.
pub const DEFAULT_WS_MAX_PER_USER: usize = 20;
/// Default time a client has to send each request head, in milliseconds.
pub const DEFAULT_HTTP_HEADER_TIMEOUT_MS: u64 = 10_000;
/// Default time a connection may move no byte before it is closed, in milliseconds.
pub const DEFAULT_HTTP_IDLE_TIMEOUT_MS: u64 = 60_000;
/// Default connections per source address (0: no limit; behind a proxy every
/// client shares the proxy's address).
pub const DEFAULT_HTTP_MAX_CONNS_PER_ADDR: usize = 0;
/// Default sustained REST writes per second of one user.
pub const DEFAULT_REST_RATE_PER_SEC: u32 = 5;
/// Default burst of REST writes of one user.
pub const DEFAULT_REST_RATE_BURST: u32 = 20;

/// Settings of the edge binary.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "edge",
    version,
    about = "The chat edge: REST and WebSocket over the core's gRPC API"
)]
pub struct Config {
    /// Addresses to listen on, comma-separated; every address serves every route.
    #[arg(
        long,
        env = "CHAT_HTTP_ADDRS",
        value_delimiter = ',',
        default_value = "127.0.0.1:8000,127.0.0.1:8001"
    )]
    pub http_addrs: Vec<SocketAddr>,

    /// URLs of the cores' gRPC service, comma-separated: the edge links to one core at a time and fails over to the next when it breaks; unary calls go to any that answers.
    #[arg(long, env = "CHAT_CORE_URL", default_value = "http://127.0.0.1:50051")]
    pub core_url: String,

    /// Deadline of every unary call on the core (and of opening a socket or a link; no core answering for as long closes the open sockets with 1011), in milliseconds.
    #[arg(long, env = "CHAT_CORE_DEADLINE_MS", default_value_t = DEFAULT_CORE_DEADLINE_MS)]
    pub core_deadline_ms: u64,

    /// Items queued on the link to the core beyond its hello; while it is full, the edge holds closes as a set of socket ids and openings waiting their turn (the opening sockets wait), and sends them once the link takes more.
    #[arg(long, env = "CHAT_LINK_UP_QUEUE", default_value_t = UP_QUEUE,
          value_parser = clap::value_parser!(usize))]
    pub link_up_queue: usize,

    /// The size each part of a link's hello stays under, in bytes: after a broken link, the hello naming every socket the edge holds goes up in parts of about this size.
    #[arg(long, env = "CHAT_LINK_HELLO_PART_BYTES", default_value_t = HELLO_PART_BYTES,
          value_parser = clap::value_parser!(usize))]
    pub link_hello_part_bytes: usize,

    /// Frames queued for one WebSocket; while it is full, the edge holds up to 4,096 more of its room's events, and closes it (1013) beyond that.
    #[arg(long, env = "CHAT_WS_QUEUE", default_value_t = DEFAULT_WS_QUEUE, value_parser = clap::value_parser!(usize))]
    pub ws_queue: usize,

    /// How long a WebSocket's queue may stay full before the client counts as too slow and is closed (1013), in milliseconds.
    #[arg(long, env = "CHAT_WS_STALL_MS", default_value_t = DEFAULT_WS_STALL_MS)]
    pub ws_stall_ms: u64,

    /// Origins (scheme://host[:port], comma-separated, exact) whose pages may open WebSockets; a handshake with another Origin gets 403, one without Origin (non-browser clients) is allowed.
    #[arg(long, env = "CHAT_ALLOWED_ORIGINS", value_delimiter = ',', default_value = DEVELOPMENT_ORIGINS)]
    pub allowed_origins: Vec<Origin>,

    /// Time between server pings on a WebSocket, in milliseconds; a peer that answers none of two in a row is closed.
    #[arg(long, env = "CHAT_WS_PING_MS", default_value_t = DEFAULT_WS_PING_MS,
          value_parser = clap::value_parser!(u64).range(10..))]
    pub ws_ping_ms: u64,

    /// Sustained client messages per second on one WebSocket; more get `rate_limited` error frames.
    #[arg(long, env = "CHAT_WS_RATE_PER_SEC", default_value_t = DEFAULT_WS_RATE_PER_SEC,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub ws_rate_per_sec: u32,

    /// Client messages one WebSocket may send at once; a further burst of refused ones closes it (1008).
    #[arg(long, env = "CHAT_WS_RATE_BURST", default_value_t = DEFAULT_WS_RATE_BURST,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub ws_rate_burst: u32,

    /// WebSockets one user may hold on this edge at once; one more is closed with 4429.
    #[arg(long, env = "CHAT_WS_MAX_PER_USER", default_value_t = DEFAULT_WS_MAX_PER_USER)]
    pub ws_max_per_user: usize,

    /// Time a client has to send each request head (also the longest an idle keep-alive connection stays open), in milliseconds.
    #[arg(long, env = "CHAT_HTTP_HEADER_TIMEOUT_MS", default_value_t = DEFAULT_HTTP_HEADER_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub http_header_timeout_ms: u64,

    /// Time an HTTP connection may move no byte either way, also in the middle of a request, before it is closed, in milliseconds (WebSockets are exempt: they have pings).
    #[arg(long, env = "CHAT_HTTP_IDLE_TIMEOUT_MS", default_value_t = DEFAULT_HTTP_IDLE_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub http_idle_timeout_ms: u64,

    /// Connections (WebSockets included) one source address may hold at once; more are closed at accept. 0: no limit (right behind a proxy, where every client has the proxy's address).
    #[arg(long, env = "CHAT_HTTP_MAX_CONNS_PER_ADDR", default_value_t = DEFAULT_HTTP_MAX_CONNS_PER_ADDR)]
    pub http_max_conns_per_addr: usize,

    /// Sustained REST writes (POST, PUT, DELETE) per second of one user on this edge; more get 429 with Retry-After.
    #[arg(long, env = "CHAT_REST_RATE_PER_SEC", default_value_t = DEFAULT_REST_RATE_PER_SEC,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub rest_rate_per_sec: u32,

    /// REST writes one user may make at once after a quiet spell.
    #[arg(long, env = "CHAT_REST_RATE_BURST", default_value_t = DEFAULT_REST_RATE_BURST,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub rest_rate_burst: u32,

    /// Log format: `human` (readable lines) or `json` (one object per line).
    #[arg(long, env = "CHAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// Development mode: here, the demo chat page at `/` and development
    /// tokens at `POST /dev/token`. Never on a shared deployment.
    #[arg(long, env = "CHAT_DEV_MODE", help = DEV_MODE_HELP, action = clap::ArgAction::SetTrue,
          value_parser = dev_mode_parser())]
    pub dev_mode: bool,

    /// HS256 secret of development tokens (development mode only); it must be the core's.
    /// Unset: the core's public built-in development secret.
    #[arg(long, env = "CHAT_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// The edge's service token (a JWT whose `scope` holds `chat:edge`), presented on its link to the core. Required outside development mode; unset in development mode, the edge mints one for each link with the development secret (`--jwt-secret`).
    #[arg(long, env = "CHAT_EDGE_TOKEN", hide_env_values = true)]
    pub edge_token: Option<Secret>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

impl Config {
    /// Settings with every default, talking to the core at `core_url`.
    pub fn new(core_url: impl Into<String>) -> Self {
        Self {
            http_addrs: Vec::new(),
            core_url: core_url.into(),
            core_deadline_ms: DEFAULT_CORE_DEADLINE_MS,
            link_up_queue: UP_QUEUE,
            link_hello_part_bytes: HELLO_PART_BYTES,
            ws_queue: DEFAULT_WS_QUEUE,
            ws_stall_ms: DEFAULT_WS_STALL_MS,
            log_format: LogFormat::Human,
            dev_mode: false,
            jwt_secret: None,
            edge_token: None,
            allowed_origins: DEVELOPMENT_ORIGINS
                .split(',')
                .filter_map(|origin| origin.parse().ok())
                .collect(),
            ws_ping_ms: DEFAULT_WS_PING_MS,
            ws_rate_per_sec: DEFAULT_WS_RATE_PER_SEC,
            ws_rate_burst: DEFAULT_WS_RATE_BURST,
            ws_max_per_user: DEFAULT_WS_MAX_PER_USER,
            http_header_timeout_ms: DEFAULT_HTTP_HEADER_TIMEOUT_MS,
            http_idle_timeout_ms: DEFAULT_HTTP_IDLE_TIMEOUT_MS,
            http_max_conns_per_addr: DEFAULT_HTTP_MAX_CONNS_PER_ADDR,
            rest_rate_per_sec: DEFAULT_REST_RATE_PER_SEC,
            rest_rate_burst: DEFAULT_REST_RATE_BURST,
        }
    }

    /// The cores' URLs: `core_url` split at commas, blanks left out.
    pub fn core_urls(&self) -> Vec<String> {
        let urls = self.core_url.split(',').map(str::trim);
        urls.filter(|url| !url.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The deadline of every unary call on the core.
    pub fn core_deadline(&self) -> Duration {
        Duration::from_millis(self.core_deadline_ms)
    }

    /// How much the link to the core queues, and how its hello is cut.
    pub fn link_sizes(&self) -> LinkSizes {
        LinkSizes {
            up_queue: self.link_up_queue,
            hello_part_bytes: self.link_hello_part_bytes,
        }
    }

    /// How long a WebSocket's outbound queue may stay full.
    pub fn ws_stall(&self) -> Duration {
        Duration::from_millis(self.ws_stall_ms)
    }

    /// The limits of every HTTP connection.
    pub fn conn_limits(&self) -> ConnLimits {
        ConnLimits {
            header_read_timeout: Duration::from_millis(self.http_header_timeout_ms),
            idle_timeout: Duration::from_millis(self.http_idle_timeout_ms),
            max_per_address: self.http_max_conns_per_addr,
        }
    }

    /// The per-user limit of REST writes.
    pub fn rest_rate(&self) -> RestRate {
        RestRate::new(self.rest_rate_per_sec, self.rest_rate_burst)
    }

    /// The limits of every WebSocket session.
    pub fn ws_policy(&self) -> WsPolicy {
        WsPolicy {
            origins: AllowedOrigins::new(self.allowed_origins.clone()),
            ping_interval: Duration::from_millis(self.ws_ping_ms),
            rate_per_sec: self.ws_rate_per_sec,
            rate_burst: self.ws_rate_burst,
            max_per_user: self.ws_max_per_user,
            connections: UserConnections::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_listen_on_both_documented_ports() {
        let config = Config::try_parse_from(["edge"]).expect("defaults parse");
        let addrs: Vec<String> = config.http_addrs.iter().map(ToString::to_string).collect();
        assert_eq!(addrs, ["127.0.0.1:8000", "127.0.0.1:8001"]);
        assert_eq!(config.core_url, "http://127.0.0.1:50051");
        assert_eq!(config.ws_stall(), Duration::from_secs(10));
        assert_eq!(config.allowed_origins, Config::new("x").allowed_origins);
        assert_eq!(config.allowed_origins.len(), 4);
    }

    #[test]
    fn development_mode_is_a_flag_and_off_by_default() {
        assert!(!Config::try_parse_from(["edge"]).unwrap().dev_mode);
        assert!(
            Config::try_parse_from(["edge", "--dev-mode"])
                .unwrap()
                .dev_mode
        );
    }

    #[test]
    fn development_mode_is_documented_with_the_text_the_core_shows_too() {
        let command = <Config as clap::CommandFactory>::command();
        let help = command
            .get_arguments()
            .find(|arg| arg.get_id() == "dev_mode")
            .and_then(|arg| arg.get_help().map(ToString::to_string));
        assert_eq!(help.as_deref(), Some(DEV_MODE_HELP));
    }

    #[test]
    fn core_urls_are_comma_separated() {
        let config = Config::new("http://a:1, http://b:2,");
        assert_eq!(config.core_urls(), ["http://a:1", "http://b:2"]);
    }

    #[test]
    fn addresses_are_comma_separated() {
        let config = Config::try_parse_from(["edge", "--http-addrs", "127.0.0.1:1,[::1]:2"])
            .expect("addresses parse");
        assert_eq!(config.http_addrs.len(), 2);
    }
}
