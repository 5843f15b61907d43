//! An `EdgeLink` stream as a test edge holds it: items go up through a
//! channel, answers and events are read with a deadline.

use std::time::Duration;

use chat_proto::v1::{self as pb, edge_link_client::EdgeLinkClient};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Status, Streaming};

use super::{Client, TestCore, service_token, within};

/// The scope of the service token a test edge links with.
pub const EDGE_TOKEN_SCOPE: &str = "chat:edge";

/// One link of a test edge to a core.
pub struct Link {
    up: mpsc::Sender<pb::LinkUp>,
    pub down: Streaming<pb::LinkDown>,
}

impl Link {
    /// A link of the edge `edge_id` to `core`, holding nothing yet.
    pub async fn connect(core: &TestCore, edge_id: &str) -> Link {
        Self::connect_with(core, hello(edge_id))
            .await
            .expect("link")
    }

    /// A link that starts with `hello`, opened with an edge's service token.
    pub async fn connect_with(core: &TestCore, hello: pb::LinkHello) -> Result<Link, Status> {
        let authorization = format!("Bearer {}", service_token(EDGE_TOKEN_SCOPE));
        Self::connect_as(core, Some(&authorization), hello).await
    }

    /// A link that starts with `hello`, opened with `authorization` (none: no header).
    pub async fn connect_as(
        core: &TestCore,
        authorization: Option<&str>,
        hello: pb::LinkHello,
    ) -> Result<Link, Status> {
        let first = pb::link_up::Item::Hello(hello);
        Self::connect_items(core, authorization, vec![first]).await
    }

    /// A link whose first items are `hello` then `parts` (the rest of the
    /// hello, or whatever a test sends there), with an edge's service token.
    pub async fn connect_in_parts(
        core: &TestCore,
        hello: pb::LinkHello,
        parts: Vec<pb::link_up::Item>,
    ) -> Result<Link, Status> {
        let authorization = format!("Bearer {}", service_token(EDGE_TOKEN_SCOPE));
        let items = std::iter::once(pb::link_up::Item::Hello(hello)).chain(parts);
        Self::connect_items(core, Some(&authorization), items.collect()).await
    }

    async fn connect_items(
        core: &TestCore,
        authorization: Option<&str>,
        first: Vec<pb::link_up::Item>,
    ) -> Result<Link, Status> {
        let (up, items) = mpsc::channel(64);
        for item in first {
            let up_item = pb::LinkUp { item: Some(item) };
            up.send(up_item).await.expect("the hello is queued");
        }
        let mut request = Request::new(ReceiverStream::new(items));
        if let Some(authorization) = authorization {
            let value = authorization.parse().expect("an ASCII header value");
            request.metadata_mut().insert("authorization", value);
        }
        let mut client = EdgeLinkClient::new(core.channel.clone());
        let down = within(client.link(request)).await?.into_inner();
        Ok(Link { up, down })
    }

    pub async fn send(&self, item: pb::link_up::Item) {
        let up = pb::LinkUp { item: Some(item) };
        self.up.send(up).await.expect("the link is up");
    }

    pub async fn open(&self, open: pb::OpenSocket) {
        self.send(pb::link_up::Item::Open(open)).await;
    }

    pub async fn close(&self, socket_id: u64) {
        let close = pb::CloseSocket { socket_id };
        self.send(pb::link_up::Item::Close(close)).await;
    }

    /// Closes many sockets in one item.
    pub async fn close_all(&self, socket_ids: &[u64]) {
        let closes = pb::CloseSockets {
            socket_ids: socket_ids.to_vec(),
        };
        self.send(pb::link_up::Item::Closes(closes)).await;
    }

    pub async fn typing(&self, socket_id: u64, room_id: i64) {
        let typing = pb::TypingUp { socket_id, room_id };
        self.send(pb::link_up::Item::Typing(typing)).await;
    }

    /// The next answer or event, past any presence and typing; fails when
    /// the link ends.
    pub async fn item(&mut self) -> pb::link_down::Item {
        loop {
            let item = self.any_item().await;
            if !is_signal(&item) {
                return item;
            }
        }
    }

    /// The next item of any kind; fails when the link ends.
    pub async fn any_item(&mut self) -> pb::link_down::Item {
        within(self.down.message())
            .await
            .expect("link item")
            .expect("link still open")
            .item
            .expect("item set")
    }

    /// The status the link ends with.
    pub async fn ended(&mut self) -> Result<(), Status> {
        loop {
            match within(self.down.message()).await {
                Ok(Some(_)) => {}
                Ok(None) => return Ok(()),
                Err(status) => return Err(status),
            }
        }
    }

    pub async fn opened(&mut self) -> pb::SocketOpened {
        match self.item().await {
            pb::link_down::Item::Opened(opened) => opened,
            other => panic!("expected an opening, got {other:?}"),
        }
    }

    pub async fn refused(&mut self) -> pb::SocketRefused {
        match self.item().await {
            pb::link_down::Item::Refused(refused) => refused,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    pub async fn event(&mut self) -> pb::RoomEvent {
        match self.item().await {
            pb::link_down::Item::Event(event) => event,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    pub async fn events(&mut self, count: usize) -> Vec<pb::RoomEvent> {
        let mut events = Vec::with_capacity(count);
        for _ in 0..count {
            events.push(self.event().await);
        }
        events
    }

    /// Asserts no answer or event arrives for a short while.
    pub async fn assert_quiet(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        loop {
            let next = tokio::time::timeout_at(deadline, self.down.message()).await;
            match next {
                Err(_elapsed) => return,
                Ok(Ok(Some(pb::LinkDown { item: Some(item) }))) if is_signal(&item) => {}
                other => panic!("expected no more items, got {other:?}"),
            }
        }
    }
}

/// Whether an item is a presence or typing signal rather than an answer or event.
fn is_signal(item: &pb::link_down::Item) -> bool {
    matches!(
        item,
        pb::link_down::Item::Presence(_) | pb::link_down::Item::Typing(_)
    )
}

/// A hello that names nothing held.
pub fn hello(edge_id: &str) -> pb::LinkHello {
    pb::LinkHello {
        edge_id: edge_id.to_owned(),
        sockets: Vec::new(),
        rooms: Vec::new(),
        continued: false,
    }
}

/// `client`'s socket `socket_id` opening on `room_id` with a fresh snapshot.
pub fn socket(client: &Client, socket_id: u64, room_id: i64) -> pb::OpenSocket {
    pb::OpenSocket {
        socket_id,
        room_id,
        authorization: client.authorization.clone().unwrap_or_default(),
        history_limit: None,
        after_seq: None,
    }
}
