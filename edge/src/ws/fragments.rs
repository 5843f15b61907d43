//! A large text frame written as a fragmented message (RFC 6455 §5.4): a
//! text frame that is not final, continuation frames, the last one final.
//! tungstenite formats each frame it writes into the socket's write buffer,
//! which never shrinks; written whole, the largest frame a socket ever got
//! (a user socket's `inbox`, a history of 50 messages) would stay allocated
//! for the socket's life. In fragments the buffer stays at one fragment.
//! Clients see one message: every WebSocket client joins fragments.

use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::{Bytes, Message, Utf8Bytes};

/// The largest frame written whole, and the size of each fragment (give or
/// take the bytes of one character, which never straddles two fragments).
pub const FRAGMENT_BYTES: usize = 1024;

/// Whether `text` goes out in fragments.
pub fn is_large(text: &Utf8Bytes) -> bool {
    text.len() > FRAGMENT_BYTES
}

/// The frames of the message `text`, in order.
pub fn fragments(text: &Utf8Bytes) -> impl Iterator<Item = Message> + use<> {
    let cuts = cuts(text.as_str());
    let bytes = Bytes::from(text.clone());
    let last = cuts.len().saturating_sub(1);
    cuts.into_iter()
        .enumerate()
        .map(move |(index, (start, end))| {
            let opcode = match index {
                0 => OpCode::Data(Data::Text),
                _ => OpCode::Data(Data::Continue),
            };
            Message::Frame(Frame::message(
                bytes.slice(start..end),
                opcode,
                index == last,
            ))
        })
}

/// Byte ranges of about [`FRAGMENT_BYTES`], each ending on a character boundary.
fn cuts(text: &str) -> Vec<(usize, usize)> {
    let mut cuts = Vec::with_capacity(text.len() / FRAGMENT_BYTES + 1);
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + FRAGMENT_BYTES).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        cuts.push((start, end));
        start = end;
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(text: &str) -> Vec<Frame> {
        fragments(&Utf8Bytes::from(text.to_owned()))
            .map(|message| match message {
                Message::Frame(frame) => frame,
                other => panic!("not a frame: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_large_text_is_a_text_frame_then_continuations_the_last_final() {
        let text = "é".repeat(FRAGMENT_BYTES * 2); // 2 bytes a character
        let frames = frames(&text);
        assert_eq!(frames.len(), 4);
        assert_eq!(frames[0].header().opcode, OpCode::Data(Data::Text));
        for frame in &frames[1..] {
            assert_eq!(frame.header().opcode, OpCode::Data(Data::Continue));
        }
        let finals: Vec<bool> = frames.iter().map(|frame| frame.header().is_final).collect();
        assert_eq!(finals, [false, false, false, true]);
        let joined: Vec<u8> = frames.iter().flat_map(|f| f.payload().to_vec()).collect();
        assert_eq!(joined, text.as_bytes());
        for frame in &frames {
            assert!(
                std::str::from_utf8(frame.payload()).is_ok(),
                "whole characters"
            );
            assert!(frame.payload().len() <= FRAGMENT_BYTES + 3);
        }
    }

    #[test]
    fn only_texts_over_the_fragment_size_are_large() {
        let small = Utf8Bytes::from("x".repeat(FRAGMENT_BYTES));
        let large = Utf8Bytes::from("x".repeat(FRAGMENT_BYTES + 1));
        assert!(!is_large(&small));
        assert!(is_large(&large));
        assert_eq!(frames(large.as_str()).len(), 2);
    }
}
