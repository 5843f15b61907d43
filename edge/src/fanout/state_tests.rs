//! The hub's bookkeeping as sentences.

use super::*;
use crate::core_client::{Change, Opening, Presence, Snapshot};
use crate::fanout::{FeedReceiver, feed};

fn token() -> BearerToken {
    BearerToken::parse("a.b.c").unwrap_or_else(|| panic!("a valid token"))
}

fn opening(socket_id: u64, room_id: i64) -> SocketOpening {
    SocketOpening {
        socket_id,
        room_id,
        token: token(),
        after_seq: None,
    }
}

fn snapshot(seq: i64, user_id: i64) -> Snapshot {
    Snapshot {
        user_id,
        token_exp: 1,
        seq,
        opening: Opening::Resumed { last_seq: seq },
    }
}

fn deleted(seq: i64) -> RoomEvent {
    RoomEvent {
        seq,
        change: Change::Deleted { message_id: seq },
    }
}

/// A state holding socket `socket_id` of user 1 open on room 7 at `seq`,
/// and its feed.
fn open_socket(state: &mut State, socket_id: u64, seq: i64) -> FeedReceiver {
    let opened = Opened {
        snapshot: snapshot(seq, 1),
        missed: Vec::new(),
        peer: None,
    };
    open_with(state, socket_id, opened)
}

/// The presence of `user_id` at `version`.
fn online(user_id: i64, version: i64) -> Presence {
    Presence {
        user_id,
        is_online: true,
        last_seen: None,
        version,
    }
}

/// Socket `socket_id` of `user_id` open on room 7 at `seq` 0, whose answer
/// carried `peer`, and its feed.
fn open_as(
    state: &mut State,
    socket_id: u64,
    user_id: i64,
    peer: Option<Presence>,
) -> FeedReceiver {
    let opened = Opened {
        snapshot: snapshot(0, user_id),
        missed: Vec::new(),
        peer,
    };
    open_with(state, socket_id, opened)
}

/// Socket `socket_id` open on room 7 with the answer `opened`, and its feed.
fn open_with(state: &mut State, socket_id: u64, opened: Opened) -> FeedReceiver {
    let (feed, rx) = feed(4);
    let (reply, _answer) = oneshot::channel();
    state.open(opening(socket_id, 7), feed, reply);
    // The answer is not awaited here: a dropped receiver counts as gone.
    let (reply, mut answer) = oneshot::channel();
    if let Some(socket) = state.sockets.get_mut(&socket_id) {
        socket.phase = Phase::Opening(reply);
    }
    assert!(state.opened(socket_id, opened));
    assert!(matches!(answer.try_recv(), Ok(Ok(_))));
    rx
}

fn frame(rx: &mut FeedReceiver) -> Option<String> {
    match rx.try_recv().map(|item| *item) {
        Ok(Feed::Frame(text)) => Some(text.as_str().to_owned()),
        _ => None,
    }
}

#[test]
fn every_socket_of_a_room_gets_the_same_encoded_frame() {
    let mut state = State::default();
    let mut first = open_socket(&mut state, 1, 3);
    let mut second = open_socket(&mut state, 2, 3);
    assert!(state.event(7, deleted(4)).is_empty());
    let (a, b) = (frame(&mut first), frame(&mut second));
    assert!(a.is_some_and(|a| a.contains("\"seq\":4")));
    assert_eq!(frame(&mut first), None);
    assert!(b.is_some_and(|b| b.contains("message_deleted")));
}

#[test]
fn a_socket_skips_the_events_up_to_its_snapshot() {
    let mut state = State::default();
    let mut early = open_socket(&mut state, 1, 3);
    let mut late = open_socket(&mut state, 2, 5);
    for seq in 4..=6 {
        state.event(7, deleted(seq));
    }
    assert_eq!((0..3).filter_map(|_| frame(&mut early)).count(), 3);
    let late_frames: Vec<String> = (0..3).filter_map(|_| frame(&mut late)).collect();
    assert_eq!(late_frames.len(), 1);
    assert!(late_frames[0].contains("\"seq\":6"));
}

