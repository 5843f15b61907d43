//! Two users chat through the demo page, each in a browser context of their
//! own, and every check reads the DOM: messages and ticks, edits and
//! deletes, unread badges, read marks, typing and presence; and the list's
//! fallback, polling, when the page gets no user socket.

use edge::config::{Config as EdgeConfig, Secret};
use serde_json::Value;

use crate::chromium::Chromium;
use crate::helpers::{SECRET, TestApp};
use crate::page::Page;

/// An edge in development mode, with the test core's secret for its tokens.
pub(crate) async fn dev_app() -> TestApp {
    TestApp::spawn_with(|core_url| {
        let mut config = EdgeConfig::new(core_url);
        config.dev_mode = true;
        config.jwt_secret = Some(Secret::new(SECRET));
        // Room for the tests' seeds of a few dozen messages in one go.
        config.ws_rate_burst = 100;
        config
    })
    .await
}

/// Signs `page` in as development user `name`; returns their user id.
pub(crate) async fn sign_in(page: &mut Page, name: &str) -> i64 {
    page.eval(&format!(
        "(() => {{ const form = document.getElementById('signin'); \
         form.elements.name.value = {name:?}; form.requestSubmit(); return true; }})()"
    ))
    .await;
    page.until(
        "!document.getElementById('app').hidden && !!document.getElementById('me').dataset.id",
    )
    .await;
    let id = page.eval("document.getElementById('me').dataset.id").await;
    id.as_str()
        .and_then(|id| id.parse().ok())
        .expect("a user id")
}

/// Submits the "start conversation" form with `peer`.
async fn submit_start(page: &mut Page, peer: i64) {
    page.eval(&format!(
        "(() => {{ const form = document.getElementById('start'); \
         form.elements.user_id.value = '{peer}'; form.requestSubmit(); return true; }})()"
    ))
    .await;
}

/// Starts the conversation with `peer` from the form; returns its room id
/// once the conversation is open and connected.
async fn start_with(page: &mut Page, peer: i64) -> i64 {
    submit_start(page, peer).await;
    page.until(&format!("{OPEN_PANE}?.dataset.connected === 'true'"))
        .await;
    let room = page.eval(&format!("{OPEN_PANE}.dataset.room")).await;
    room.as_str()
        .and_then(|id| id.parse().ok())
        .expect("a room id")
}

/// JavaScript: the open conversation's pane.
pub(crate) const OPEN_PANE: &str = "document.querySelector('#conversation .pane')";

/// JavaScript: the list row of `room`.
pub(crate) fn row(room: i64) -> String {
    format!("document.querySelector('#rooms li[data-room=\"{room}\"]')")
}

/// Opens `room` by clicking its row in the list, and waits until it is connected.
pub(crate) async fn open_room(page: &mut Page, room: i64) {
    page.until(&format!("!!{}", row(room))).await;
    page.eval(&format!("{}.click(); true", row(room))).await;
    page.until(&format!(
        "{OPEN_PANE}?.dataset.room === '{room}' && {OPEN_PANE}.dataset.connected === 'true'"
    ))
    .await;
}

/// Types `text` into the composer (an `input` event, as a keyboard makes).
async fn type_text(page: &mut Page, text: &str) {
    page.eval(&format!(
        "(() => {{ const input = document.querySelector('.composer input'); input.value = {text:?}; \
         input.dispatchEvent(new Event('input', {{ bubbles: true }})); return true; }})()"
    ))
    .await;
}

/// Pastes `text` into the composer (no `input` event, so no `typing`
/// frame that would hold back a later one for 2 s) and presses Send.
pub(crate) async fn send(page: &mut Page, text: &str) {
    page.eval(&format!(
        "(() => {{ document.querySelector('.composer input').value = {text:?}; \
         document.querySelector('.composer').requestSubmit(); return true; }})()"
    ))
    .await;
}

/// JavaScript: the open conversation's message whose text is `text`.
fn message(text: &str) -> String {
    format!(
        "[...document.querySelectorAll('#conversation .msg')].find(li => li.querySelector('.text').textContent === {text:?})"
    )
}

/// The texts of the open conversation, top to bottom.
pub(crate) async fn texts(page: &mut Page) -> Value {
    page.eval(
        "[...document.querySelectorAll('#conversation .msg .text')].map(node => node.textContent)",
    )
    .await
}

