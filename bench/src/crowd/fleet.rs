//! The crowd's worker processes as the scenario drives them: each is this
//! binary's hidden `hold-worker` command on a source address of its own,
//! fed its [`Plan`] and commands on stdin, answering on stdout.

use std::{net::IpAddr, process::Stdio, time::Duration};

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
};

use super::wire::{FLOW, Flowed, Joined, Plan, WorkerReport};
use crate::system::rss_of;

/// Longest wait for a worker to close its sockets and exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// One running worker.
pub struct Worker {
    child: Child,
    stdin: ChildStdin,
    reports: Lines<BufReader<ChildStdout>>,
}

/// The loopback source address of worker `n`: 127.0.0.2, 127.0.0.3, …
pub fn source_address(n: usize) -> anyhow::Result<IpAddr> {
    let last = u8::try_from(n + 2)
        .ok()
        .filter(|&last| last < 255)
        .context("more workers than loopback addresses 127.0.0.2–254")?;
    Ok(IpAddr::from([127, 0, 0, last]))
}

impl Worker {
    /// Starts a worker connecting from `source` and hands it `plan`.
    pub async fn start(source: IpAddr, plan: &Plan) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["hold-worker", "--source", &source.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting a hold worker")?;
        let mut stdin = child.stdin.take().context("no stdin")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = serde_json::to_vec(plan)?;
        line.push(b'\n');
        stdin.write_all(&line).await?;
        stdin.flush().await?;
        Ok(Self {
            child,
            stdin,
            reports: BufReader::new(stdout).lines(),
        })
    }

    /// Waits until every socket of the plan was tried.
    pub async fn joined(&mut self) -> anyhow::Result<Joined> {
        match self.next_report().await? {
            WorkerReport::Joined(joined) => Ok(joined),
            other => bail!("expected the join report, got {other:?}"),
        }
    }

    /// Runs the flow window and waits for its counts.
    pub async fn flow(&mut self) -> anyhow::Result<Flowed> {
        self.stdin.write_all(format!("{FLOW}\n").as_bytes()).await?;
        self.stdin.flush().await?;
        match self.next_report().await? {
            WorkerReport::Flowed(flowed) => Ok(flowed),
            other => bail!("expected the flow report, got {other:?}"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Resident memory of the worker, in bytes.
    pub fn rss(&self) -> u64 {
        rss_of(self.pid())
    }

    /// Ends the worker's input, so it closes its sockets and exits.
    pub async fn stop(self) -> anyhow::Result<()> {
        let Self {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        let status = tokio::time::timeout(EXIT_TIMEOUT, child.wait())
            .await
            .context("a hold worker did not exit")??;
        if !status.success() {
            bail!("a hold worker failed: {status}");
        }
        Ok(())
    }

    async fn next_report(&mut self) -> anyhow::Result<WorkerReport> {
        let line = self
            .reports
            .next_line()
            .await?
            .context("a hold worker ended without reporting")?;
        serde_json::from_str(&line).with_context(|| format!("reading the report {line:?}"))
    }
}
