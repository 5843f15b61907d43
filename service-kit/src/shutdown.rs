//! The signal that stops a service: Ctrl-C (SIGINT) or, on Unix, SIGTERM
//! (what `docker stop` and Kubernetes send). Each binary turns it into its
//! `CancellationToken`; tests cancel the token themselves.

use std::future::{Future, pending};

/// Resolves on the first Ctrl-C or SIGTERM after the call (the handlers are
/// installed by the call, not on the first poll; call it inside the
/// runtime). A signal that cannot be listened for is logged and never
/// resolves, so the other one still works.
pub fn signalled() -> impl Future<Output = ()> + Send + 'static {
    let interrupt = interrupt();
    let terminate = terminate();
    async move {
        tokio::select! {
            () = interrupt => {}
            () = terminate => {}
        }
    }
}

#[cfg(unix)]
fn interrupt() -> impl Future<Output = ()> + Send + 'static {
    unix::listen(tokio::signal::unix::SignalKind::interrupt(), "Ctrl-C")
}

#[cfg(unix)]
fn terminate() -> impl Future<Output = ()> + Send + 'static {
    unix::listen(tokio::signal::unix::SignalKind::terminate(), "SIGTERM")
}

#[cfg(not(unix))]
fn interrupt() -> impl Future<Output = ()> + Send + 'static {
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            pending::<()>().await;
        }
    }
}

/// There is no SIGTERM here: never resolves.
#[cfg(not(unix))]
fn terminate() -> impl Future<Output = ()> + Send + 'static {
    pending::<()>()
}

#[cfg(unix)]
mod unix {
    use super::*;
    use tokio::signal::unix::{SignalKind, signal};

    /// Installs the handler of `kind` now; the future resolves on its next delivery.
    pub(super) fn listen(
        kind: SignalKind,
        name: &'static str,
    ) -> impl Future<Output = ()> + Send + 'static {
        let stream = signal(kind);
        async move {
            match stream {
                Ok(mut stream) => {
                    stream.recv().await;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot listen for {name}");
                    pending::<()>().await;
                }
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn it_waits_for_a_signal_and_sigterm_ends_the_wait() {
        let mut waiting = Box::pin(signalled());
        let early = tokio::time::timeout(Duration::from_millis(50), &mut waiting).await;
        assert!(early.is_err(), "resolved without a signal");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status();
        assert!(sent.is_ok_and(|status| status.success()));
        let ended = tokio::time::timeout(Duration::from_secs(10), waiting).await;
        assert!(ended.is_ok(), "SIGTERM did not end the wait");
    }
}
