//! Messages: send, edit, delete and history, each with its room events.

use super::{Store, events, local_timeouts, rooms, rows, transaction_by};
use crate::{
    deadline::Deadline,
    domain::{
        ClientMsgId, EventKind, Message, MessageId, MessageStatus, MessageText, Room, RoomEvent,
        RoomId, UserId,
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
    /// Stores a message and appends created, delivered and (when the
    /// recipient is subscribed to the room right now) read events, all in
    /// one transaction under the room lock, committed before `deadline` or
    /// not at all.
    pub async fn send_message(&self, new: &NewMessage, deadline: &Deadline) -> Result<Sent, Error> {
        let client = self.client_by(deadline).await?;
        // The function (migrations/0003) runs the lock, the insert and the
        // append; BEGIN, the timeouts, the call and COMMIT go out together,
        // one round trip, so no stall of this process comes between the
        // call and its COMMIT: the statement timeout decides, up to COMMIT.
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
        let (begun, row, committed) = tokio::join!(
            client.batch_execute(&begin),
            client.query_one(&send, &params),
            client.batch_execute("COMMIT"),
        );
        begun?;
        let row = row?;
        committed?;
        match row.get::<_, &str>(0) {
            "sent" => sent(&row),
            "duplicate" => self.original_send(&client, new).await,
            "not_member" => Err(Error::PermissionDenied("not a member of this room")),
            _ => Err(Error::NotFound("room not found")),
        }
    }

    /// The earlier send that used the same idempotency key.
    async fn original_send(
        &self,
        client: &deadpool_postgres::Object,
        new: &NewMessage,
    ) -> Result<Sent, Error> {
        let key = new.client_msg_id.as_ref().map(ClientMsgId::as_str);
        let select = client
            .prepare_cached(&format!(
                "SELECT {}, m.seq FROM messages m JOIN users u ON u.id = m.sender_id
                 WHERE m.room_id = $1 AND m.sender_id = $2 AND m.client_msg_id = $3",
                rows::MESSAGE_COLUMNS
            ))
            .await?;
        let row = client
            .query_one(&select, &[&new.room_id.get(), &new.sender_id.get(), &key])
            .await?;
        Ok(Sent {
            message: rows::message(&row)?,
            seq: row.get(9),
            events: Vec::new(),
            duplicate: true,
        })
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

/// Locks the room of message `id` and checks the caller may change it:
/// NOT_FOUND when it does not exist, is deleted, or lies in a room the
/// caller is not in; PERMISSION_DENIED when another member sent it.
async fn lock_own_message(
    tx: &deadpool_postgres::Transaction<'_>,
    id: MessageId,
    caller: UserId,
) -> Result<Room, Error> {
    let not_found = Error::NotFound("message not found");
    // A message never moves between rooms, so its room may be read unlocked.
    let room_of = tx
        .prepare_cached("SELECT room_id FROM messages WHERE id = $1")
        .await?;
    let Some(row) = tx.query_opt(&room_of, &[&id.get()]).await? else {
        return Err(not_found);
    };
    let room = rooms::lock_room(tx, rows::id(row.get(0), RoomId::parse)?).await?;
    let Some(room) = room.filter(|room| room.has_member(caller)) else {
        return Err(not_found);
    };
    // Read again under the lock: a concurrent delete has committed by now.
    let state = tx
        .prepare_cached("SELECT sender_id, deleted_at IS NOT NULL FROM messages WHERE id = $1")
        .await?;
    let row = tx.query_one(&state, &[&id.get()]).await?;
    if row.get::<_, bool>(1) {
        return Err(not_found);
    }
    if row.get::<_, i64>(0) != caller.get() {
        return Err(Error::PermissionDenied(
            "only the sender may change this message",
        ));
    }
    Ok(room)
}

/// A `'sent'` row of `chat_send_message`: the room's `last_seq` before the
/// send, the time of its events, then the message's columns.
fn sent(row: &tokio_postgres::Row) -> Result<Sent, Error> {
    let last_seq: i64 = row.get(1);
    let occurred_at: time::OffsetDateTime = row.get(2);
    let message = rows::message_at(row, 3)?;
    let mut kinds = vec![
        EventKind::Created(message.with_status(MessageStatus::Send)),
        EventKind::Delivered(message.with_status(MessageStatus::Delivered)),
    ];
    if message.status == MessageStatus::Read {
        kinds.push(EventKind::Read(message.clone()));
    }
    let events = kinds
        .into_iter()
        .zip(last_seq + 1..)
        .map(|(kind, seq)| RoomEvent {
            room_id: message.room_id,
            seq,
            occurred_at,
            kind,
        })
        .collect();
    Ok(Sent {
        seq: last_seq + 1,
        message,
        events,
        duplicate: false,
    })
}
