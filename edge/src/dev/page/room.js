// The open conversation, over its room socket `/ws/chat/<id>/`: the history
// (newest first on the wire, shown oldest at the top), then the room's
// events, the peer's presence and typing. Own messages carry ticks (✓ stored,
// ✓✓ delivered, blue ✓✓ read) and edit/delete buttons; the composer sends
// `typing` while one types, at most once every 2 s. Older messages come
// from "Load older messages" (older.js). Opening a room with unread
// messages, and a peer's message arriving while the page has the user's
// attention, also post an explicit read mark (reads.js).
import { OlderMessages } from "./older.js";
import { attended, ReadMarks } from "./reads.js";
import { clock, clone, showPresence, text, Timer } from "./view.js";

const RANK = { send: 0, delivered: 1, read: 2 };
const TICKS = { send: "✓", delivered: "✓✓", read: "✓✓" };
const TYPING_SHOWN_MS = 5000;
const TYPING_EVERY_MS = 2000;
const MAX_BACKOFF_MS = 5000;
/** Closes after which reconnecting cannot help. */
const FINAL_CLOSES = [4401, 4403, 4404];

function newId() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
}

export class Conversation {
  constructor(root, session, room, inbox) {
    this.pane = clone("room-pane");
    root.replaceChildren(this.pane);
    this.pane.dataset.room = room.room_id;
    Object.assign(this, { session, inbox, roomId: room.room_id, peer: { ...room.peer } });
    Object.assign(this, { lastSeq: null, backoff: 250, lastTyping: 0, stopped: false });
    this.unreadAtOpen = room.unread_count > 0;
    this.list = this.pane.querySelector(".messages");
    this.state = this.pane.querySelector(".state");
    this.error = this.pane.querySelector(".error");
    this.input = this.pane.querySelector(".composer input");
    text(this.pane, ".peer", this.peer.email);
    showPresence(this.pane, this.peer);
    this.typingShown = new Timer(TYPING_SHOWN_MS, () => this.showTyping(false));
    this.reads = new ReadMarks(session, this.roomId, (error) => this.fail(error));
    this.older = new OlderMessages(session, this.roomId, {
      oldestId: () => Number(this.list.querySelector(".msg")?.dataset.id || 0),
      onPage: (page) => this.prepend(page),
      onError: (error) => this.fail(error),
    });
    this.pane.querySelector(".composer").addEventListener("submit", (event) => this.submit(event));
    this.input.addEventListener("input", () => this.composing());
    this.connect();
    this.input.focus();
  }

  connect() {
    if (this.stopped) return;
    const query = this.lastSeq === null ? {} : { last_seq: this.lastSeq };
    this.socket = this.session.socket(`/ws/chat/${this.roomId}/`, query);
    this.socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    this.socket.onclose = (event) => this.disconnected(event.code);
  }

  disconnected(code) {
    this.pane.dataset.connected = "false";
    if (this.stopped) return;
    if (FINAL_CLOSES.includes(code)) return (this.state.textContent = `closed (${code})`);
    this.state.textContent = `disconnected (${code}), reconnecting…`;
    setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }

  /** Leaves the conversation: the socket closes and stays closed. */
  close() {
    this.stopped = true;
    this.typingShown.stop();
    this.socket.close(1000);
  }

  receive(frame) {
    if (Array.isArray(frame)) return this.reset(frame);
    if (frame.seq) this.lastSeq = frame.seq;
    switch (frame.type) {
      case "resumed": return this.connected();
      case "chat_message": this.arrived(frame.message); break;
      case "mark_message_as_delivered":
      case "mark_message_as_read": this.restatus(frame.message); break;
      case "message_edited": this.edited(frame.message_id, frame.text); break;
      case "message_deleted": this.deleted(frame.message_id); break;
      case "presence": return this.presence(frame);
      case "typing": return this.peerTyping(frame);
      case "error": return this.fail(`${frame.code}: ${frame.detail}`);
      default: return; // ack, and frames this page does not know
    }
    this.inbox.roomEvent();
  }

  connected() {
    this.backoff = 250;
    this.state.textContent = "";
    this.pane.dataset.connected = "true";
  }

  fail(message) {
    this.error.textContent = message;
  }

  reset(history) {
    this.list.replaceChildren(this.older.item);
    history.slice().reverse().forEach((message) => this.upsert(message));
    this.older.reset(history.length);
    if (this.unreadAtOpen && history.length) this.reads.mark(history[0].message_id);
    this.unreadAtOpen = false;
    this.connected();
    this.inbox.roomEvent();
  }

