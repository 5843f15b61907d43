//! Live delivery of room events to subscribers.
//!
//! The event log in PostgreSQL is the truth; the [`Hub`] only carries
//! committed events quickly to the subscribers of this process. Each
//! subscriber's [`RoomFeed`] delivers events strictly in sequence: anything
//! the hub could not carry (a publish that arrived out of order, a receiver
//! that lagged behind) is read back from the log, so nothing is skipped and
//! nothing is delivered twice.

mod feed;
mod hub;
mod subscription;

pub use feed::RoomFeed;
pub use hub::{Hub, HubReceiver};
pub use subscription::{Item, Subscriptions};
