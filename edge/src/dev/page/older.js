// "Load older messages" at the top of the open conversation: the room's
// messages before the oldest one shown, 50 at a time, from
// `GET /chatrooms/{id}/messages/?before=<id>`, offered while the last
// history or page was full (a shorter one reached the room's first message).
import { clone } from "./view.js";

const PAGE = 50;

export class OlderMessages {
  /** `oldestId()` is the oldest message shown; `onPage(messages)` receives
   *  each page, newest first; `onError(message)` a failed call. */
  constructor(session, roomId, { oldestId, onPage, onError }) {
    Object.assign(this, { session, roomId, oldestId, onPage, onError, walk: 0 });
    this.item = clone("older-messages");
    this.button = this.item.querySelector("button");
    this.button.addEventListener("click", () => this.load());
  }

  /** A fresh history of `count` messages: older ones exist if it was full. */
  reset(count) {
    this.walk += 1;
    this.button.disabled = false;
    this.item.hidden = count < PAGE;
  }

  async load() {
    const before = this.oldestId();
    if (!before || this.button.disabled) return;
    const walk = this.walk;
    this.button.disabled = true;
    try {
      const page = await this.session.messages(this.roomId, before);
      if (walk !== this.walk) return;
      this.item.hidden = page.length < PAGE;
      this.onPage(page);
    } catch (err) {
      this.onError(err.message);
    } finally {
      if (walk === this.walk) this.button.disabled = false;
    }
  }
}
