//! `chat.v1.ConversationService`: the caller's room list and read marks.

use chat_proto::v1::{self as pb, conversation_service_server::ConversationService};
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use super::{Authenticator, Writer, convert::timestamp, deadline};
use crate::{
    domain::{InvalidInput, MessageId, RoomId},
    error::Error,
    store::{Conversation, ListCursor, Store},
};

/// The most rooms one page holds, and the default.
pub const MAX_PAGE: u32 = 100;
pub const DEFAULT_PAGE: u32 = 50;

pub struct ConversationApi {
    auth: Authenticator,
    store: Store,
    writer: Writer,
}

impl ConversationApi {
    pub fn new(auth: Authenticator, store: Store, writer: Writer) -> Self {
        Self {
            auth,
            store,
            writer,
        }
    }
}

#[tonic::async_trait]
impl ConversationService for ConversationApi {
    #[tracing::instrument(skip_all, fields(user_id))]
    async fn list_conversations(
        &self,
        request: Request<pb::ListConversationsRequest>,
    ) -> Result<Response<pb::ListConversationsResponse>, Status> {
        let caller = self.auth.caller(&request).await?;
        let request = request.into_inner();
        let limit = page_limit(request.limit).map_err(Error::from)?;
        let before = match request.before.as_str() {
            "" => None,
            raw => Some(parse_cursor(raw).map_err(Error::from)?),
        };
        let page = self.store.conversations(caller, before, limit).await?;
        Ok(Response::new(pb::ListConversationsResponse {
            conversations: page.conversations.into_iter().map(Into::into).collect(),
            next: page.next.map(encode_cursor).unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all, fields(user_id, room_id = request.get_ref().room_id))]
    async fn mark_read(
        &self,
        request: Request<pb::MarkReadRequest>,
    ) -> Result<Response<pb::MarkReadResponse>, Status> {
        let deadline = deadline(&request);
        let caller = self.auth.caller(&request).await?;
        let request = request.into_inner();
        let room = RoomId::parse(request.room_id).map_err(Error::from)?;
        let up_to = request
            .up_to_message_id
            .map(MessageId::parse)
            .transpose()
            .map_err(Error::from)?;
        let store = self.store.clone();
        let (last_seq, marked) = self
            .writer
            .commit(&deadline, |deadline| async move {
                let (last_seq, events) =
                    store.mark_room_read(room, caller, up_to, &deadline).await?;
                Ok(((last_seq, events.len()), events))
            })
            .await?;
        Ok(Response::new(pb::MarkReadResponse {
            marked: u32::try_from(marked).unwrap_or(u32::MAX),
            last_seq,
        }))
    }
}

fn page_limit(raw: u32) -> Result<i64, InvalidInput> {
    match raw {
        0 => Ok(i64::from(DEFAULT_PAGE)),
        1..=MAX_PAGE => Ok(i64::from(raw)),
        _ => Err(InvalidInput("limit must be between 1 and 100")),
    }
}

/// `c1.<activity, Unix microseconds>.<room id>`: where the page ended.
pub fn encode_cursor(cursor: ListCursor) -> String {
    let micros = cursor.activity_at.unix_timestamp_nanos() / 1_000;
    format!("c1.{micros}.{}", cursor.room)
}

/// The inverse of [`encode_cursor`]; anything it did not make is refused.
pub fn parse_cursor(raw: &str) -> Result<ListCursor, InvalidInput> {
    const INVALID: InvalidInput = InvalidInput("before is not a cursor of this list");
    let mut parts = raw.split('.');
    if parts.next() != Some("c1") {
        return Err(INVALID);
    }
    let micros = parts.next().and_then(|part| part.parse::<i64>().ok());
    let room = parts.next().and_then(|part| part.parse::<i64>().ok());
    let (Some(micros), Some(room), None) = (micros, room, parts.next()) else {
        return Err(INVALID);
    };
    let activity_at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| INVALID)?;
    let cursor = ListCursor {
        activity_at,
        room: RoomId::parse(room).map_err(|_| INVALID)?,
    };
    // One spelling per cursor: no signs, leading zeros or other variants.
    if encode_cursor(cursor) == raw {
        Ok(cursor)
    } else {
        Err(INVALID)
    }
}

impl From<Conversation> for pb::Conversation {
    fn from(conversation: Conversation) -> Self {
        Self {
            room_id: conversation.room_id.get(),
            peer: Some(conversation.peer.into()),
            last_message: conversation.last_message.map(Into::into),
            unread_count: conversation.unread_count,
            last_seq: conversation.last_seq,
            created_at: Some(timestamp(conversation.created_at)),
            activity_at: Some(timestamp(conversation.activity_at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn cursors_round_trip_to_the_microsecond() {
        let cursor = ListCursor {
            activity_at: datetime!(2025-02-18 18:28:52.258755 UTC),
            room: RoomId::parse(42).unwrap(),
        };
        let raw = encode_cursor(cursor);
        assert_eq!(raw, "c1.1739903332258755.42");
        assert_eq!(parse_cursor(&raw), Ok(cursor));
    }

    #[test]
    fn every_string_of_the_documented_pattern_is_a_cursor() {
        // The edge's OpenAPI pattern: `^c1\.(0|-?[1-9][0-9]{0,16})\.[1-9][0-9]{0,17}$`.
        for raw in [
            "c1.0.1",
            "c1.99999999999999999.999999999999999999",
            "c1.-99999999999999999.1",
        ] {
            assert!(parse_cursor(raw).is_ok(), "{raw}");
        }
    }

    #[test]
    fn strings_that_no_page_answered_are_not_cursors() {
        for raw in [
            "x",
            "c1",
            "c1.5",
            "c1.5.0",
            "c1.5.-3",
            "c1.05.3",
            "c1.+5.3",
            "c1.5.3.1",
            "c2.5.3",
            "c1.99999999999999999999.3",
        ] {
            assert!(parse_cursor(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn a_limit_outside_one_to_a_hundred_is_refused_and_none_is_fifty() {
        assert_eq!(page_limit(0), Ok(50));
        assert_eq!(page_limit(100), Ok(100));
        assert!(page_limit(101).is_err());
    }
}