#[tokio::test]
async fn messages_show_oldest_first_with_ticks_and_edits_and_deletes_reach_the_peer_live() {
    let app = dev_app().await;
    let url = format!("http://{}/", app.rest_addr);
    let mut chromium = Chromium::start().await;
    let mut alice = chromium.open(&url, "chat-alice").await;
    let mut bob = chromium.open(&url, "chat-bob").await;
    let alice_id = sign_in(&mut alice, "alice").await;
    let bob_id = sign_in(&mut bob, "bob").await;

    submit_start(&mut alice, alice_id).await;
    alice
        .until("document.getElementById('notice').textContent.includes(': 400 ')")
        .await;
    alice.screenshot("no-room-with-oneself").await;
    let room = start_with(&mut alice, bob_id).await;
    assert_eq!(
        alice
            .eval("document.getElementById('notice').textContent")
            .await,
        ""
    );
    let at_bob = row(room);
    bob.until(&format!("!!{at_bob}")).await;
    type_text(&mut alice, "hello from the browser").await;
    bob.until(&format!(
        "{at_bob}.classList.contains('typing') && {at_bob}.querySelector('.last').textContent === 'typing…'"
    ))
    .await;
    bob.screenshot("list-typing").await;
    alice
        .eval("document.querySelector('.composer').requestSubmit(); true")
        .await;
    send(&mut alice, "second message").await;
    bob.until(&format!(
        "{at_bob}.querySelector('.badge').textContent === '2' && \
         {at_bob}.querySelector('.last').textContent === 'second message'"
    ))
    .await;
    assert_eq!(
        bob.eval(&format!("{at_bob}.classList.contains('typing')"))
            .await,
        false,
        "the peer's message ends their typing in the list too"
    );
    for text in ["hello from the browser", "second message"] {
        alice
            .until(&format!(
                "{}?.dataset.status === 'delivered'",
                message(text)
            ))
            .await;
    }
    open_room(&mut bob, room).await;
    assert_eq!(
        texts(&mut bob).await,
        serde_json::json!(["hello from the browser", "second message"]),
        "the history shows the oldest message at the top"
    );
    let first = message("hello from the browser");
    alice
        .until(&format!("{first}?.dataset.status === 'read'"))
        .await;
    assert_eq!(
        alice
            .eval(&format!("{first}.querySelector('.tick').textContent"))
            .await,
        "✓✓"
    );
    let time = alice
        .eval(&format!("{first}.querySelector('time').textContent"))
        .await;
    assert!(
        time.as_str().is_some_and(|time| time.contains(':')),
        "{time}"
    );

    send(&mut alice, "a live one").await;
    bob.until(&format!("!!{}", message("a live one"))).await;
    assert_eq!(
        texts(&mut bob).await[2],
        "a live one",
        "a new message goes at the bottom"
    );
    alice.screenshot("conversation").await;
    bob.screenshot("conversation").await;

    alice
        .eval(&format!(
            "window.prompt = () => 'edited in the browser'; {first}.querySelector('button.edit').click(); true"
        ))
        .await;
    bob.until(&format!("!!{}", message("edited in the browser")))
        .await;
    alice
        .eval(&format!(
            "{}.querySelector('button.delete').click(); true",
            message("edited in the browser")
        ))
        .await;
    bob.until(&format!(
        "{}?.classList.contains('deleted') === true",
        message("message deleted")
    ))
    .await;
    bob.screenshot("edited-and-deleted").await;

    alice
        .eval("document.getElementById('signout').click(); true")
        .await;
    alice
        .until(
            "!document.getElementById('signin').hidden && \
             document.querySelectorAll('#rooms li, #conversation .pane').length === 0",
        )
        .await;
    assert_eq!(sign_in(&mut alice, "alice").await, alice_id);
    alice.until(&format!("!!{}", row(room))).await;
    chromium.close().await;
}

