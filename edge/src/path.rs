//! What a path segment may hold, for the REST routes and the WebSocket
//! route alike: a positive id, a language code.

/// A positive integer id from a path or query; anything else is `None`.
pub fn positive_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

/// Whether `raw` spells an integer (an optional `-`, then digits), of any size.
pub fn is_integer(raw: &str) -> bool {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A language code such as `en`, `uk` or `pt-br`.
pub fn is_language_code(code: &str) -> bool {
    let mut chars = code.chars();
    (2..=7).contains(&code.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphabetic() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_language_codes_are_accepted() {
        for code in ["en", "uk", "pt-br", "zh-hans", "en_GB"] {
            assert!(is_language_code(code), "{code}");
        }
    }

    #[test]
    fn other_first_segments_are_not_language_codes() {
        for code in ["", "e", "english-long", "12", "-en"] {
            assert!(!is_language_code(code), "{code}");
        }
    }

    #[test]
    fn integers_are_digits_with_an_optional_minus() {
        for raw in ["0", "-4", "99999999999999999999"] {
            assert!(is_integer(raw), "{raw}");
        }
        for raw in ["", "-", "+3", " 3", "1.5", "x"] {
            assert!(!is_integer(raw), "{raw}");
        }
    }

    #[test]
    fn ids_must_be_positive_integers() {
        assert_eq!(positive_id("42"), Some(42));
        for raw in ["0", "-1", "abc", "1.5", "", "99999999999999999999"] {
            assert_eq!(positive_id(raw), None, "{raw}");
        }
    }
}
