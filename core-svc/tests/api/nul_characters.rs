//! U+0000 cannot be stored in PostgreSQL `text`: wherever a client can put
//! it, the core refuses it as bad input before any statement runs.

use core_svc::auth::dev_token;
use std::time::Duration;
use tonic::Code;

use crate::helpers::{SECRET, TestCore, assert_code};

#[tokio::test]
async fn a_nul_character_in_a_text_or_a_client_msg_id_is_an_invalid_argument() {
    let core = TestCore::start().await;
    let (alice, _bob, room) = core.pair().await;
    assert_code(alice.send(room, "a\0b").await, Code::InvalidArgument);
    assert_code(
        alice.send_keyed(room, "hi", "k\0").await,
        Code::InvalidArgument,
    );
    let sent = alice.send(room, "hello").await.expect("a plain send");
    let id = sent.message.expect("the message").message_id;
    assert_code(alice.edit(id, "\0").await, Code::InvalidArgument);
    let stored = alice.list(room, 0, 10).await.expect("the room's messages");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].text, "hello");
}

#[tokio::test]
async fn a_token_whose_sub_or_email_holds_a_nul_character_is_unauthenticated() {
    let core = TestCore::start().await;
    for (sub, email) in [("al\0ice", "a@example.com"), ("alice", "a\0@example.com")] {
        let token = dev_token(SECRET, sub, email, Duration::from_secs(60));
        let client = core.anonymous(Some(format!("Bearer {token}")));
        assert_code(client.who_am_i().await, Code::Unauthenticated);
    }
}
