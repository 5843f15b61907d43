//! Settings from flags with environment variables as their fallback, where
//! a variable set to the empty string counts as unset: compose files and
//! manifests pass `CHAT_JWT_ISSUER=` to mean "no issuer", and a setting with
//! a default keeps its default.
//!
//! clap takes an empty variable as an empty value; this drops the fallback
//! of each argument whose variable is empty before parsing.
//!
//! Development mode (`--dev-mode` / `CHAT_DEV_MODE`) means one thing for
//! both services, with one `--help` text: [`DEV_MODE_HELP`].

use std::ffi::OsStr;

use clap::builder::BoolishValueParser;
use clap::{Command, Parser};

/// The `--help` of `--dev-mode` / `CHAT_DEV_MODE`, the same in both
/// services: what each of them relaxes when it is on.
pub const DEV_MODE_HELP: &str = "Development mode (default: off), for a developer's machine, \
never a shared deployment: the core accepts a --jwt-secret shorter than 32 bytes, and the edge \
serves the demo page at / and mints development tokens at POST /dev/token. CHAT_DEV_MODE takes \
true/false, yes/no, on/off or 1/0";

/// The parser of `CHAT_DEV_MODE`'s value: `true`/`false`, `yes`/`no`,
/// `on`/`off` or `1`/`0`.
pub fn dev_mode_parser() -> BoolishValueParser {
    BoolishValueParser::new()
}

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
    use clap::builder::TypedValueParser;

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
    fn dev_mode_takes_every_usual_way_of_saying_yes_or_no() {
        let command = || {
            Command::new("t").arg(
                Arg::new("dev_mode")
                    .long("dev-mode")
                    .action(clap::ArgAction::SetTrue)
                    .value_parser(dev_mode_parser()),
            )
        };
        let on = |args: &[&str]| command().get_matches_from(args).get_flag("dev_mode");
        assert!(!on(&["t"]));
        assert!(on(&["t", "--dev-mode"]));
        let value = |raw: &str| dev_mode_parser().parse_ref(&command(), None, OsStr::new(raw));
        for (raw, meant) in [
            ("true", true),
            ("yes", true),
            ("1", true),
            ("off", false),
            ("0", false),
        ] {
            assert_eq!(value(raw).ok(), Some(meant), "{raw}");
        }
        assert!(value("maybe").is_err());
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
