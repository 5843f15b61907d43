//! A JWT `NumericDate` (`exp`, `nbf`) read exactly as jsonwebtoken's
//! validation reads it: a non-negative integer, or a finite non-negative
//! number below `u64::MAX` rounded to the nearest second. The core reports
//! the `exp` it read this way, so that the second the token was checked
//! against is the second its holders are told.

use std::fmt;

use serde::Deserializer;
use serde::de::{Error, Visitor};

/// Deserializes a `NumericDate` into whole Unix seconds.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(Seconds)
}

struct Seconds;

impl Visitor<'_> for Seconds {
    type Value = u64;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a non-negative number of seconds")
    }

    fn visit_u64<E: Error>(self, value: u64) -> Result<u64, E> {
        Ok(value)
    }

    fn visit_i64<E: Error>(self, value: i64) -> Result<u64, E> {
        u64::try_from(value).map_err(|_| E::custom("a negative NumericDate"))
    }

    fn visit_f64<E: Error>(self, value: f64) -> Result<u64, E> {
        if value.is_finite() && value >= 0.0 && value < u64::MAX as f64 {
            Ok(value.round() as u64)
        } else {
            Err(E::custom("a NumericDate out of range"))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Claims {
        #[serde(deserialize_with = "super::deserialize")]
        exp: u64,
    }

    fn exp(json: &str) -> Option<u64> {
        serde_json::from_str::<Claims>(json).ok().map(|c| c.exp)
    }

    #[test]
    fn integers_are_taken_as_they_are() {
        assert_eq!(exp(r#"{"exp": 1700000000}"#), Some(1_700_000_000));
    }

    #[test]
    fn fractions_are_rounded_to_the_nearest_second() {
        assert_eq!(exp(r#"{"exp": 1700000000.5}"#), Some(1_700_000_001));
        assert_eq!(exp(r#"{"exp": 1700000000.4}"#), Some(1_700_000_000));
    }

    #[test]
    fn a_far_future_exponent_is_read_in_full() {
        assert_eq!(exp(r#"{"exp": 1e19}"#), Some(10_000_000_000_000_000_000));
    }

    #[test]
    fn negative_out_of_range_and_non_numbers_are_refused() {
        for json in [
            r#"{"exp": -1}"#,
            r#"{"exp": -0.5}"#,
            r#"{"exp": 1e20}"#,
            r#"{"exp": "1700000000"}"#,
            r#"{"exp": null}"#,
        ] {
            assert_eq!(exp(json), None, "{json}");
        }
    }
}
