// The demo's entry point: sign in by name as a development user (one user
// per tab: the name is kept in sessionStorage), then the conversation list
// (inbox.js) beside the open conversation (room.js).
import { signIn } from "./api.js";
import { Inbox } from "./inbox.js";
import { Conversation } from "./room.js";

const STORED_NAME = "chat-demo-name";

const $ = (id) => document.getElementById(id);

function notice(message) {
  $("notice").textContent = message;
}

class App {
  constructor(session) {
    this.session = session;
    this.conversation = null;
    $("me").querySelector(".name").textContent = session.email;
    $("me").querySelector(".id").textContent = `id ${session.id}`;
    $("me").dataset.id = session.id;
    this.inbox = new Inbox($("sidebar"), session, (room) => this.open(room));
    this.onStart = (event) => this.start(event);
    $("start").addEventListener("submit", this.onStart);
  }

  open(room) {
    if (this.conversation?.roomId === room.room_id) return;
    this.conversation?.close();
    this.inbox.opened(room.room_id);
    this.conversation = new Conversation($("conversation"), this.session, room, this.inbox);
  }

  /** "Start conversation": the direct room with that user id, opened. */
  async start(event) {
    event.preventDefault();
    const input = event.target.elements.user_id;
    try {
      const peerId = Number(input.value);
      const roomId = await this.session.roomWith(peerId);
      if (!this.inbox.get(roomId)) await this.inbox.refresh();
      const room = this.inbox.get(roomId) || {
        room_id: roomId,
        peer: await this.session.get(`/users/${peerId}`),
      };
      input.value = "";
      notice("");
      this.open(room);
    } catch (err) {
      notice(err.message);
    }
  }

  stop() {
    $("start").removeEventListener("submit", this.onStart);
    this.conversation?.close();
    this.inbox.stop();
  }
}

function show(signedIn) {
  $("signin").hidden = signedIn;
  $("me").hidden = !signedIn;
  $("app").hidden = !signedIn;
}

async function enter(name) {
  notice("");
  try {
    window.app = new App(await signIn(name));
    sessionStorage.setItem(STORED_NAME, name);
    show(true);
  } catch (err) {
    notice("could not sign in: " + err.message);
  }
}

function clear() {
  $("rooms").replaceChildren();
  $("conversation").replaceChildren($("empty").content.cloneNode(true));
}

function leave() {
  window.app?.stop();
  window.app = null;
  sessionStorage.removeItem(STORED_NAME);
  clear();
  show(false);
}

$("signin").addEventListener("submit", (event) => {
  event.preventDefault();
  enter(event.target.elements.name.value.trim());
});
$("signout").addEventListener("click", leave);
clear();
const stored = sessionStorage.getItem(STORED_NAME);
if (stored) enter(stored);
