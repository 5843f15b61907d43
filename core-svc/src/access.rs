//! Room authorization: who may do what in a room, and what each refusal is
//! answered with. Every rule lives here; the gRPC handlers and the store
//! only call these checks on what they parsed or read.
//!
//! | operation | allowed when | refused with |
//! | --- | --- | --- |
//! | open a direct room (`GetOrCreateDirectRoom`) | the two users differ, the caller is one of them, both exist | [`Refusal::SameUser`], [`Refusal::NotAParty`], [`Refusal::UnknownUser`] |
//! | read history (`ListMessages`), subscribe (`Subscribe`) | the room exists and the caller is a member | [`Refusal::NoRoom`], [`Refusal::NotMember`] |
//! | send (`SendMessage`) | the same as reading | the same |
//! | mark read (`MarkRead`) | the same as reading | the same |
//! | list rooms (`ListConversations`) | always: only the caller's own rooms are read | — |
//! | see a profile (`GetUser`) | the user is the caller or shares a room with them | NOT_FOUND, whether or not the user exists (no enumeration) |
//! | edit, delete (`EditMessage`, `DeleteMessage`) | the message exists, is not deleted, lies in a room of the caller, and the caller sent it | [`Refusal::NoMessage`] (a message in others' rooms is not revealed), [`Refusal::NotSender`] |
//!
//! **Membership.** A room's members are its two users, `rooms.user_lo` and
//! `rooms.user_hi`, read into [`Room::members`]. In SQL the canonical query
//! is the `room_members` view (room_id, user_id, joined_at) of that pair
//! (migrations/0005, which replaced an unread copy with it).
//!
//! **Where each check runs.** Subscribe, edit and delete check rows read
//! under the room's lock (`store::rooms::lock_room`), history checks the
//! room row it reads first. Send is the one rule enforced in SQL: the
//! function `chat_send_message` (migrations/0005) checks membership under
//! the room lock in the same round trip as the insert, and answers
//! `no_room` or `not_member`, which the store turns into [`Refusal::NoRoom`]
//! and [`Refusal::NotMember`]. A change of the send rule changes both.
//! Mark read checks the room row read under its lock, as subscribe does.
//! Profile visibility is one condition of the store's query
//! (`Store::visible_user`): a profile nobody may see is never read.

use crate::{
    domain::{Room, UserId},
    error::Error,
};

/// Why a room operation was refused; each maps to one gRPC code and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A direct room needs two different users (INVALID_ARGUMENT).
    SameUser,
    /// The caller opened a direct room of two others (PERMISSION_DENIED).
    NotAParty,
    /// One of a direct room's users does not exist (NOT_FOUND).
    UnknownUser,
    /// The room does not exist (NOT_FOUND).
    NoRoom,
    /// The caller is not a member of the room (PERMISSION_DENIED).
    NotMember,
    /// The message does not exist, is deleted, or lies in a room the caller
    /// is not in (NOT_FOUND).
    NoMessage,
    /// Another member sent the message (PERMISSION_DENIED).
    NotSender,
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::SameUser => Error::InvalidArgument("a direct room needs two different users"),
            Refusal::NotAParty => {
                Error::PermissionDenied("the caller must be one of the two users")
            }
            Refusal::UnknownUser => Error::NotFound("user not found"),
            Refusal::NoRoom => Error::NotFound("room not found"),
            Refusal::NotMember => Error::PermissionDenied("not a member of this room"),
            Refusal::NoMessage => Error::NotFound("message not found"),
            Refusal::NotSender => {
                Error::PermissionDenied("only the sender may change this message")
            }
        }
    }
}

/// Whether `caller` may open the direct room of `a` and `b`. That both
/// exist is checked by the store's insert ([`Refusal::UnknownUser`]).
pub fn open_direct(caller: UserId, a: UserId, b: UserId) -> Result<(), Refusal> {
    if a == b {
        return Err(Refusal::SameUser);
    }
    if caller != a && caller != b {
        return Err(Refusal::NotAParty);
    }
    Ok(())
}

