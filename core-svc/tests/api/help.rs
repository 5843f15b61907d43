//! `core-svc --help` documents every setting, and the README's configuration
//! table lists exactly the core's environment variables.

use crate::helpers::within;

#[test]
fn help_documents_every_variable_of_the_readme_table_and_no_other() {
    let help = service_kit::help::of(env!("CARGO_BIN_EXE_core-svc"));
    service_kit::help::assert_matches_readme(&help, include_str!("../../../README.md"), "core");
    assert!(help.contains("[default: 127.0.0.1:9090]"));
}

#[tokio::test]
async fn help_never_shows_secret_values_from_the_environment() {
    let output = within(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_core-svc"))
            .arg("--help")
            .env("CHAT_JWT_SECRET", "hunter2-secret")
            .env("DATABASE_URL", "postgres://u:hunter3@db/chat")
            .output(),
    )
    .await
    .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(!help.contains("hunter2") && !help.contains("hunter3"));
}
