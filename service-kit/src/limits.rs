//! The size rules of the `chat.v1` contract, which the core enforces and
//! the edge checks before it calls: a message text is trimmed of white
//! space, then 1 to [`MAX_TEXT_CHARS`] Unicode code points with no U+0000
//! (PostgreSQL `text` cannot hold one); one request, or one WebSocket
//! message from a client, is at most [`MAX_REQUEST_BYTES`].

/// The most characters (Unicode code points) a message text may have after trimming.
pub const MAX_TEXT_CHARS: usize = 4096;

/// The largest request message a client may send to the core, and the
/// largest WebSocket message a client may send to the edge (a text of
/// [`MAX_TEXT_CHARS`] is at most 16 KiB of UTF-8).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Why a message text breaks the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    /// Nothing is left after trimming.
    Empty,
    /// The text holds U+0000.
    Nul,
    /// More than [`MAX_TEXT_CHARS`] characters after trimming.
    TooLong,
}

/// `raw` trimmed of surrounding white space, when the rest is 1 to
/// [`MAX_TEXT_CHARS`] characters without U+0000; otherwise the first rule
/// it breaks, checked in the order of [`TextError`].
pub fn message_text(raw: &str) -> Result<&str, TextError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty);
    }
    if trimmed.contains('\0') {
        return Err(TextError::Nul);
    }
    if trimmed.chars().count() > MAX_TEXT_CHARS {
        return Err(TextError::TooLong);
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_trimmed() {
        assert_eq!(message_text("  hello \n"), Ok("hello"));
    }

    #[test]
    fn a_text_of_only_white_space_is_empty() {
        assert_eq!(message_text(" \t\n "), Err(TextError::Empty));
        assert_eq!(message_text(""), Err(TextError::Empty));
    }

    #[test]
    fn a_text_with_u0000_is_refused() {
        assert_eq!(message_text("a\0b"), Err(TextError::Nul));
    }

    #[test]
    fn the_limit_counts_code_points_not_bytes_and_not_the_trimmed_space() {
        let at_limit = format!("  {}  ", "é".repeat(MAX_TEXT_CHARS));
        assert!(message_text(&at_limit).is_ok());
        let over = "é".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(message_text(&over), Err(TextError::TooLong));
    }

    #[test]
    fn the_longest_text_fits_in_a_request() {
        let longest = "\u{10ffff}".repeat(MAX_TEXT_CHARS);
        assert!(longest.len() < MAX_REQUEST_BYTES);
    }
}
