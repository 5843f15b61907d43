//! The check that a binary's `--help` documents every setting, each with its
//! default, and that the README's configuration table lists exactly the
//! binary's environment variables and flags. Both services' tests run it.

/// The `--help` of the binary at `path`, run with an empty environment
/// (so that no variable of the caller's shows up as a default).
pub fn of(path: &str) -> String {
    let output = std::process::Command::new(path)
        .arg("--help")
        .env_clear()
        .output()
        .unwrap_or_else(|error| panic!("running {path} --help: {error}"));
    assert!(output.status.success(), "{path} --help failed");
    String::from_utf8(output.stdout).unwrap_or_else(|error| panic!("{path} --help: {error}"))
}

/// Panics unless `help` (a binary's `--help` output) and the rows of
/// `readme` whose first cell is `service` name the same environment
/// variables, every README flag appears in `help`, and every option with a
/// variable states its default (or says what unset means).
pub fn assert_matches_readme(help: &str, readme: &str, service: &str) {
    let (variables, flags) = readme_rows(readme, service);
    assert_eq!(help_variables(help), variables, "variables of {service}");
    assert_eq!(undocumented_defaults(help), Vec::<String>::new());
    for flag in flags {
        let documented = help.lines().any(|line| {
            let line = line.trim_start();
            line == flag || line.starts_with(&format!("{flag} <"))
        });
        assert!(documented, "{flag} is in --help");
    }
}

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
fn readme_rows(readme: &str, service: &str) -> (Vec<String>, Vec<String>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    const HELP: &str = "Options:
      --addr <ADDR>
          Where to listen [env: CHAT_ADDR=] [default: 127.0.0.1:1]
      --pool <POOL>
          Connections [env: CHAT_POOL=]
";

    const README: &str = "| service | flag | variable | default |
| --- | --- | --- | --- |
| edge | `--addr` | `CHAT_ADDR` | `127.0.0.1:1` |
| core | `--pool` | `CHAT_POOL` | `16` |
";

    #[test]
    fn variables_flags_and_rows_are_read() {
        assert_eq!(help_variables(HELP), ["CHAT_ADDR", "CHAT_POOL"]);
        assert_eq!(
            readme_rows(README, "edge"),
            (vec!["CHAT_ADDR".to_owned()], vec!["--addr".to_owned()])
        );
    }

    #[test]
    fn an_option_without_a_default_is_reported() {
        assert_eq!(undocumented_defaults(HELP), ["--pool <POOL>"]);
    }

    #[test]
    #[should_panic(expected = "variables of edge")]
    fn a_variable_missing_from_the_readme_fails_the_check() {
        assert_matches_readme(HELP, README, "edge");
    }
}
