//! Settings from flags with environment variables as their fallback, where
//! a variable set to the empty string counts as unset: compose files and
//! manifests pass `CHAT_JWT_ISSUER=` to mean "no issuer", and a setting with
//! a default keeps its default.
//!
//! clap takes an empty variable as an empty value; this drops the fallback
//! of each argument whose variable is empty before parsing.

use std::ffi::OsStr;

use clap::{Command, Parser};

/// `P` from the process's arguments and environment, exiting with clap's
/// message on an error (as `P::parse()` does).
pub fn parse<P: Parser>() -> P {
    let is_empty = |name: &OsStr| std::env::var_os(name).is_some_and(|value| value.is_empty());
    let mut matches = without_empty_env(P::command(), is_empty).get_matches();
    match P::from_arg_matches_mut(&mut matches) {
        Ok(parsed) => parsed,
        Err(error) => error.format(&mut P::command()).exit(),
    }
}

/// `command` without the environment fallback of every argument whose
/// variable `is_empty` says is set to the empty string.
pub fn without_empty_env(command: Command, is_empty: impl Fn(&OsStr) -> bool) -> Command {
    command.mut_args(|arg| {
        if arg.get_env().is_some_and(&is_empty) {
            arg.env(None::<&'static str>)
        } else {
            arg
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::Arg;

    use super::*;

    fn command() -> Command {
        Command::new("t")
            .arg(
                Arg::new("addr")
                    .long("addr")
                    .env("T_ADDR")
                    .default_value("d"),
            )
            .arg(Arg::new("issuer").long("issuer").env("T_ISSUER"))
    }

    #[test]
    fn an_argument_whose_variable_is_empty_loses_its_fallback() {
        let command = without_empty_env(command(), |name| name == "T_ISSUER");
        let issuer = command.get_arguments().find(|arg| arg.get_id() == "issuer");
        assert_eq!(issuer.and_then(Arg::get_env), None);
        let addr = command.get_arguments().find(|arg| arg.get_id() == "addr");
        assert_eq!(addr.and_then(Arg::get_env), Some(OsStr::new("T_ADDR")));
    }

    #[test]
    fn flags_still_apply_and_defaults_stay() {
        let command = without_empty_env(command(), |_| true);
        let matches = command.get_matches_from(["t", "--issuer", "x"]);
        assert_eq!(
            matches.get_one::<String>("issuer").map(String::as_str),
            Some("x")
        );
        assert_eq!(
            matches.get_one::<String>("addr").map(String::as_str),
            Some("d")
        );
    }
}
