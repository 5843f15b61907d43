//! An environment variable set to the empty string (as compose files pass
//! `CHAT_JWT_ISSUER=`) counts as unset: the real binary, every optional
//! variable empty, starts on its defaults and checks no issuer or audience.

use crate::core_process::CoreProcess;
use crate::helpers::{SECRET, TestCore};

/// Every variable of the core but the ones the test passes as flags.
const OPTIONAL: [&str; 17] = [
    "CHAT_DATA_DIR",
    "CHAT_DB_POOL_SIZE",
    "CHAT_INSTANCE_TTL_SECS",
    "CHAT_POLL_INTERVAL_MS",
    "CHAT_LOG_FORMAT",
    "CHAT_GRPC_MAX_STREAMS",
    "CHAT_DEV_MODE",
    "CHAT_JWKS_URL",
    "CHAT_JWKS_MIN_REFRESH_SECS",
    "CHAT_JWKS_MAX_AGE_SECS",
    "CHAT_JWT_ISSUER",
    "CHAT_JWT_AUDIENCE",
    "CHAT_JWT_ALGORITHMS",
    "CHAT_JWT_LEEWAY_SECS",
    "CHAT_WEBHOOK_URL",
    "CHAT_WEBHOOK_SECRET",
    "CHAT_WEBHOOK_RETRY_BASE_MS",
];

#[tokio::test]
async fn every_optional_variable_set_empty_counts_as_unset() {
    let database = TestCore::start().await;
    let empty: Vec<(&str, &str)> = OPTIONAL.iter().map(|name| (*name, "")).collect();
    let process = CoreProcess::spawn_with_env(&database.url, SECRET, &empty).await;
    let core = TestCore::remote(&process.addr).await;
    // The token has no `iss` and no `aud`: an empty variable checks neither.
    let alice = core.user("alice").await;
    assert!(alice.id > 0);
}
