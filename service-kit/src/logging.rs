//! The service's log filter: `RUST_LOG` (default `info`), except that the
//! library targets which print message texts, SQL parameters or raw frames
//! at DEBUG/TRACE stay at INFO whatever `RUST_LOG` asks. Tokens and texts
//! never reach the logs, even when debugging.

use tracing_subscriber::EnvFilter;

/// Targets that log payloads below INFO: tokio-postgres prints statement
/// parameters (message texts), tungstenite every frame and message, h2 and
/// hyper header blocks. The same list serves the core and the edge.
pub const PAYLOAD_TARGETS: [&str; 5] = [
    "tokio_postgres",
    "tungstenite",
    "tokio_tungstenite",
    "h2",
    "hyper",
];

/// `spec` (`RUST_LOG` syntax; `info` when it does not parse) with every
/// [`PAYLOAD_TARGETS`] entry capped at INFO.
pub fn filter(spec: &str) -> EnvFilter {
    let mut filter = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    for target in PAYLOAD_TARGETS {
        // A target name with a level always parses; the test below says so.
        if let Ok(directive) = format!("{target}=info").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// [`filter`] of `RUST_LOG`, or of `info` when it is unset.
pub fn from_env() -> EnvFilter {
    filter(&std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()))
}

/// Logs to stderr, filtered by [`from_env`]: readable lines, or one JSON
/// object per event when `json`.
pub fn init(json: bool) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(from_env())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_payload_target_is_capped_at_info() {
        let shown = filter("trace").to_string();
        for target in PAYLOAD_TARGETS {
            assert!(
                shown.contains(&format!("{target}=info")),
                "{target} in {shown}"
            );
        }
    }

    #[test]
    fn a_spec_that_does_not_parse_means_info() {
        assert!(filter("=[").to_string().contains("info"));
    }
}
