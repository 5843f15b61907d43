// The conversation list, kept live by the user socket `/ws/user/`: its
// first frame is the inbox, then come every room's events (each with the
// room's `unread_count`), new rooms, the peers' presence and typing. While
// the user socket closes before its first frame (the server has none, or
// cannot serve it), the list falls back to `GET /chatrooms/`, refreshed on
// the open room's events and every few seconds. Later pages come from
// "Load more" (more.js); each row with unread messages offers "mark all read".
import { MoreRooms } from "./more.js";
import { roomRow } from "./row.js";
import { Timer } from "./view.js";

const TYPING_SHOWN_MS = 5000;
const POLL_MS = 4000;
const MAX_BACKOFF_MS = 5000;

/** When a conversation was last active: its newest message, else its creation. */
function activity(room) {
  return (room.last_message ? room.last_message.created_at : room.created_at) || "";
}

function byActivity(a, b) {
  return activity(b).localeCompare(activity(a)) || b.room_id - a.room_id;
}

export class Inbox {
  /** `onOpen(room)` is called when a row is clicked. */
  constructor(root, session, onOpen) {
    Object.assign(this, { session, onOpen, cursor: null, openId: null, backoff: 250 });
    this.list = root.querySelector("#rooms");
    this.state = root.querySelector("#list-state");
    this.rooms = new Map(); // room_id → conversation, as GET /chatrooms/ shows it
    this.typing = new Map(); // room_id → Timer of the peer's "typing…"
    this.fallback = null; // the poll's interval while there is no user socket
    this.stopped = false;
    this.actions = { open: onOpen, markRead: (roomId) => this.markRead(roomId) };
    this.more = new MoreRooms(session, (rooms) => this.add(rooms), (error) => this.say(error));
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    const query = this.cursor ? { cursor: this.cursor } : {};
    const socket = this.session.socket("/ws/user/", query);
    let answered = false; // it sent its first frame: the server has a user socket
    socket.onmessage = (event) => {
      answered = true;
      this.receive(JSON.parse(event.data));
    };
    socket.onclose = (event) => this.disconnected(event.code, answered);
    this.socket = socket;
  }

  disconnected(code, answered) {
    this.list.dataset.live = "false";
    if (this.stopped) return;
    if (code === 4401) return this.say(`signed out: the token was refused (${code})`);
    if (!answered) this.startFallback();
    this.say(this.fallback ? "no user socket: polling the list" : `reconnecting (${code})…`);
    setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }

  stop() {
    this.stopped = true;
    this.stopFallback();
    this.socket.close(1000);
  }

  receive(frame) {
    if (frame.cursor) this.cursor = frame.cursor;
    switch (frame.type) {
      case "inbox": this.stopFallback(); this.more.reset(frame.next); this.replace(frame.rooms); return this.connected();
      case "resumed": return this.connected();
      case "room_created": this.rooms.set(frame.room.room_id, frame.room); return this.render();
      case "chat_message":
      case "mark_message_as_delivered":
      case "mark_message_as_read": return this.message(frame);
      case "message_edited": return this.edited(frame);
      case "message_deleted": return this.deleted(frame);
      case "presence": return this.presence(frame);
      case "typing": return this.peerTyping(frame.room_id);
      case "error": return this.say(`${frame.code}: ${frame.detail}`);
      default: return; // ack, and frames this page does not know
    }
  }

  connected() {
    this.backoff = 250;
    this.list.dataset.live = "true";
    this.say("");
  }

  say(status) {
    this.state.textContent = status;
  }

  /** The conversation of `roomId`, if the list holds it. */
  get(roomId) {
    return this.rooms.get(roomId);
  }

  /** Marks `roomId` as the open conversation. */
  opened(roomId) {
    this.openId = roomId;
    this.render();
  }

