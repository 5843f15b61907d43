//! [`Secret`]: a setting's value (a database URL with its password, a JWT
//! secret) that never prints itself, in `Debug` output or in logs.

use std::{convert::Infallible, fmt, str::FromStr};

/// A string that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value; keep it out of logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// So that clap can parse a flag or variable straight into a [`Secret`].
impl FromStr for Secret {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert!(!format!("{:?}", Some(&secret)).contains("hunter2"));
    }

    #[test]
    fn the_value_is_there_when_asked_for() {
        let parsed: Result<Secret, _> = "hunter2".parse();
        assert_eq!(
            parsed.map(|secret| secret.expose().to_owned()),
            Ok("hunter2".to_owned())
        );
    }
}
