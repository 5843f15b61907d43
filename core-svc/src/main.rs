//! `core-svc`: parses configuration, sets up logging, binds, and runs.

use std::time::Duration;

use anyhow::Context;
use core_svc::Listeners;
use core_svc::{
    auth::{DEV_JWT_SECRET, dev_token},
    config::{Cli, Command, Config, DevTokenArgs, LogFormat, Secret},
};
use pg_local::LocalPostgres;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The database the project-local PostgreSQL serves the chat from.
const LOCAL_DATABASE: &str = "chat";

fn main() -> anyhow::Result<()> {
    let Cli { command, config } = service_kit::settings::parse::<Cli>();
    match command {
        Some(Command::DevToken(args)) => {
            println!("{}", mint(&config, &args));
            Ok(())
        }
        Some(Command::Serve) | None => serve(config),
    }
}

fn mint(config: &Config, args: &DevTokenArgs) -> String {
    let secret = config
        .auth
        .jwt_secret
        .as_ref()
        .map_or(DEV_JWT_SECRET, Secret::expose);
    let ttl = Duration::from_secs(args.ttl_secs);
    match &args.scope {
        Some(scope) => service_kit::dev_token::mint_service(secret, &args.sub, scope, ttl),
        None => dev_token(secret, &args.sub, &args.email, ttl),
    }
}

fn serve(mut config: Config) -> anyhow::Result<()> {
    init_logging(config.log_format);
    if config.auth.jwt_secret.is_none() && config.auth.jwks_url.is_none() {
        tracing::warn!(
            "DEVELOPMENT MODE: no CHAT_JWT_SECRET or CHAT_JWKS_URL; tokens are checked against \
             the public built-in development secret. Never expose this instance."
        );
    } else if config.auth.dev_mode {
        tracing::warn!(
            "DEVELOPMENT MODE (CHAT_DEV_MODE): JWT secrets shorter than 32 bytes are accepted. \
             Never expose this instance."
        );
    }
    // Kept alive until the server has stopped; dropping it stops PostgreSQL.
    let _local_db = match config.database_url {
        Some(_) => None,
        None => {
            let db = start_local_postgres(&config)?;
            config.database_url = Some(Secret::new(db.connection_string(LOCAL_DATABASE)));
            Some(db)
        }
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listeners = Listeners {
            grpc: bind(config.grpc_addr).await?,
            ops: Some(bind(config.metrics_addr).await?),
        };
        let shutdown = CancellationToken::new();
        let signalled = service_kit::shutdown::signalled();
        let cancel = shutdown.clone();
        tokio::spawn(async move {
            signalled.await;
            cancel.cancel();
        });
        core_svc::serve(listeners, config, shutdown).await
    })
}

async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))
}

/// Logs to stderr as readable lines or JSON objects, filtered by `RUST_LOG`
/// (default `info`).
fn init_logging(format: LogFormat) {
    service_kit::logging::init(format == LogFormat::Json);
}

fn start_local_postgres(config: &Config) -> anyhow::Result<LocalPostgres> {
    tracing::info!(dir = %config.data_dir.display(), "DATABASE_URL unset: starting a project-local PostgreSQL");
    let db = LocalPostgres::start_persistent(&config.data_dir)
        .context("starting the project-local PostgreSQL")?;
    db.ensure_database(LOCAL_DATABASE)?;
    tracing::info!(
        data_dir = %db.data_dir().display(),
        socket_dir = %db.socket_dir().display(),
        port = db.port(),
        "project-local PostgreSQL ready (psql -h <socket_dir> -p <port> -U postgres {LOCAL_DATABASE})"
    );
    Ok(db)
}
