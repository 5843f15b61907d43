//! Command-line and environment configuration of the core service. The
//! defaults are the `DEFAULT_*` constants, which both clap and
//! [`Config::new`] read.

use std::{
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    path::PathBuf,
    time::Duration,
};

use clap::{ArgAction, Args, Parser, Subcommand};
pub use service_kit::secret::Secret;
use service_kit::settings::{DEV_MODE_HELP, dev_mode_parser};

/// Default address of the gRPC server.
pub const DEFAULT_GRPC_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50051));
/// Default directory of the project-local PostgreSQL.
pub const DEFAULT_DATA_DIR: &str = ".data/postgres";
/// Default largest number of PostgreSQL connections in the pool.
pub const DEFAULT_DB_POOL_SIZE: usize = 16;
/// Default seconds without a heartbeat after which an instance counts as dead.
pub const DEFAULT_INSTANCE_TTL_SECS: u64 = 15;
/// Default milliseconds between checks for missed announcements.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 1000;
/// Default address of the operators' HTTP listener.
pub const DEFAULT_METRICS_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9090));
/// Default log format.
pub const DEFAULT_LOG_FORMAT: LogFormat = LogFormat::Human;
/// Default most concurrent gRPC streams on one HTTP/2 connection.
pub const DEFAULT_GRPC_MAX_STREAMS: u32 = 10_000;
/// Default most rooms one edge link follows at once.
pub const DEFAULT_LINK_MAX_ROOMS: u32 = 100_000;
/// Default most sockets one edge link carries at once.
pub const DEFAULT_LINK_MAX_SOCKETS: u32 = 200_000;
/// Default items queued for one edge link.
pub const DEFAULT_LINK_QUEUE: u32 = 1024;
/// Deliveries queued per user stream.
pub const DEFAULT_INBOX_QUEUE: u32 = 1024;
/// Default least time between two JWKS reads caused by unknown `kid`s.
pub const DEFAULT_JWKS_MIN_REFRESH_SECS: u64 = 60;
/// Default longest time JWKS keys are trusted after the read that brought them.
pub const DEFAULT_JWKS_MAX_AGE_SECS: u64 = 300;
/// Default clock leeway for `exp` and `nbf`, in seconds.
pub const DEFAULT_JWT_LEEWAY_SECS: u64 = 30;

/// The chat core: all chat state and rules, served over gRPC on PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "core-svc", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve gRPC (the default when no command is given).
    Serve,
    /// Print an HS256 development token signed with the configured secret.
    DevToken(DevTokenArgs),
}

#[derive(Debug, Args)]
pub struct DevTokenArgs {
    /// The token's `sub` claim: the user's stable identity.
    #[arg(long, default_value = "dev-alice")]
    pub sub: String,
    /// The token's `email` claim (left out with --scope).
    #[arg(long, default_value = "alice@example.com")]
    pub email: String,
    /// A service token instead: this `scope` claim and no email, e.g.
    /// `chat:edge` for an edge's CHAT_EDGE_TOKEN or `chat:events` for the feed.
    #[arg(long)]
    pub scope: Option<String>,
    /// Lifetime of the token in seconds.
    #[arg(long, default_value_t = 86_400)]
    pub ttl_secs: u64,
}

