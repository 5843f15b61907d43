//! Command-line and environment configuration of the core service.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use clap::{Args, Parser, Subcommand};

/// Default longest time JWKS keys are trusted after the read that brought them.
pub const DEFAULT_JWKS_MAX_AGE_SECS: u64 = 300;

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
    /// The token's `email` claim.
    #[arg(long, default_value = "alice@example.com")]
    pub email: String,
    /// Lifetime of the token in seconds.
    #[arg(long, default_value_t = 86_400)]
    pub ttl_secs: u64,
}

/// Everything the running service needs; tests build it with [`Config::new`].
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(long, env = "CHAT_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,
    /// PostgreSQL connection string (URL or key=value). Unset: the core runs a
    /// project-local PostgreSQL of its own under `--data-dir`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// Where the project-local PostgreSQL keeps its data when DATABASE_URL is unset.
    #[arg(long, env = "CHAT_DATA_DIR", default_value = ".data/postgres")]
    pub data_dir: PathBuf,
    /// Largest number of PostgreSQL connections in the pool.
    #[arg(long, env = "CHAT_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,
    /// Seconds without a heartbeat after which an instance counts as dead
    /// and its users' streams as closed (heartbeats come every third of it).
    #[arg(long, env = "CHAT_INSTANCE_TTL_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub instance_ttl_secs: u64,
    /// Milliseconds between checks of rooms with local subscribers for
    /// events whose announcement was missed.
    #[arg(long, env = "CHAT_POLL_INTERVAL_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(10..))]
    pub poll_interval_ms: u64,
    /// Address of the HTTP listener for operators: `/metrics` (Prometheus),
    /// `/healthz` (liveness) and `/readyz` (readiness).
    #[arg(long, env = "CHAT_METRICS_ADDR", default_value = "127.0.0.1:9090")]
    pub metrics_addr: SocketAddr,
    /// Log format: `human` (readable lines) or `json` (one object per line).
    #[arg(long, env = "CHAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Most concurrent gRPC streams (calls, `Subscribe` streams included) on
    /// one HTTP/2 connection; further streams wait or are refused. An edge
    /// multiplexes all its sockets on one connection, so keep it above the
    /// sockets an edge serves.
    #[arg(long, env = "CHAT_GRPC_MAX_STREAMS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub grpc_max_streams: u32,
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
    /// Development mode (default: off): accept a `--jwt-secret` shorter than 32 bytes.
    /// Without it such a secret is refused at start. The built-in secret
    /// (no secret, no JWKS) always means development mode.
    #[arg(long, env = "CHAT_DEV_MODE")]
    pub dev_mode: bool,
    /// JWKS document URL for RS256/ES256 tokens (Auth0-compatible). Unset: no JWKS, HS256 only.
    #[arg(long, env = "CHAT_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// Least time between two reads of the JWKS caused by unknown `kid`s, in seconds.
    #[arg(long, env = "CHAT_JWKS_MIN_REFRESH_SECS", default_value_t = 60)]
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
    #[arg(long, env = "CHAT_JWT_LEEWAY_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=60))]
    pub jwt_leeway_secs: u64,
}

impl Config {
    /// A configuration with every default, on the given database.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            database_url: Some(Secret::new(database_url)),
            data_dir: PathBuf::from(".data/postgres"),
            db_pool_size: 16,
            instance_ttl_secs: 15,
            poll_interval_ms: 1000,
            metrics_addr: SocketAddr::from(([127, 0, 0, 1], 9090)),
            log_format: LogFormat::Human,
            grpc_max_streams: 10_000,
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
            jwks_min_refresh_secs: 60,
            jwks_max_age_secs: DEFAULT_JWKS_MAX_AGE_SECS,
            jwt_issuer: None,
            jwt_audience: None,
            jwt_algorithms: Vec::new(),
            jwt_leeway_secs: 30,
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

/// A string that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value; keep it out of logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let config = Config::new("postgres://user:hunter2@localhost/chat");
        assert!(!format!("{config:?}").contains("hunter2"));
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