  /** Re-reads the first page: in fallback mode it is the truth for its
   *  rooms, else it only adds the rooms the list lacks. */
  async refresh() {
    try {
      const page = await this.session.rooms();
      if (!this.fallback) return this.add(page.rooms);
      this.more.first(page.next);
      page.rooms.forEach((room) => this.rooms.set(room.room_id, room));
      this.render();
    } catch (err) {
      this.say(err.message);
    }
  }

  /** Adds the rooms the list lacks: what the socket told of a room is never
   *  replaced by an older page. */
  add(rooms) {
    rooms.filter((room) => !this.rooms.has(room.room_id))
      .forEach((room) => this.rooms.set(room.room_id, room));
    this.render();
  }

  /** "Mark all read" on a row: the read goes to the server, and the badge
   *  clears from the `mark_message_as_read` events it causes. */
  async markRead(roomId) {
    try {
      await this.session.markRead(roomId);
      if (this.fallback) await this.refresh();
    } catch (err) {
      this.say(err.message);
    }
  }

  /** An event of the open room's socket: in fallback mode, re-read the list soon. */
  roomEvent() {
    if (!this.fallback || this.pending) return;
    this.pending = setTimeout(() => { this.pending = null; this.refresh(); }, 150);
  }

  startFallback() {
    if (this.fallback) return;
    this.fallback = setInterval(() => this.refresh(), POLL_MS);
    this.refresh();
  }

  stopFallback() {
    clearInterval(this.fallback);
    this.fallback = null;
  }

  replace(rooms) {
    this.rooms = new Map(rooms.map((room) => [room.room_id, room]));
    this.render();
  }

  message({ type, room_id, message, unread_count }) {
    const room = this.rooms.get(room_id);
    // A room not loaded yet: a new message brings it to the first page.
    if (!room) return type === "chat_message" ? this.refresh() : undefined;
    if (unread_count !== undefined) room.unread_count = unread_count;
    if (type === "chat_message") {
      room.last_message = message;
      if (message.sender_id === room.peer.id) this.typingTimer(room_id).stop();
    } else if (room.last_message?.message_id === message.message_id) {
      room.last_message.status = message.status;
    }
    this.render();
  }

  edited({ room_id, message_id, text: newText }) {
    const last = this.rooms.get(room_id)?.last_message;
    if (last?.message_id === message_id) last.text = newText;
    this.render();
  }

  async deleted({ room_id, message_id, unread_count }) {
    const room = this.rooms.get(room_id);
    if (!room) return;
    if (unread_count !== undefined) room.unread_count = unread_count;
    if (room.last_message?.message_id === message_id) {
      // The list shows the newest message left: only the server knows it.
      room.last_message = await this.session.lastMessage(room_id).catch(() => null);
    }
    this.render();
  }

  /** A peer went online or offline: every row with that peer shows it. */
  presence({ user_id, is_online, last_seen }) {
    for (const room of this.rooms.values()) {
      if (room.peer.id === user_id) Object.assign(room.peer, { is_online, last_seen });
    }
    this.render();
  }

  typingTimer(roomId) {
    if (!this.typing.has(roomId)) {
      this.typing.set(roomId, new Timer(TYPING_SHOWN_MS, () => this.render()));
    }
    return this.typing.get(roomId);
  }

  /** The peer of `roomId` is typing: the row says so for 5 s. */
  peerTyping(roomId) {
    this.typingTimer(roomId).restart();
    this.render();
  }

  /** The peer of `roomId` sent a message: they no longer type. */
  typingEnded(roomId) {
    this.typingTimer(roomId).stop();
    this.render();
  }

  render() {
    if (this.stopped) return; // signed out: a late timer or answer changes nothing
    const rooms = [...this.rooms.values()].sort(byActivity);
    this.list.replaceChildren(...rooms.map((room) => this.row(room)), ...this.more.items());
  }

  row(room) {
    const view = {
      me: this.session.id,
      open: room.room_id === this.openId,
      typing: Boolean(this.typing.get(room.room_id)?.running()),
    };
    return roomRow(room, view, this.actions);
  }
}
