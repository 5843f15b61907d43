//! A core in a process of its own, so that a test can kill it outright.

use std::{process::Stdio, time::Duration};

/// A running `core-svc` process; killed when dropped.
pub struct CoreProcess {
    child: tokio::process::Child,
    /// Where it serves gRPC.
    pub addr: String,
}

impl CoreProcess {
    /// Starts the core on a free port against `database_url`, with HS256
    /// tokens of `secret` and short cluster timings, and waits until it
    /// serves.
    pub async fn spawn(database_url: &str, secret: &str) -> Self {
        Self::spawn_logging(database_url, secret, &[], Stdio::null()).await
    }

    /// [`CoreProcess::spawn`] with these environment variables set.
    #[allow(dead_code)] // Only the api tests set variables.
    pub async fn spawn_with_env(database_url: &str, secret: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn_logging(database_url, secret, env, Stdio::null()).await
    }

    /// [`CoreProcess::spawn_with_env`] with the core's log (`RUST_LOG=info`) going to `log`.
    pub async fn spawn_logging(
        database_url: &str,
        secret: &str,
        env: &[(&str, &str)],
        log: impl Into<Stdio>,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("its address")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_core-svc"))
            .args(["--grpc-addr", &addr, "--database-url", database_url])
            .args(["--jwt-secret", secret, "--instance-ttl-secs", "2"])
            .args(["--poll-interval-ms", "200", "--metrics-addr", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("core-svc starts");
        let process = Self { child, addr };
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
        let pid = self.child.id().expect("the core is running");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("a pid fits i32"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM is sent");
        tokio::time::timeout(grace, self.child.wait())
            .await
            .expect("the core exits within the grace period")
            .expect("the exit status")
    }

    /// SIGKILL: no goodbye, no cleanup.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("the core can be killed");
    }
}
