//! A core in a process of its own, so that a test can kill it outright.

use std::{process::Stdio, time::Duration};

/// A running `core-svc` process; killed when dropped.
pub struct CoreProcess {
    child: tokio::process::Child,
    /// Where it serves gRPC.
    pub addr: String,
    /// Where it serves `/metrics`.
    #[allow(dead_code)] // Only the checker reads the metrics.
    pub metrics_addr: String,
}

/// What a test adds to the core's usual start.
#[derive(Default)]
struct Extras<'a> {
    /// Arguments after the usual ones.
    args: &'a [&'a str],
    /// Environment variables to set.
    env: &'a [(&'a str, &'a str)],
    /// Where the log goes (`None`: nowhere).
    log: Option<Stdio>,
}

impl CoreProcess {
    /// Starts the core on a free port against `database_url`, with HS256
    /// tokens of `secret` and short cluster timings, and waits until it
    /// serves.
    pub async fn spawn(database_url: &str, secret: &str) -> Self {
        Self::launch(database_url, secret, Extras::default()).await
    }

    /// [`Self::spawn`], with `extra` arguments after the others.
    #[allow(dead_code)] // Only the api tests add arguments.
    pub async fn spawn_with(database_url: &str, secret: &str, extra: &[&str]) -> Self {
        let extras = Extras {
            args: extra,
            ..Extras::default()
        };
        Self::launch(database_url, secret, extras).await
    }

    /// [`CoreProcess::spawn`] with these environment variables set.
    #[allow(dead_code)] // Only the api tests set variables.
    pub async fn spawn_with_env(database_url: &str, secret: &str, env: &[(&str, &str)]) -> Self {
        let extras = Extras {
            env,
            ..Extras::default()
        };
        Self::launch(database_url, secret, extras).await
    }

    /// [`CoreProcess::spawn_with_env`] with the core's log (`RUST_LOG=info`) going to `log`.
    #[allow(dead_code)] // Only the api tests read the log.
    pub async fn spawn_logging(
        database_url: &str,
        secret: &str,
        env: &[(&str, &str)],
        log: impl Into<Stdio>,
    ) -> Self {
        let extras = Extras {
            env,
            log: Some(log.into()),
            ..Extras::default()
        };
        Self::launch(database_url, secret, extras).await
    }

    async fn launch(database_url: &str, secret: &str, extras: Extras<'_>) -> Self {
        let addr = free_addr();
        let metrics_addr = free_addr();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_core-svc"))
            .args(["--grpc-addr", &addr, "--database-url", database_url])
            .args(["--jwt-secret", secret, "--instance-ttl-secs", "2"])
            .args(["--poll-interval-ms", "200", "--metrics-addr", &metrics_addr])
            .args(extras.args)
            .env("RUST_LOG", "info")
            .envs(extras.env.iter().copied())
            .stdout(Stdio::null())
            .stderr(extras.log.unwrap_or_else(Stdio::null))
            .kill_on_drop(true)
            .spawn()
            .expect("core-svc starts");
        let process = Self {
            child,
            addr,
            metrics_addr,
        };
        process.wait_until_serving().await;
        process
    }

    async fn wait_until_serving(&self) {
        let url = format!("http://{}", self.addr);
        let channel = tonic::transport::Channel::from_shared(url)
            .expect("a valid URL")
            .connect_lazy();
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        for _ in 0..600 {
            let request = tonic_health::pb::HealthCheckRequest::default();
            if health.check(request).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("core-svc did not start serving on {}", self.addr);
    }

    /// SIGTERM, then the exit status, waiting at most `grace`.
    #[allow(dead_code)] // Only the api tests stop a core politely.
    pub async fn terminate(&mut self, grace: Duration) -> std::process::ExitStatus {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        tokio::time::timeout(grace, self.child.wait())
            .await
            .expect("the core exits within the grace period")
            .expect("the exit status")
    }

    /// SIGSTOP: the process stalls (a long GC-like pause, a frozen VM)
    /// with its connections open, until [`Self::resume`].
    #[allow(dead_code)] // Only the api tests stall a core.
    pub fn pause(&self) {
        self.signal(nix::sys::signal::Signal::SIGSTOP);
    }

    /// SIGCONT: a paused process carries on where it stopped.
    #[allow(dead_code)] // Only the api tests stall a core.
    pub fn resume(&self) {
        self.signal(nix::sys::signal::Signal::SIGCONT);
    }

    #[allow(dead_code)] // The checker only kills.
    fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = self.child.id().expect("the core is running");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("a pid fits i32"));
        nix::sys::signal::kill(pid, signal).expect("the signal is sent");
    }

    /// SIGKILL: no goodbye, no cleanup.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("the core can be killed");
    }
}

/// A local address with a port that was free a moment ago.
fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port();
    format!("127.0.0.1:{port}")
}