#[test]
fn an_event_already_held_is_not_sent_twice() {
    let mut state = State::default();
    let mut socket = open_socket(&mut state, 1, 3);
    state.event(7, deleted(4));
    state.event(7, deleted(4));
    assert!(frame(&mut socket).is_some());
    assert_eq!(frame(&mut socket), None);
}

#[test]
fn a_socket_whose_feed_is_full_is_dropped_and_the_others_carry_on() {
    let mut state = State::default();
    let _stalled = open_socket(&mut state, 1, 0);
    let mut reading = open_socket(&mut state, 2, 0);
    let mut dropped = Vec::new();
    for seq in 1..=5 {
        dropped.extend(state.event(7, deleted(seq)));
        assert!(frame(&mut reading).is_some());
    }
    assert_eq!(dropped, [1]);
    assert_eq!(state.len(), 1);
}

#[test]
fn the_hello_names_open_sockets_and_room_positions_and_reopens_the_rest() {
    let mut state = State::default();
    let _open = open_socket(&mut state, 1, 3);
    state.event(7, deleted(4));
    let (feed, _rx) = feed(1);
    let (reply, _answer) = oneshot::channel();
    state.open(opening(2, 8), feed, reply);
    let (hello, reopen) = state.hello();
    let ids: Vec<u64> = hello.sockets.iter().map(|s| s.socket_id).collect();
    assert_eq!(ids, [1]);
    assert_eq!(hello.rooms, [(7, 4)]);
    assert_eq!(reopen.len(), 1);
}

#[test]
fn a_refused_open_socket_closes_with_the_code_of_its_failure() {
    let mut state = State::default();
    let mut socket = open_socket(&mut state, 1, 3);
    let error = Error::Core(tonic::Status::unauthenticated("expired"));
    state.refused(1, error);
    assert!(matches!(
        socket.try_recv().map(|item| *item),
        Ok(Feed::Close(CloseReason::UNAUTHENTICATED))
    ));
    assert_eq!(state.hello().0.rooms, []);
}

#[test]
fn the_last_socket_leaving_drops_the_room() {
    let mut state = State::default();
    let _socket = open_socket(&mut state, 1, 3);
    assert!(state.close(1));
    assert!(!state.close(1));
    assert_eq!(state.hello().0.rooms, []);
}

#[test]
fn a_refreshed_token_is_the_one_later_hellos_carry() {
    let mut state = State::default();
    let _socket = open_socket(&mut state, 1, 3);
    let fresh = BearerToken::parse("d.e.f").unwrap_or_else(|| panic!("a valid token"));
    state.refresh(1, fresh);
    let (hello, _) = state.hello();
    assert_eq!(hello.sockets[0].token.expose(), "d.e.f");
}

#[test]
fn presence_and_typing_go_to_the_other_members_sockets_only() {
    let mut state = State::default();
    let mut mine = open_as(&mut state, 1, 1, None);
    let mut peers = open_as(&mut state, 2, 2, None);
    assert!(state.presence(7, online(1, 1)).is_empty());
    let presence = frame(&mut peers).expect("the peer's socket hears it");
    assert!(presence.contains("\"type\":\"presence\"") && !presence.contains("seq"));
    assert_eq!(frame(&mut mine), None, "not about the socket's own user");
    state.typing(7, 2);
    let typing = frame(&mut mine).expect("the other member's socket hears it");
    assert_eq!(typing, r#"{"type":"typing","room_id":7,"user_id":2}"#);
    assert_eq!(frame(&mut peers), None, "the typer's own socket does not");
}

#[test]
fn a_presence_version_a_socket_holds_is_not_sent_again() {
    let mut state = State::default();
    let mut early = open_as(&mut state, 1, 1, Some(online(2, 1)));
    let mut late = open_as(&mut state, 2, 1, Some(online(2, 2)));
    state.presence(7, online(2, 2));
    assert!(frame(&mut early).is_some(), "news to the early socket");
    assert_eq!(frame(&mut late), None, "its answer carried version 2");
    state.presence(7, online(2, 2));
    state.presence(7, online(2, 1));
    assert_eq!(frame(&mut early), None, "nothing twice, nothing stale");
    state.presence(7, online(2, 3));
    assert!(frame(&mut early).is_some() && frame(&mut late).is_some());
}
