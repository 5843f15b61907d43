//! Messages: send, edit, delete and history, each with its room events.

use tokio_postgres::Row;

use super::{Store, events, local_timeouts, rooms, rows, transaction_by};
use crate::{
    access::{self, Authored, Refusal},
    deadline::Deadline,
    domain::{
        ClientMsgId, EventKind, Message, MessageId, MessageText, Room, RoomEvent, RoomId, UserId,
    },
    error::Error,
};

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room_id: RoomId,
    pub sender_id: UserId,
    pub text: MessageText,
    pub client_msg_id: Option<ClientMsgId>,
}

/// The outcome of a send.
#[derive(Debug, Clone)]
pub struct Sent {
    pub message: Message,
    /// The sequence number of the message's `message_created` event.
    pub seq: i64,
    /// The events the send appended; empty for a duplicate.
    pub events: Vec<RoomEvent>,
    /// True when the idempotency key matched an earlier send.
    pub duplicate: bool,
}

impl Store {
    /// Stores a message with its events, in one transaction under the room
    /// lock, committed before `deadline` or not at all. The send rule (who
    /// may send, delivered or read, which events) is `chat_send_message`'s
    /// (migrations/0005); this turns its answer into the outcome.
    pub async fn send_message(&self, new: &NewMessage, deadline: &Deadline) -> Result<Sent, Error> {
        let client = self.client_by(deadline).await?;
        // BEGIN, the timeouts, the call and COMMIT go out together, one
        // round trip, so no stall of this process comes between the call
        // and its COMMIT: the statement timeout decides, up to COMMIT.
        let send = client
            .prepare_cached("SELECT * FROM chat_send_message($1, $2, $3, $4)")
            .await?;
        let key = new.client_msg_id.as_ref().map(ClientMsgId::as_str);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [
            &new.room_id.get(),
            &new.sender_id.get(),
            &new.text.as_str(),
            &key,
        ];
        let begin = format!("BEGIN; {}", local_timeouts(deadline)?);
        let (begun, answer, committed) = tokio::join!(
            client.batch_execute(&begin),
            client.query(&send, &params),
            client.batch_execute("COMMIT"),
        );
        begun?;
        let answer = answer?;
        committed?;
        sent(&answer)
    }

    /// Replaces the text of the caller's own message.
    pub async fn edit_message(
        &self,
        id: MessageId,
        caller: UserId,
        text: &MessageText,
        deadline: &Deadline,
    ) -> Result<(Message, Vec<RoomEvent>), Error> {
        let mut client = self.client_by(deadline).await?;
        let tx = transaction_by(&mut client, deadline).await?;
        let room = lock_own_message(&tx, id, caller).await?;
        let update = tx
            .prepare_cached(&format!(
                "WITH m AS (
                     UPDATE messages SET text = $2, updated_at = now() WHERE id = $1 RETURNING *
                 )
                 SELECT {} FROM m JOIN users u ON u.id = m.sender_id",
                rows::MESSAGE_COLUMNS
            ))
            .await?;
        let message = rows::message(&tx.query_one(&update, &[&id.get(), &text.as_str()]).await?)?;
        let edited = EventKind::Edited {
            message_id: id,
            text: message.text.clone(),
            updated_at: message.updated_at,
        };
        let events = events::append(&tx, &room, vec![edited]).await?;
        deadline.check()?;
        tx.commit().await?;
        Ok((message, events))
    }

    /// Deletes the caller's own message and erases its text from storage.
    pub async fn delete_message(
        &self,
        id: MessageId,
        caller: UserId,
        deadline: &Deadline,
    ) -> Result<Vec<RoomEvent>, Error> {
        let mut client = self.client_by(deadline).await?;
        let tx = transaction_by(&mut client, deadline).await?;
        let room = lock_own_message(&tx, id, caller).await?;
        let update = tx
            .prepare_cached("UPDATE messages SET text = NULL, deleted_at = now() WHERE id = $1")
            .await?;
        tx.execute(&update, &[&id.get()]).await?;
        let events =
            events::append(&tx, &room, vec![EventKind::Deleted { message_id: id }]).await?;
        deadline.check()?;
        tx.commit().await?;
        Ok(events)
    }

    /// Up to `limit` messages of the room that are not deleted, newest first,
    /// with ids below `before` (all when `None`).
    pub async fn list_messages(
        &self,
        room: RoomId,
        caller: UserId,
        before: Option<MessageId>,
        limit: i64,
    ) -> Result<Vec<Message>, Error> {
        self.member_room(room, caller).await?;
        let client = self.client().await?;
        history(&client, room, before, limit).await
    }
}

