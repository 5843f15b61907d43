//! The WebSocket client-frame decoder: any text either becomes a frame
//! whose fields respect the protocol's limits, or a refusal; never a panic.
#![no_main]

use edge::ws::parse_client_frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = parse_client_frame(text) {
        let chars = frame.message.chars().count();
        assert!((1..=4096).contains(&chars));
        assert_eq!(frame.message.trim(), frame.message);
        if let Some(id) = frame.client_msg_id {
            assert!((1..=64).contains(&id.chars().count()));
        }
    }
});
