//! The OpenAPI document against the live service: the `schemathesis` CLI
//! (PyPI) generates requests from `/openapi.json` and runs every check on a
//! real edge and core, authenticated as a real user who has a room with a
//! message. Any schema violation or 5xx fails the test; so does a missing
//! `schemathesis` (install it with the command in [`INSTALL`]).

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use edge::config::Config;

use crate::helpers::{TestApp, edge_config};

/// How to install the version this test was written against.
const INSTALL: &str = "pip install 'schemathesis==4.32.5'";
/// Examples per operation and phase; keeps the run well under two minutes.
const MAX_EXAMPLES: &str = "30";
/// The whole run's budget before the test gives up.
const RUN_LIMIT: Duration = Duration::from_secs(240);
/// A CPython 3.11 bug inside the tool's own test-case generation (its
/// threads compiling at once), not a finding about the service: such a run
/// is repeated once.
const INTERPRETER_BUG: &str = "SystemError: AST constructor recursion depth mismatch";

/// Cross-field rules OpenAPI cannot state: a room of a user with themself
/// is a 400 for ids that each match the schema.
const CONFIG: &str = r#"
[[operations]]
include-path = "/{lang}/api/v1/chatrooms/get_or_create_room/"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429"]
"#;

/// `schemathesis <args>` in `dir` (it keeps a cache there); fails the test,
/// saying how to install it, when it is missing.
async fn schemathesis(args: &[String], dir: &Path) -> Output {
    let run = tokio::process::Command::new("schemathesis")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(RUN_LIMIT, run).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => {
            panic!(
                "the schemathesis CLI is not installed (not on PATH); install it with: {INSTALL}"
            )
        }
        Ok(Err(error)) => panic!("could not run schemathesis: {error}"),
        Err(_) => panic!("schemathesis did not finish within {RUN_LIMIT:?}"),
    }
}

#[tokio::test]
async fn schemathesis_finds_no_schema_violation_and_no_server_error() {
    let app = TestApp::spawn_with(|core_url| Config {
        dev_mode: true,
        ..edge_config(core_url)
    })
    .await;
    let (alice, _bob, room) = app.pair().await;
    app.seed(&alice, room, 3).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, CONFIG).expect("the config file");
    let args = [
        "--config-file".to_owned(),
        config.display().to_string(),
        "run".to_owned(),
        format!("http://{}/openapi.json", app.rest_addr),
        "--checks=all".to_owned(),
        format!("--header=Authorization: Bearer {}", alice.token),
        format!("--max-examples={MAX_EXAMPLES}"),
        "--phases=examples,coverage,fuzzing".to_owned(),
        "--seed=1".to_owned(),
        // One worker: the interpreter bug above needs two threads.
        "--workers=1".to_owned(),
        "--request-timeout=10".to_owned(),
    ];
    let mut output = schemathesis(&args, dir.path()).await;
    if String::from_utf8_lossy(&output.stderr).contains(INTERPRETER_BUG)
        || String::from_utf8_lossy(&output.stdout).contains(INTERPRETER_BUG)
    {
        output = schemathesis(&args, dir.path()).await;
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
}
