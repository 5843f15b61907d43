//! `core-svc --help` documents every setting, and the README's configuration
//! table lists exactly the core's environment variables.

use crate::helpers::within;

/// Environment variables named in `[env: NAME=…]` lines of `--help`.
fn help_variables(help: &str) -> Vec<String> {
    let mut names: Vec<String> = help
        .split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']']).next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The variables and flags of the README configuration table rows of `service`.
fn readme_rows(service: &str) -> (Vec<String>, Vec<String>) {
    let readme = include_str!("../../../README.md");
    let mut variables = Vec::new();
    let mut flags = Vec::new();
    for line in readme.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 5 || cells[1] != service {
            continue;
        }
        let names = |cell: &str| -> Vec<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect()
        };
        flags.extend(names(cells[2]));
        variables.extend(names(cells[3]));
    }
    variables.sort();
    (variables, flags)
}

/// The option blocks of `--help` that name an environment variable and
/// state no default (neither `[default: …]` nor an "unset"/"default" note).
fn undocumented_defaults(help: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for line in help.lines() {
        let indent = line.len() - line.trim_start().len();
        if line.trim_start().starts_with('-') && indent <= 6 {
            blocks.push(String::new());
        }
        if let Some(block) = blocks.last_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks
        .into_iter()
        .filter(|block| block.contains("[env: "))
        .filter(|block| {
            let lower = block.to_lowercase();
            !lower.contains("default") && !lower.contains("unset")
        })
        .map(|block| block.lines().next().unwrap_or_default().trim().to_owned())
        .collect()
}

#[tokio::test]
async fn help_documents_every_variable_of_the_readme_table_and_no_other() {
    let output = within(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_core-svc"))
            .arg("--help")
            .env_clear()
            .output(),
    )
    .await
    .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    let (variables, flags) = readme_rows("core");
    assert_eq!(help_variables(&help), variables);
    assert_eq!(undocumented_defaults(&help), Vec::<String>::new());
    for flag in flags {
        let documented = help.lines().any(|line| {
            let line = line.trim_start();
            line == flag || line.starts_with(&format!("{flag} <"))
        });
        assert!(documented, "{flag} is in --help");
    }
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