/// Whether `user` may read, subscribe to or send to `room` (`None`: no
/// such room); the room when they may.
pub fn enter(room: Option<Room>, user: UserId) -> Result<Room, Refusal> {
    let room = room.ok_or(Refusal::NoRoom)?;
    if room.has_member(user) {
        Ok(room)
    } else {
        Err(Refusal::NotMember)
    }
}

/// A stored message as the edit and delete rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authored {
    pub sender: UserId,
    pub deleted: bool,
}

/// Whether `caller` may edit or delete `message` (`None`: no such message)
/// of `room` (`None`: not found).
pub fn change_message(
    caller: UserId,
    room: Option<&Room>,
    message: Option<Authored>,
) -> Result<(), Refusal> {
    let in_callers_room = room.is_some_and(|room| room.has_member(caller));
    match message {
        Some(message) if in_callers_room && !message.deleted => {
            if message.sender == caller {
                Ok(())
            } else {
                Err(Refusal::NotSender)
            }
        }
        _ => Err(Refusal::NoMessage),
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;
    use crate::domain::RoomId;

    fn user(id: i64) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn room_of(a: i64, b: i64) -> Room {
        Room {
            id: RoomId::parse(9).unwrap(),
            members: [user(a), user(b)],
            last_seq: 0,
        }
    }

    fn code(refusal: Refusal) -> Code {
        tonic::Status::from(Error::from(refusal)).code()
    }

    #[test]
    fn a_user_opens_a_direct_room_only_with_someone_else() {
        assert_eq!(open_direct(user(1), user(1), user(2)), Ok(()));
        assert_eq!(open_direct(user(2), user(1), user(2)), Ok(()));
        assert_eq!(
            open_direct(user(1), user(1), user(1)),
            Err(Refusal::SameUser)
        );
        assert_eq!(
            open_direct(user(3), user(1), user(2)),
            Err(Refusal::NotAParty)
        );
    }

    #[test]
    fn only_members_enter_a_room_and_a_missing_room_is_not_found() {
        let room = room_of(1, 2);
        assert_eq!(enter(Some(room.clone()), user(2)), Ok(room.clone()));
        assert_eq!(enter(Some(room), user(3)), Err(Refusal::NotMember));
        assert_eq!(enter(None, user(1)), Err(Refusal::NoRoom));
    }

    #[test]
    fn only_the_sender_changes_a_message_and_others_rooms_reveal_nothing() {
        let room = room_of(1, 2);
        let by = |sender, deleted| {
            Some(Authored {
                sender: user(sender),
                deleted,
            })
        };
        assert_eq!(change_message(user(1), Some(&room), by(1, false)), Ok(()));
        assert_eq!(
            change_message(user(2), Some(&room), by(1, false)),
            Err(Refusal::NotSender)
        );
        for (caller, room, message) in [
            (user(3), Some(&room), by(1, false)),
            (user(1), Some(&room), by(1, true)),
            (user(1), Some(&room), None),
            (user(1), None, by(1, false)),
        ] {
            assert_eq!(
                change_message(caller, room, message),
                Err(Refusal::NoMessage)
            );
        }
    }

    #[test]
    fn refusals_keep_their_documented_codes() {
        assert_eq!(code(Refusal::SameUser), Code::InvalidArgument);
        assert_eq!(code(Refusal::NotAParty), Code::PermissionDenied);
        assert_eq!(code(Refusal::UnknownUser), Code::NotFound);
        assert_eq!(code(Refusal::NoRoom), Code::NotFound);
        assert_eq!(code(Refusal::NotMember), Code::PermissionDenied);
        assert_eq!(code(Refusal::NoMessage), Code::NotFound);
        assert_eq!(code(Refusal::NotSender), Code::PermissionDenied);
    }
}