/// Everything the running service needs; tests build it with [`Config::new`].
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(long, env = "CHAT_GRPC_ADDR", default_value_t = DEFAULT_GRPC_ADDR)]
    pub grpc_addr: SocketAddr,
    /// PostgreSQL connection string (URL or key=value). Unset: the core runs a
    /// project-local PostgreSQL of its own under `--data-dir`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// Where the project-local PostgreSQL keeps its data when DATABASE_URL is unset.
    #[arg(long, env = "CHAT_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Largest number of PostgreSQL connections in the pool.
    #[arg(long, env = "CHAT_DB_POOL_SIZE", default_value_t = DEFAULT_DB_POOL_SIZE)]
    pub db_pool_size: usize,
    /// Seconds without a heartbeat after which an instance counts as dead
    /// and its users' streams as closed (heartbeats come every third of it).
    #[arg(long, env = "CHAT_INSTANCE_TTL_SECS", default_value_t = DEFAULT_INSTANCE_TTL_SECS,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub instance_ttl_secs: u64,
    /// Milliseconds between checks of rooms with local subscribers for
    /// events whose announcement was missed.
    #[arg(long, env = "CHAT_POLL_INTERVAL_MS", default_value_t = DEFAULT_POLL_INTERVAL_MS,
          value_parser = clap::value_parser!(u64).range(10..))]
    pub poll_interval_ms: u64,
    /// Address of the HTTP listener for operators: `/metrics` (Prometheus),
    /// `/healthz` (liveness) and `/readyz` (readiness).
    #[arg(long, env = "CHAT_METRICS_ADDR", default_value_t = DEFAULT_METRICS_ADDR)]
    pub metrics_addr: SocketAddr,
    /// Log format: `human` (readable lines) or `json` (one object per line).
    #[arg(long, env = "CHAT_LOG_FORMAT", value_enum, default_value_t = DEFAULT_LOG_FORMAT)]
    pub log_format: LogFormat,
    /// Most concurrent gRPC streams (calls, `Subscribe` streams included) on
    /// one HTTP/2 connection; further streams wait or are refused. An edge's
    /// sockets share one `EdgeLink` stream, so this does not cap them.
    #[arg(long, env = "CHAT_GRPC_MAX_STREAMS", default_value_t = DEFAULT_GRPC_MAX_STREAMS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub grpc_max_streams: u32,
    /// Most rooms one edge link follows at once; a socket opening in one
    /// more is refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "CHAT_LINK_MAX_ROOMS", default_value_t = DEFAULT_LINK_MAX_ROOMS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub link_max_rooms: u32,
    /// Most sockets one edge link carries at once; one more is refused with
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "CHAT_LINK_MAX_SOCKETS", default_value_t = DEFAULT_LINK_MAX_SOCKETS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub link_max_sockets: u32,
    /// Items (events and answers) queued for one edge link; beyond it the
    /// link's rooms wait, and catch up from the event log.
    #[arg(long, env = "CHAT_LINK_QUEUE", default_value_t = DEFAULT_LINK_QUEUE,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub link_queue: u32,
    /// Deliveries (events, presence, typing) queued for one user stream
    /// (`InboxService.Stream`); a stream that falls this far behind is
    /// ended with RESOURCE_EXHAUSTED and resumes from its cursor.
    #[arg(long, env = "CHAT_INBOX_QUEUE", default_value_t = DEFAULT_INBOX_QUEUE,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub inbox_queue: u32,
    #[command(flatten)]
    pub auth: AuthConfig,
    #[command(flatten)]
    pub webhooks: crate::webhooks::WebhookConfig,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines for a terminal.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// How tokens are verified.
#[derive(Debug, Clone, Args)]
pub struct AuthConfig {
    /// HS256 shared secret. Unset (and no JWKS URL): a built-in development
    /// secret is used and the service says so loudly at start.
    #[arg(long, env = "CHAT_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// Development mode: here, a `--jwt-secret` shorter than 32 bytes is
    /// accepted (without it, refused at start). The built-in secret (no
    /// secret, no JWKS) always means development mode.
    #[arg(long, env = "CHAT_DEV_MODE", help = DEV_MODE_HELP, action = ArgAction::SetTrue,
          value_parser = dev_mode_parser())]
    pub dev_mode: bool,
    /// JWKS document URL for RS256/ES256 tokens (Auth0-compatible). Unset: no JWKS, HS256 only.
    #[arg(long, env = "CHAT_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// Least time between two reads of the JWKS caused by unknown `kid`s, in seconds.
    #[arg(long, env = "CHAT_JWKS_MIN_REFRESH_SECS", default_value_t = DEFAULT_JWKS_MIN_REFRESH_SECS)]
    pub jwks_min_refresh_secs: u64,
    /// Longest time keys read from the JWKS are trusted, in seconds; after it the
    /// document is read again before any key verifies a token (a failed read refuses tokens).
    #[arg(long, env = "CHAT_JWKS_MAX_AGE_SECS", default_value_t = DEFAULT_JWKS_MAX_AGE_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub jwks_max_age_secs: u64,
    /// Expected `iss` claim; unset: not checked.
    #[arg(long, env = "CHAT_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Expected `aud` claim; unset: not checked.
    #[arg(long, env = "CHAT_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// Accepted algorithms, comma separated. Default: HS256 with a secret,
    /// RS256,ES256 with a JWKS URL. Never taken from the token.
    #[arg(long, env = "CHAT_JWT_ALGORITHMS", value_delimiter = ',')]
    pub jwt_algorithms: Vec<String>,
    /// Clock leeway for `exp` and `nbf`, in seconds (at most 60).
    #[arg(long, env = "CHAT_JWT_LEEWAY_SECS", default_value_t = DEFAULT_JWT_LEEWAY_SECS,
          value_parser = clap::value_parser!(u64).range(0..=60))]
    pub jwt_leeway_secs: u64,
}

