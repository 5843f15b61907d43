//! The hub's task: one loop that takes the sessions' commands and the
//! link's items in turn, so the bookkeeping (`state.rs`) needs no lock, and
//! that keeps a link open — connecting, linked, or waiting out a backoff
//! before the next core.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use super::outbox::Outbox;
use super::state::State;
use super::{Command, LinkCounters};
use crate::core_client::{LinkClient, LinkDown, LinkSender, LinkStream, LinkUp, Queued, StreamEnd};
use crate::error::Error;
use crate::ws::close::CloseReason;

/// The longest wait between two rounds of attempts over every core.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// The wait after the first round that failed; it doubles each round.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// How long a socket's close is repeated on later links: a core that died
/// may never have read it, and the next core ends the session only when told.
const RECENT_CLOSES: Duration = Duration::from_secs(15);

type Connecting = Pin<Box<dyn Future<Output = Result<LinkStream, Error>> + Send>>;

/// Where the link stands.
enum Link {
    /// Opening a link to a core.
    Connecting(Connecting),
    /// Linked: the core's items come on the stream.
    Up(Box<LinkStream>),
    /// Waiting before the next attempt.
    Backoff(Pin<Box<Sleep>>),
}

/// What happened to the link.
enum Step {
    Linked(LinkStream),
    Failed(Error),
    Down(LinkDown),
    Broke(StreamEnd),
    Retry,
}

/// The next thing that happens to the link; safe to cancel.
async fn step(link: &mut Link) -> Step {
    match link {
        Link::Connecting(opening) => match opening.await {
            Ok(stream) => Step::Linked(stream),
            Err(error) => Step::Failed(error),
        },
        Link::Up(stream) => match stream.next().await {
            Ok(down) => Step::Down(down),
            Err(end) => Step::Broke(end),
        },
        Link::Backoff(sleep) => {
            sleep.as_mut().await;
            Step::Retry
        }
    }
}

/// The hub's task and everything it owns.
pub(super) struct LinkTask {
    client: LinkClient,
    commands: mpsc::UnboundedReceiver<Command>,
    state: State,
    /// The queue of the current link (or of the one being opened).
    up: Option<LinkSender>,
    /// What waits for room on that queue.
    outbox: Outbox,
    /// The core linked to, or tried next.
    core: usize,
    /// Attempts that failed since the last link.
    failures: usize,
    /// Since when no link has been up; `None` while linked.
    down_since: Option<Instant>,
    /// How long the edge may be without a core before its sockets close.
    outage: Duration,
    /// `false` once a whole round of cores failed, until a link opens.
    reachable: bool,
    counters: LinkCounters,
    /// Sockets closed lately, or while no link was up, and when.
    closes: VecDeque<(Instant, u64)>,
}

impl LinkTask {
    pub fn new(
        client: LinkClient,
        commands: mpsc::UnboundedReceiver<Command>,
        outage: Duration,
        counters: LinkCounters,
    ) -> Self {
        Self {
            client,
            commands,
            state: State::default(),
            up: None,
            outbox: Outbox::default(),
            core: 0,
            failures: 0,
            down_since: Some(Instant::now()),
            outage,
            reachable: true,
            counters,
            closes: VecDeque::new(),
        }
    }

    /// Runs until every hub handle and ticket is gone.
    pub async fn run(mut self) {
        let mut link = self.connect();
        loop {
            let ready = self.ready();
            let relink = tokio::select! {
                ready = ready => {
                    if !ready {
                        // The link is gone: its stream says so next.
                        self.up = None;
                    }
                    self.flush();
                    false
                }
                command = self.commands.recv() => match command {
                    Some(command) => {
                        self.command(command);
                        false
                    }
                    None => return,
                },
                step = step(&mut link) => match self.on_step(step) {
                    Ok(next) => {
                        if let Some(next) = next {
                            link = next;
                        }
                        false
                    }
                    Err(()) => true,
                },
            };
            if relink {
                link = self.retry();
            }
        }
    }

    /// Opens a link to the current core, its hello naming what the edge holds.
    fn connect(&mut self) -> Link {
        let (hello, opening) = self.state.hello();
        tracing::info!(
            core = self.client.url(self.core),
            sockets = hello.sockets.len(),
            rooms = hello.rooms.len(),
            "linking"
        );
        self.counters.opened.inc();
        let (up, opened) = self.client.open(self.core, hello);
        let closes = self
            .closes
            .iter()
            .map(|(_, socket_id)| *socket_id)
            .collect();
        let opens = opening.iter().map(|socket| socket.socket_id);
        self.outbox = Outbox::new(closes, opens);
        self.up = Some(up);
        self.flush();
        Link::Connecting(Box::pin(opened))
    }

