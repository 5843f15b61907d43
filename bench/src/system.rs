//! The system under test: a durable PostgreSQL, one core and one or more
//! edges, each a process of its own (so its memory can be read), started
//! from the binaries beside this one.

use std::{
    net::SocketAddr,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
use pg_local::LocalPostgres;
use tokio::process::{Child, Command};

pub const SECRET: &str = "benchmark-secret-of-at-least-32-bytes";

/// Concurrent gRPC streams the core allows on one HTTP/2 connection. An
/// edge multiplexes every socket's `Subscribe` on its one connection, so
/// this stays above the most sockets one edge serves (the crowd's 16,000).
pub const GRPC_MAX_STREAMS: u32 = 25_000;

/// Fields drop in order: the services stop before PostgreSQL, which stops
/// before its directory goes.
pub struct System {
    pub edges: Vec<Service>,
    pub core: Service,
    /// The core's `/metrics` listener.
    pub core_metrics: SocketAddr,
    pub pg: LocalPostgres,
    _dir: tempfile::TempDir,
}

/// A running service process.
pub struct Service {
    child: Child,
    pub addr: SocketAddr,
}

impl Service {
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Resident memory of the process, in bytes.
    pub fn rss(&self) -> u64 {
        rss_of(self.pid())
    }
}

/// How the system is sized.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub edges: usize,
    pub db_pool: usize,
    /// Tokio worker threads of the core and of each edge (0: one per core).
    pub threads: usize,
    /// Where the core posts webhooks for offline recipients (`None`: no webhooks).
    pub webhook: Option<SocketAddr>,
    /// Load `pg_stat_statements`, so that steps can report what PostgreSQL
    /// ran per message (`crate::statements`).
    pub statements: bool,
}

impl System {
    pub async fn start(shape: Shape) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        let data = dir.path().join("pg");
        let mut pg = start_postgres(data.clone()).await?;
        if shape.statements {
            let preload = "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'";
            sql(&pg.connection_string("postgres"), preload).await?;
            tokio::task::spawn_blocking(move || drop(pg)).await?;
            pg = start_postgres(data).await?;
        }
        pg.ensure_database("chat")?;
        if shape.statements {
            let extension = "CREATE EXTENSION IF NOT EXISTS pg_stat_statements";
            sql(&pg.connection_string("chat"), extension).await?;
        }
        let url = pg.connection_string("chat");
        let core_addr = free_addr()?;
        // A port of its own, so that two systems (or a core elsewhere on
        // the box) never fight over the default 9090.
        let metrics_addr = free_addr()?;
        let (core_addr_text, metrics_text) = (core_addr.to_string(), metrics_addr.to_string());
        let (streams, pool) = (GRPC_MAX_STREAMS.to_string(), shape.db_pool.to_string());
        let mut args = vec![
            "--grpc-addr",
            &core_addr_text,
            "--metrics-addr",
            &metrics_text,
            "--grpc-max-streams",
            &streams,
            "--database-url",
            &url,
            "--jwt-secret",
            SECRET,
            "--db-pool-size",
            &pool,
        ];
        let webhook_url = shape.webhook.map(|addr| format!("http://{addr}/hook"));
        if let Some(webhook_url) = &webhook_url {
            args.extend(["--webhook-url", webhook_url, "--webhook-secret", SECRET]);
        }
        let core = spawn("core-svc", shape.threads, &args, &[], core_addr).await?;
        let mut edges = Vec::new();
        for _ in 0..shape.edges {
            let addr = free_addr()?;
            let core_url = format!("http://{core_addr}");
            // The load is many messages per socket per second by design;
            // the per-socket abuse limit would only measure itself.
            let args = [
                "--http-addrs",
                &addr.to_string(),
                "--core-url",
                &core_url,
                "--ws-rate-per-sec",
                "100000",
                "--ws-rate-burst",
                "100000",
                // The crowded room holds hundreds of sockets per user.
                "--ws-max-per-user",
                "100000",
            ];
            let token = [("CHAT_EDGE_TOKEN", edge_token())];
            edges.push(spawn("edge", shape.threads, &args, &token, addr).await?);
        }
        Ok(Self {
            _dir: dir,
            pg,
            core,
            core_metrics: metrics_addr,
            edges,
        })
    }

    pub fn database_url(&self) -> String {
        self.pg.connection_string("chat")
    }

    /// The PostgreSQL server's main process (0 if unknown).
    pub fn postmaster_pid(&self) -> u32 {
        let pid_file = self.pg.data_dir().join("postmaster.pid");
        std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Resident memory of the core and of all edges, in bytes.
    pub fn rss(&self) -> (u64, u64) {
        (self.core.rss(), self.edges.iter().map(Service::rss).sum())
    }
}

/// The value of the counter or gauge `name` on the `/metrics` page at `addr`.
pub async fn metric(addr: SocketAddr, name: &str) -> anyhow::Result<f64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await?;
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .with_context(|| format!("no {name} in the /metrics of {addr}"))
}

/// Runs `statements` on a connection of its own.
pub async fn sql(url: &str, statements: &str) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client.batch_execute(statements).await?;
    Ok(())
}

async fn start_postgres(data: PathBuf) -> anyhow::Result<LocalPostgres> {
    Ok(tokio::task::spawn_blocking(move || LocalPostgres::start_persistent(&data)).await??)
}

/// The binary `name` beside the running one (same cargo profile).
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("no directory")?.to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    if !path.exists() {
        bail!(
            "{} not found: build it first (cargo build --release -p core-svc -p edge)",
            path.display()
        );
    }
    Ok(path)
}

/// The edges' service token (scope `chat:edge`), signed with [`SECRET`].
pub fn edge_token() -> String {
    let ttl = Duration::from_secs(7 * 86_400);
    service_kit::dev_token::mint_service(SECRET, "bench-edge", "chat:edge", ttl)
}

/// Starts the binary `name` with `args` and the variables `env` (secrets
/// go there, out of the process list), and waits until `addr` accepts.
async fn spawn(
    name: &str,
    threads: usize,
    args: &[&str],
    env: &[(&str, String)],
    addr: SocketAddr,
) -> anyhow::Result<Service> {
    let mut command = Command::new(sibling_binary(name)?);
    command.envs(env.iter().map(|(name, value)| (name, value)));
    if threads > 0 {
        command.env("TOKIO_WORKER_THREADS", threads.to_string());
    }
    let child = command
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    wait_for_port(addr).await?;
    Ok(Service { child, addr })
}

/// Waits until something accepts connections on `addr`.
pub async fn wait_for_port(addr: SocketAddr) -> anyhow::Result<()> {
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("nothing listens on {addr}")
}

/// Raises this process's soft limit of open files to its hard limit, so
/// that it and every process it starts (children inherit it) may hold as
/// many sockets as the machine allows. Returns the new soft limit.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit` for the call's duration.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: `limit` is a valid `rlimit`; raising the soft limit up to the
    // hard one needs no privilege.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(limit.rlim_cur)
}

pub fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// VmRSS of a process, in bytes (0 if it cannot be read).
pub fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status"));
    status
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| {
                    value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(0, |kib| kib * 1024)
}