  /** A page of older messages (newest first), shown above the others
   *  without moving what the user sees. */
  prepend(page) {
    const fromBottom = this.list.scrollHeight - this.list.scrollTop;
    page.forEach((message) => this.upsert(message, (li) => this.older.item.after(li)));
    this.list.scrollTop = this.list.scrollHeight - fromBottom;
  }

  presence(frame) {
    if (frame.user_id !== this.peer.id) return;
    Object.assign(this.peer, { is_online: frame.is_online, last_seen: frame.last_seen });
    showPresence(this.pane, this.peer);
    this.inbox.presence(frame);
  }

  peerTyping(frame) {
    if (frame.user_id !== this.peer.id) return;
    this.showTyping(true);
    this.typingShown.restart();
    this.inbox.peerTyping(this.roomId);
  }

  showTyping(shown) {
    this.pane.querySelector(".typing").hidden = !shown;
    if (!shown) this.typingShown.stop();
  }

  arrived(message) {
    if (message.sender_id === this.peer.id) {
      this.showTyping(false);
      this.inbox.typingEnded(this.roomId);
      if (attended()) this.reads.mark(message.message_id);
    }
    this.upsert(message);
  }

  item(id) {
    return this.list.querySelector(`[data-id="${id}"]`);
  }

  /** A receipt: the new status of a message shown (the socket's connect
   *  also reads messages older than its history, which are not). */
  restatus(message) {
    if (this.item(message.message_id)) this.upsert(message);
  }

  /** Shows `message` or its new status; a new one goes where `place` puts it
   *  (at the bottom unless told otherwise). */
  upsert(message, place = (li) => this.append(li)) {
    let li = this.item(message.message_id);
    if (!li) {
      li = this.render(message);
      place(li);
    }
    const current = li.dataset.status;
    if (!current || RANK[message.status] > RANK[current]) {
      li.dataset.status = message.status;
      text(li, ".tick", TICKS[message.status]);
    }
  }

  render(message) {
    const li = clone("message");
    const mine = message.sender_id === this.session.id;
    li.classList.toggle("mine", mine);
    li.dataset.id = message.message_id;
    text(li, ".text", message.text);
    if (message.created_at !== message.updated_at) text(li, ".edited", "edited");
    const time = li.querySelector("time");
    time.dateTime = message.created_at;
    time.title = new Date(message.created_at).toLocaleString();
    time.textContent = clock(message.created_at);
    li.querySelector(".tick").hidden = !mine;
    if (mine) {
      this.button(li, "edit", () => this.edit(message.message_id));
      this.button(li, "delete", () => this.session.delete(`/messages/${message.message_id}/delete`));
    }
    return li;
  }

  append(li) {
    this.list.append(li);
    this.list.scrollTop = this.list.scrollHeight;
  }

  button(li, label, action) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.className = label;
    button.addEventListener("click", () => action().catch((err) => this.fail(err.message)));
    li.querySelector(".meta").append(button);
  }

  async edit(id) {
    const newText = prompt("New text", this.item(id).querySelector(".text").textContent);
    if (newText && newText.trim()) await this.session.put(`/messages/${id}/edit`, { text: newText });
  }

  edited(id, newText) {
    const li = this.item(id);
    if (!li) return;
    text(li, ".text", newText);
    text(li, ".edited", "edited");
  }

  deleted(id) {
    const li = this.item(id);
    if (!li) return;
    li.classList.add("deleted");
    text(li, ".text", "message deleted");
    li.querySelectorAll("button, .edited").forEach((node) => node.remove());
  }

  /** Sends `typing` while composing, at most one every 2 s. */
  composing() {
    const now = Date.now();
    if (!this.input.value.trim() || now - this.lastTyping < TYPING_EVERY_MS) return;
    if (this.socket.readyState !== WebSocket.OPEN) return;
    this.lastTyping = now;
    this.socket.send(JSON.stringify({ type: "typing" }));
  }

  submit(event) {
    event.preventDefault();
    const message = this.input.value.trim();
    if (!message || this.socket.readyState !== WebSocket.OPEN) return;
    this.socket.send(JSON.stringify({ message, client_msg_id: newId() }));
    this.input.value = "";
    this.fail("");
  }
}
