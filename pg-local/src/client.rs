//! Statements sent with the bundled `psql`, and libpq connection strings.

use std::path::Path;

use crate::Error;
use crate::binaries::Binaries;
use crate::server::{SUPERUSER, run};

/// PostgreSQL truncates identifiers longer than this (NAMEDATALEN - 1).
const MAX_IDENTIFIER_BYTES: usize = 63;

/// A libpq key/value connection string for the superuser over the unix socket.
pub(crate) fn connection_string(socket_dir: &Path, port: u16, dbname: &str) -> String {
    let host = quote_value(&socket_dir.to_string_lossy());
    format!(
        "host={host} port={port} user={SUPERUSER} dbname={}",
        quote_value(dbname)
    )
}

/// Quotes a connection-string value when libpq would otherwise split or misread it.
fn quote_value(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\');
    if plain {
        return value.to_string();
    }
    let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

/// Checks a database name and returns it as a quoted SQL identifier.
pub(crate) fn quote_identifier(name: &str) -> Result<String, Error> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_IDENTIFIER_BYTES {
        Some("it is longer than 63 bytes")
    } else if name.contains('\0') {
        Some("it contains a NUL character")
    } else {
        None
    };
    if let Some(reason) = reason {
        return Err(Error::InvalidDatabaseName {
            name: name.to_string(),
            reason,
        });
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// Runs one statement in the `postgres` database as the superuser.
pub(crate) fn execute(
    bin: &Binaries,
    socket_dir: &Path,
    port: u16,
    statement: &str,
) -> Result<(), Error> {
    let mut command = bin.command("psql");
    command
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            "VERBOSITY=verbose",
        ])
        .arg("-h")
        .arg(socket_dir)
        .args(["-p", &port.to_string(), "-U", SUPERUSER, "-d", "postgres"])
        .args(["-c", statement]);
    match run(&mut command) {
        Ok(_) => Ok(()),
        Err(Error::Command {
            command,
            status,
            output,
        }) => match parse_sql_error(&output) {
            Some((sqlstate, message)) => {
                let statement = statement.to_string();
                Err(Error::Sql {
                    statement,
                    sqlstate,
                    message,
                })
            }
            None => Err(Error::Command {
                command,
                status,
                output,
            }),
        },
        Err(other) => Err(other),
    }
}

/// Splits psql's verbose `ERROR:  42P04: database "x" already exists` into code and message.
fn parse_sql_error(stderr: &str) -> Option<(String, String)> {
    let line = stderr
        .lines()
        .find_map(|line| line.strip_prefix("ERROR:"))?;
    let (sqlstate, message) = line.trim().split_once(": ")?;
    let is_code = sqlstate.len() == 5 && sqlstate.chars().all(|c| c.is_ascii_alphanumeric());
    is_code.then(|| (sqlstate.to_string(), message.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_left_unquoted() {
        let text = connection_string(Path::new("/tmp/pg-local-x"), 5432, "chat");
        assert_eq!(
            text,
            "host=/tmp/pg-local-x port=5432 user=postgres dbname=chat"
        );
    }

    #[test]
    fn values_with_spaces_and_quotes_are_quoted_and_escaped() {
        assert_eq!(quote_value("my dir"), "'my dir'");
        assert_eq!(quote_value(r"it's\"), r"'it\'s\\'");
        assert_eq!(quote_value(""), "''");
    }

    #[test]
    fn database_names_are_quoted_as_identifiers() {
        assert_eq!(quote_identifier(r#"a"b"#).unwrap(), r#""a""b""#);
    }

    #[test]
    fn empty_and_overlong_database_names_are_rejected() {
        assert!(matches!(
            quote_identifier(""),
            Err(Error::InvalidDatabaseName { .. })
        ));
        let long = "x".repeat(64);
        assert!(matches!(
            quote_identifier(&long),
            Err(Error::InvalidDatabaseName { .. })
        ));
    }

    #[test]
    fn verbose_psql_errors_yield_their_sqlstate() {
        let stderr = "ERROR:  42P04: database \"x\" already exists\nLOCATION:  createdb, x.c:1";
        let (code, message) = parse_sql_error(stderr).unwrap();
        assert_eq!(code, "42P04");
        assert_eq!(message, "database \"x\" already exists");
    }
}