impl Config {
    /// A configuration with every default, on the given database.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            grpc_addr: DEFAULT_GRPC_ADDR,
            database_url: Some(Secret::new(database_url)),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            db_pool_size: DEFAULT_DB_POOL_SIZE,
            instance_ttl_secs: DEFAULT_INSTANCE_TTL_SECS,
            poll_interval_ms: DEFAULT_POLL_INTERVAL_MS,
            metrics_addr: DEFAULT_METRICS_ADDR,
            log_format: DEFAULT_LOG_FORMAT,
            grpc_max_streams: DEFAULT_GRPC_MAX_STREAMS,
            link_max_rooms: DEFAULT_LINK_MAX_ROOMS,
            link_max_sockets: DEFAULT_LINK_MAX_SOCKETS,
            link_queue: DEFAULT_LINK_QUEUE,
            inbox_queue: DEFAULT_INBOX_QUEUE,
            auth: AuthConfig::default(),
            webhooks: crate::webhooks::WebhookConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            dev_mode: false,
            jwks_url: None,
            jwks_min_refresh_secs: DEFAULT_JWKS_MIN_REFRESH_SECS,
            jwks_max_age_secs: DEFAULT_JWKS_MAX_AGE_SECS,
            jwt_issuer: None,
            jwt_audience: None,
            jwt_algorithms: Vec::new(),
            jwt_leeway_secs: DEFAULT_JWT_LEEWAY_SECS,
        }
    }
}

impl AuthConfig {
    /// HS256 with the given shared secret.
    pub fn hs256(secret: impl Into<String>) -> Self {
        Self {
            jwt_secret: Some(Secret::new(secret)),
            ..Self::default()
        }
    }

    pub fn leeway(&self) -> Duration {
        Duration::from_secs(self.jwt_leeway_secs)
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let config = Config::new("postgres://user:hunter2@localhost/chat");
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    /// The command line with no environment fallback, whatever the test's environment.
    fn parse_without_env(args: &[&str]) -> Result<Cli, clap::Error> {
        let command = Cli::command().mut_args(|arg| arg.env(None::<&str>));
        Cli::from_arg_matches(&command.try_get_matches_from(args)?)
    }

    #[test]
    fn config_new_has_the_defaults_of_the_command_line() {
        let url = "postgres://localhost/chat";
        let parsed = parse_without_env(&["core-svc", "--database-url", url]);
        let parsed = parsed.map(|cli| format!("{:?}", cli.config));
        assert_eq!(parsed.ok(), Some(format!("{:?}", Config::new(url))));
    }

    #[test]
    fn dev_mode_is_documented_with_the_text_the_edge_shows_too() {
        let command = Cli::command().mut_args(|arg| arg.env(None::<&str>));
        let dev_mode = command
            .get_arguments()
            .find(|arg| arg.get_id() == "dev_mode")
            .map(|arg| arg.get_help().map(ToString::to_string));
        assert_eq!(dev_mode, Some(Some(DEV_MODE_HELP.to_owned())));
    }

    #[test]
    fn leeway_over_sixty_seconds_is_refused() {
        let parsed = Cli::try_parse_from(["core-svc", "--jwt-leeway-secs", "61"]);
        assert!(parsed.is_err());
    }

    #[test]
    fn dev_mode_is_off_unless_asked_for() {
        let cli = Cli::try_parse_from(["core-svc"]).unwrap();
        assert!(!cli.config.auth.dev_mode);
        let cli = Cli::try_parse_from(["core-svc", "--dev-mode"]).unwrap();
        assert!(cli.config.auth.dev_mode);
    }
}