/// The newest messages of `room` that are not deleted, newest first.
pub(super) async fn history(
    client: &impl deadpool_postgres::GenericClient,
    room: RoomId,
    before: Option<MessageId>,
    limit: i64,
) -> Result<Vec<Message>, Error> {
    let select = client
        .prepare_cached(&format!(
            "SELECT {} FROM messages m JOIN users u ON u.id = m.sender_id
             WHERE m.room_id = $1 AND m.deleted_at IS NULL AND m.id < $2
             ORDER BY m.id DESC LIMIT $3",
            rows::MESSAGE_COLUMNS
        ))
        .await?;
    let before = before.map_or(i64::MAX, MessageId::get);
    client
        .query(&select, &[&room.get(), &before, &limit])
        .await?
        .iter()
        .map(rows::message)
        .collect()
}

/// Locks the room of message `id` and checks the caller may change it
/// ([`access::change_message`]).
async fn lock_own_message(
    tx: &deadpool_postgres::Transaction<'_>,
    id: MessageId,
    caller: UserId,
) -> Result<Room, Error> {
    // A message never moves between rooms, so its room may be read unlocked.
    let room_of = tx
        .prepare_cached("SELECT room_id FROM messages WHERE id = $1")
        .await?;
    let Some(row) = tx.query_opt(&room_of, &[&id.get()]).await? else {
        return Err(Refusal::NoMessage.into());
    };
    let room = rooms::lock_room(tx, rows::id(row.try_get("room_id")?, RoomId::parse)?).await?;
    // Read again under the lock: a concurrent delete has committed by now.
    let state = tx
        .prepare_cached(
            "SELECT sender_id, deleted_at IS NOT NULL AS deleted FROM messages WHERE id = $1",
        )
        .await?;
    let message = match tx.query_opt(&state, &[&id.get()]).await? {
        Some(row) => Some(Authored {
            sender: rows::id(row.try_get("sender_id")?, UserId::parse)?,
            deleted: row.try_get("deleted")?,
        }),
        None => None,
    };
    access::change_message(caller, room.as_ref(), message)?;
    room.ok_or_else(|| Refusal::NoMessage.into())
}

/// What `chat_send_message` decided, as its `outcome` column names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sent,
    Duplicate,
    NoRoom,
    NotMember,
}

impl Outcome {
    /// Every outcome of migrations/0005; any other is an internal error.
    fn parse(raw: &str) -> Result<Self, Error> {
        match raw {
            "sent" => Ok(Self::Sent),
            "duplicate" => Ok(Self::Duplicate),
            "no_room" => Ok(Self::NoRoom),
            "not_member" => Ok(Self::NotMember),
            other => Err(Error::Internal(
                format!("unknown outcome {other:?} of chat_send_message").into(),
            )),
        }
    }
}

/// The answer of `chat_send_message` (migrations/0005 lists its rows).
fn sent(answer: &[Row]) -> Result<Sent, Error> {
    let Some(first) = answer.first() else {
        return Err(Error::Internal("chat_send_message answered no row".into()));
    };
    match Outcome::parse(first.try_get("outcome")?)? {
        Outcome::Sent => {
            let events = answer
                .iter()
                .map(rows::event)
                .collect::<Result<Vec<_>, _>>()?;
            let seq = events
                .iter()
                .find(|event| matches!(event.kind, EventKind::Created(_)))
                .map(|event| event.seq)
                .ok_or_else(|| Error::Internal("a send without message_created".into()))?;
            Ok(Sent {
                message: rows::message(first)?,
                seq,
                events,
                duplicate: false,
            })
        }
        Outcome::Duplicate => Ok(Sent {
            message: rows::message(first)?,
            seq: first.try_get("seq")?,
            events: Vec::new(),
            duplicate: true,
        }),
        Outcome::NoRoom => Err(Refusal::NoRoom.into()),
        Outcome::NotMember => Err(Refusal::NotMember.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_of_the_send_function_is_known() {
        assert_eq!(Outcome::parse("sent").ok(), Some(Outcome::Sent));
        assert_eq!(Outcome::parse("duplicate").ok(), Some(Outcome::Duplicate));
        assert_eq!(Outcome::parse("no_room").ok(), Some(Outcome::NoRoom));
        assert_eq!(Outcome::parse("not_member").ok(), Some(Outcome::NotMember));
    }

    #[test]
    fn an_unknown_outcome_is_an_internal_error_not_a_refusal() {
        let status = tonic::Status::from(Outcome::parse("rate_limited").unwrap_err());
        assert_eq!(status.code(), tonic::Code::Internal);
    }
}