    /// Resolves when the link's queue has room again while the outbox
    /// waits for it (`false`: the link is gone); never otherwise.
    fn ready(&self) -> impl Future<Output = bool> + Send + 'static {
        let ready = match &self.up {
            Some(up) if self.outbox.waiting() => Some(up.ready()),
            _ => None,
        };
        async move {
            match ready {
                Some(ready) => ready.await,
                None => std::future::pending().await,
            }
        }
    }

    /// Sends up what the outbox holds, as far as the link's queue takes it.
    fn flush(&mut self) {
        let Some(up) = &self.up else {
            return;
        };
        let state = &self.state;
        if self.outbox.flush(up, |socket_id| state.opening(socket_id)) == Queued::Full {
            tracing::debug!(
                closes = self.outbox.closes(),
                "the link's queue is full; holding"
            );
        }
    }

    /// Linking failed: the next core, at once until every core failed in a
    /// row, then after a backoff that grows with each round.
    fn retry(&mut self) -> Link {
        self.up = None;
        self.failures += 1;
        self.core = (self.core + 1) % self.client.cores();
        let down_since = *self.down_since.get_or_insert_with(Instant::now);
        let rounds = self.failures / self.client.cores();
        if rounds > 0 && self.failures.is_multiple_of(self.client.cores()) {
            self.reachable = false;
            self.state.refuse_openings(unreachable);
        }
        if down_since.elapsed() >= self.outage && self.state.len() > 0 {
            tracing::warn!(outage = ?self.outage, "no core for too long, closing every socket");
            self.state.close_all(CloseReason::CORE_UNAVAILABLE);
        }
        if rounds == 0 {
            return self.connect();
        }
        let exponent = u32::try_from(rounds - 1).unwrap_or(u32::MAX).min(10);
        let backoff = FIRST_BACKOFF.saturating_mul(1 << exponent).min(MAX_BACKOFF);
        Link::Backoff(Box::pin(tokio::time::sleep(backoff)))
    }

    /// What a link step leads to: the next state of the link, or `Err` to re-link.
    fn on_step(&mut self, step: Step) -> Result<Option<Link>, ()> {
        match step {
            Step::Linked(stream) => {
                tracing::info!(core = self.client.url(self.core), "linked");
                self.failures = 0;
                self.down_since = None;
                self.reachable = true;
                self.forget_old_closes();
                Ok(Some(Link::Up(Box::new(stream))))
            }
            Step::Failed(error) => {
                let core = self.client.url(self.core);
                tracing::warn!(core, code = ?error.code(), "linking failed");
                Err(())
            }
            Step::Broke(end) => {
                let core = self.client.url(self.core);
                tracing::warn!(core, ?end, "link broke");
                self.failures = 0;
                self.down_since = Some(Instant::now());
                self.core = (self.core + 1) % self.client.cores();
                Ok(Some(self.connect()))
            }
            Step::Retry => Ok(Some(self.connect())),
            Step::Down(down) => {
                self.down(down);
                Ok(None)
            }
        }
    }

    /// One item from the core.
    fn down(&mut self, down: LinkDown) {
        let closed = match down {
            LinkDown::Opened {
                socket_id,
                snapshot,
                missed,
                peer,
            } => {
                let opened = super::Opened {
                    snapshot,
                    missed,
                    peer,
                };
                if self.state.opened(socket_id, opened) {
                    Vec::new()
                } else {
                    vec![socket_id]
                }
            }
            LinkDown::Refused { socket_id, error } => {
                self.state.refused(socket_id, error);
                Vec::new()
            }
            LinkDown::Event { room_id, event } => {
                self.counters.events.inc();
                self.state.event(room_id, event)
            }
            LinkDown::Presence { room_id, presence } => self.state.presence(room_id, presence),
            LinkDown::Typing { room_id, user_id } => self.state.typing(room_id, user_id),
        };
        let now = Instant::now();
        for socket_id in closed {
            self.closes.push_back((now, socket_id));
            self.outbox.close(socket_id);
        }
        self.flush();
    }

    /// One session's command.
    fn command(&mut self, command: Command) {
        match command {
            Command::Open {
                socket,
                feed,
                reply,
            } => {
                if !self.reachable {
                    let _ = reply.send(Err(unreachable()));
                    return;
                }
                self.outbox.open(socket.socket_id);
                self.state.open(socket, feed, reply);
                self.flush();
            }
            Command::Refresh { socket_id, token } => self.state.refresh(socket_id, token),
            Command::Typing { socket_id, room_id } => {
                // Dropped when the queue is full, as the throttle might.
                if let Some(up) = &self.up {
                    up.send(LinkUp::Typing { socket_id, room_id });
                }
            }
            Command::Close { socket_id } => {
                if !self.state.close(socket_id) {
                    return;
                }
                self.forget_old_closes();
                self.closes.push_back((Instant::now(), socket_id));
                self.outbox.close(socket_id);
                self.flush();
            }
        }
    }

    /// Drops the closes older than [`RECENT_CLOSES`], unless no link is up
    /// (the next one must hear of every close since the last).
    fn forget_old_closes(&mut self) {
        if self.down_since.is_some() {
            return;
        }
        while let Some((at, _)) = self.closes.front() {
            if at.elapsed() < RECENT_CLOSES {
                break;
            }
            self.closes.pop_front();
        }
    }
}

/// The refusal of a socket while no core answers (1011).
fn unreachable() -> Error {
    Error::Core(tonic::Status::unavailable("no core is reachable"))
}
