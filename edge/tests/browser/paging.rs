//! What the demo page reads beyond its sockets' first frames: the list's
//! later pages ("Load more"), the open conversation's older messages
//! ("Load older messages"), and the explicit read marks ("mark all read" on
//! a row, and the marks the open conversation posts).

use std::collections::HashSet;
use std::time::Duration;

use core_svc::auth::dev_token;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::chromium::Chromium;
use crate::demo::{NO_USER_SOCKET, OPEN_PANE, dev_app, open_room, row, sign_in, texts};
use crate::helpers::{SECRET, TestApp, User};

/// The development user `name` as the page signs them in (sub `dev-<name>`,
/// email `<name>@example.com`), made through the API before any page runs.
async fn dev_user(app: &TestApp, name: &str) -> User {
    let email = format!("{name}@example.com");
    let token = dev_token(
        SECRET,
        &format!("dev-{name}"),
        &email,
        Duration::from_secs(600),
    );
    let (status, me) = app
        .call(Method::GET, "/en/api/v1/users/me", Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let id = me["id"].as_i64().expect("an integer id");
    User { id, email, token }
}

/// JavaScript: the room ids of the list's rows, top to bottom.
const ROW_IDS: &str =
    "[...document.querySelectorAll('#rooms li.room')].map(li => Number(li.dataset.room))";

/// JavaScript: the list's "Load more" button, if it shows.
const LOAD_MORE: &str = "document.querySelector('#rooms li.more button')";

/// JavaScript: the open conversation's "Load older messages" item.
const OLDER: &str = "document.querySelector('#conversation li.older')";

/// JavaScript run before the page: every `fetch` is recorded in `window.calls`.
const RECORD_FETCH: &str = "(() => { const real = window.fetch; window.calls = []; \
    window.fetch = (url, init = {}) => { \
      window.calls.push({ method: init.method || 'GET', url: String(url), body: init.body ?? null }); \
      return real(url, init); }; })()";

/// JavaScript: whether the page posted the read mark of `room` up to `message_id`.
fn read_posted(room: i64, message_id: i64) -> String {
    format!(
        "window.calls.some(c => c.method === 'POST' && c.url.endsWith('/chatrooms/{room}/read') \
         && c.body === '{{\"message_id\":{message_id}}}')"
    )
}

/// `user`'s conversation `room` as `GET /chatrooms/` shows it.
async fn listed(app: &TestApp, user: &User, room: i64) -> Value {
    let (status, page) = app
        .call(Method::GET, "/en/api/v1/chatrooms/", Some(&user.token))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let rooms = page["rooms"].as_array().expect("a list of rooms");
    let found = rooms.iter().find(|item| item["room_id"] == json!(room));
    found.expect("the room is listed").clone()
}

#[tokio::test]
async fn load_more_shows_the_rooms_past_the_first_page_each_once_and_then_goes() {
    let app = dev_app().await;
    let alice = dev_user(&app, "alice").await;
    let mut rooms = Vec::new();
    for i in 0..55 {
        let peer = app.user(&format!("peer-{i:02}")).await;
        rooms.push((app.room(&peer, alice.id).await, peer));
    }
    let url = format!("http://{}/", app.rest_addr);
    let mut chromium = Chromium::start().await;
    let mut page = chromium.open(&url, "paging-alice").await;
    assert_eq!(sign_in(&mut page, "alice").await, alice.id);
    page.until(&format!("{ROW_IDS}.length === 50 && !!{LOAD_MORE}"))
        .await;
    let newest_first: Vec<i64> = rooms.iter().rev().map(|(room, _)| *room).collect();
    assert_eq!(
        page.eval(ROW_IDS).await,
        json!(newest_first[..50]),
        "the first page is the 50 most recently active rooms"
    );

    // Meanwhile a message moves the least active room, not shown yet, to the top.
    let (moved, peer) = &rooms[0];
    app.seed(peer, *moved, 1).await;
    page.until(&format!(
        "{ROW_IDS}[0] === {moved} && {ROW_IDS}.length === 51"
    ))
    .await;
    page.screenshot("first-page").await;
    page.eval("document.getElementById('rooms').scrollTop = 1e6; true")
        .await;
    page.screenshot("load-more").await;

    page.eval(&format!("{LOAD_MORE}.click(); true")).await;
    page.until(&format!("{ROW_IDS}.length >= 55 && !{LOAD_MORE}"))
        .await;
    let shown: Vec<i64> = serde_json::from_value(page.eval(ROW_IDS).await).expect("room ids");
    let distinct: HashSet<i64> = shown.iter().copied().collect();
    assert_eq!(shown.len(), 55, "{shown:?}");
    assert_eq!(distinct.len(), 55, "no room shows twice: {shown:?}");
    let mut expected = vec![*moved];
    expected.extend(&newest_first[..54]);
    assert_eq!(
        shown, expected,
        "the moved room on top, the rest by activity"
    );
    assert_eq!(
        page.eval(&format!(
            "{}.querySelector('.badge').textContent",
            row(*moved)
        ))
        .await,
        "1"
    );
    page.eval("document.getElementById('rooms').scrollTop = 1e6; true")
        .await;
    page.screenshot("all-rooms").await;
    chromium.close().await;
}

#[tokio::test]
async fn mark_all_read_clears_the_badge_without_opening_the_room_and_the_server_agrees() {
    let app = dev_app().await;
    let alice = dev_user(&app, "alice").await;
    let bob = app.user("bob").await;
    let room = app.room(&bob, alice.id).await;
    let url = format!("http://{}/", app.rest_addr);
    let mut chromium = Chromium::start().await;
    let mut page = chromium.open(&url, "mark-read-alice").await;
    sign_in(&mut page, "alice").await;
    page.until("document.getElementById('rooms').dataset.live === 'true'")
        .await;

    app.seed(&bob, room, 3).await;
    let at_alice = row(room);
    let badge = format!("{at_alice}?.querySelector('.badge')");
    let mark = format!("{at_alice}?.querySelector('.mark-read')");
    page.until(&format!(
        "{badge}?.hidden === false && {badge}.textContent === '3' && {mark}.hidden === false"
    ))
    .await;
    assert_eq!(listed(&app, &alice, room).await["unread_count"], 3);
    page.screenshot("unread").await;

    page.eval(&format!("{mark}.click(); true")).await;
    page.until(&format!(
        "{badge}.hidden === true && {mark}.hidden === true"
    ))
    .await;
    assert_eq!(
        page.eval(&format!("{OPEN_PANE} === null")).await,
        true,
        "marking read does not open the room"
    );
    assert_eq!(listed(&app, &alice, room).await["unread_count"], 0);
    let statuses: Vec<Value> = app
        .messages(&bob, room)
        .await
        .iter()
        .map(|item| item["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!("read"); 3]);
    page.screenshot("marked-read").await;
    chromium.close().await;
}

#[tokio::test]
async fn older_messages_load_above_the_history_in_order_and_reads_are_posted() {
    let app = dev_app().await;
    let alice = dev_user(&app, "alice").await;
    let bob = app.user("bob").await;
    let room = app.room(&bob, alice.id).await;
    let ids = app.seed(&bob, room, 60).await;
    let url = format!("http://{}/", app.rest_addr);
    let mut chromium = Chromium::start().await;
    let mut page = chromium
        .open_with(&url, "older-alice", Some(RECORD_FETCH))
        .await;
    sign_in(&mut page, "alice").await;
    page.until(&format!(
        "{}?.querySelector('.badge').textContent === '60'",
        row(room)
    ))
    .await;

    open_room(&mut page, room).await;
    let count = "document.querySelectorAll('#conversation .msg').length";
    page.until(&format!("{count} === 50")).await;
    let all: Vec<String> = (0..60).map(|i| format!("message {i}")).collect();
    assert_eq!(texts(&mut page).await, json!(all[10..]), "the history");
    assert_eq!(page.eval(&format!("{OLDER}.hidden")).await, false);
    // Opening a room with unread messages posts the read of the newest shown.
    page.until(&read_posted(room, ids[59])).await;
    page.eval("document.querySelector('#conversation .messages').scrollTop = 0; true")
        .await;
    page.screenshot("history-top").await;

    page.eval(&format!("{OLDER}.querySelector('button').click(); true"))
        .await;
    page.until(&format!("{count} === 60 && {OLDER}.hidden === true"))
        .await;
    assert_eq!(
        texts(&mut page).await,
        json!(all),
        "older messages above, oldest at the top"
    );
    page.eval("document.querySelector('#conversation .messages').scrollTop = 0; true")
        .await;
    page.screenshot("older").await;

    // A peer's message while the page has the user's attention is marked too.
    page.focus().await;
    let live = app.seed(&bob, room, 1).await;
    page.until(&format!("{count} === 61")).await;
    page.until(&read_posted(room, live[0])).await;
    chromium.close().await;
}

#[tokio::test]
async fn while_the_list_polls_load_more_still_pages_and_a_poll_keeps_the_rooms_it_added() {
    let app = dev_app().await;
    let alice = dev_user(&app, "alice").await;
    let mut rooms = Vec::new();
    for i in 0..52 {
        let peer = app.user(&format!("peer-{i:02}")).await;
        rooms.push(app.room(&peer, alice.id).await);
    }
    let url = format!("http://{}/", app.rest_addr);
    let mut chromium = Chromium::start().await;
    let init = format!("{NO_USER_SOCKET}; {RECORD_FETCH}");
    let mut page = chromium
        .open_with(&url, "paging-polling-alice", Some(&init))
        .await;
    sign_in(&mut page, "alice").await;
    page.until(&format!("{ROW_IDS}.length === 50 && !!{LOAD_MORE}"))
        .await;
    page.eval(&format!("{LOAD_MORE}.click(); true")).await;
    page.until(&format!("{ROW_IDS}.length === 52 && !{LOAD_MORE}"))
        .await;

    // A poll re-reads the first page only, and drops nothing: once the
    // second poll from now has started, the first one's answer is shown.
    let polls = "window.calls.filter(c => c.url.endsWith('/chatrooms/?limit=50')).length";
    let seen = page.eval(polls).await.as_i64().expect("a count");
    page.until(&format!("{polls} > {seen} + 1")).await;
    let shown: Vec<i64> = serde_json::from_value(page.eval(ROW_IDS).await).expect("room ids");
    let expected: Vec<i64> = rooms.iter().rev().copied().collect();
    assert_eq!(shown, expected);
    assert_eq!(page.eval(&format!("!{LOAD_MORE}")).await, true);
    chromium.close().await;
}