#[tokio::test]
async fn badges_read_marks_typing_and_presence_follow_the_peer_live() {
    let app = dev_app().await;
    let url = format!("http://{}/", app.rest_addr);
    let mut chromium = Chromium::start().await;
    let mut alice = chromium.open(&url, "live-alice").await;
    let mut bob = chromium.open(&url, "live-bob").await;
    let alice_id = sign_in(&mut alice, "alice").await;
    sign_in(&mut bob, "bob").await;
    // The list is live over the user socket, not polling.
    alice
        .until("document.getElementById('rooms').dataset.live === 'true'")
        .await;

    let room = start_with(&mut bob, alice_id).await;
    let at_alice = row(room);
    alice.until(&format!("!!{at_alice}")).await;
    alice
        .until(&format!(
            "{at_alice}.querySelector('.dot').dataset.online === 'true'"
        ))
        .await;
    assert_eq!(
        alice
            .eval(&format!("{at_alice}.querySelector('.badge').hidden"))
            .await,
        true,
        "a new room has nothing unread"
    );

    send(&mut bob, "are you there?").await;
    let badge = format!("{at_alice}?.querySelector('.badge')");
    alice
        .until(&format!(
            "{badge}?.hidden === false && {badge}.textContent === '1'"
        ))
        .await;
    assert_eq!(
        alice
            .eval(&format!("{at_alice}.querySelector('.last').textContent"))
            .await,
        "are you there?"
    );
    bob.until(&format!(
        "{}?.dataset.status === 'delivered'",
        message("are you there?")
    ))
    .await;
    alice.screenshot("unread-badge").await;

    open_room(&mut alice, room).await;
    alice
        .until(&format!("!!{}", message("are you there?")))
        .await;
    alice.until(&format!("{badge}?.hidden === true")).await;
    bob.until(&format!(
        "{}?.dataset.status === 'read'",
        message("are you there?")
    ))
    .await;
    bob.screenshot("read-tick").await;

    let typing = format!("{OPEN_PANE}.querySelector('.typing')");
    assert_eq!(alice.eval(&format!("{typing}.hidden")).await, true);
    type_text(&mut bob, "yes, I").await;
    alice.until(&format!("{typing}.hidden === false")).await;
    assert_eq!(
        alice.eval(&format!("{typing}.textContent")).await,
        "typing…"
    );
    alice.screenshot("typing").await;
    send(&mut bob, "yes, I am").await;
    alice.until(&format!("!!{}", message("yes, I am"))).await;
    assert_eq!(
        alice.eval(&format!("{typing}.hidden")).await,
        true,
        "the peer's message ends their typing"
    );

    let header_dot = format!("{OPEN_PANE}.querySelector('.peer-bar .dot').dataset.online");
    assert_eq!(alice.eval(&header_dot).await, "true");
    chromium.close_page(bob).await;
    alice.until(&format!("{header_dot} === 'false'")).await;
    alice
        .until(&format!(
            "{at_alice}.querySelector('.dot').dataset.online === 'false'"
        ))
        .await;
    let seen = alice
        .eval(&format!(
            "{OPEN_PANE}.querySelector('.peer-bar .seen').textContent"
        ))
        .await;
    assert!(
        seen.as_str()
            .is_some_and(|seen| seen.starts_with("last seen ")),
        "{seen}"
    );
    alice.screenshot("peer-offline").await;
    chromium.close().await;
}

/// JavaScript run before the page: its user socket goes to a path the edge
/// does not serve, as with an edge that has no user socket.
pub(crate) const NO_USER_SOCKET: &str = "(() => { const Real = window.WebSocket; \
    window.WebSocket = class extends Real { \
      constructor(url, protocols) { super(String(url).replace('/ws/user/', '/ws/none/'), protocols); } \
    }; })()";

#[tokio::test]
async fn without_a_user_socket_the_list_polls_and_still_shows_badges_and_reads() {
    let app = dev_app().await;
    let url = format!("http://{}/", app.rest_addr);
    let mut chromium = Chromium::start().await;
    let mut alice = chromium
        .open_with(&url, "polling-alice", Some(NO_USER_SOCKET))
        .await;
    let mut bob = chromium.open(&url, "polling-bob").await;
    let alice_id = sign_in(&mut alice, "alice").await;
    sign_in(&mut bob, "bob").await;
    alice
        .until("document.getElementById('list-state').textContent.includes('polling')")
        .await;

    let room = start_with(&mut bob, alice_id).await;
    send(&mut bob, "are you polling?").await;
    let at_alice = row(room);
    let badge = format!("{at_alice}?.querySelector('.badge')");
    alice
        .until(&format!(
            "{badge}?.hidden === false && {badge}.textContent === '1'"
        ))
        .await;
    alice.screenshot("unread-badge").await;
    open_room(&mut alice, room).await;
    alice.until(&format!("{badge}?.hidden === true")).await;
    bob.until(&format!(
        "{}?.dataset.status === 'read'",
        message("are you polling?")
    ))
    .await;
    assert_ne!(
        alice
            .eval("document.getElementById('rooms').dataset.live")
            .await,
        "true"
    );
    chromium.close().await;
}
