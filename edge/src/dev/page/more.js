// "Load more" at the end of the conversation list: the page after the last
// one read (`GET /chatrooms/?before=<next>`), offered while that page had a
// `next`. A fresh first page (a new inbox) starts the walk over, and an
// answer to a walk that was started over is dropped.
import { clone } from "./view.js";

export class MoreRooms {
  /** `onPage(rooms)` receives each page; `onError(message)` a failed call. */
  constructor(session, onPage, onError) {
    Object.assign(this, { session, onPage, onError, next: null, paged: false, walk: 0 });
    this.item = clone("more-rooms");
    this.button = this.item.querySelector("button");
    this.button.addEventListener("click", () => this.load());
  }

  /** A first page from the server (the inbox): its `next` starts the walk. */
  reset(next) {
    Object.assign(this, { next, paged: false, walk: this.walk + 1 });
    this.button.disabled = false;
  }

  /** A re-read first page (polling): its `next` counts only until the walk began. */
  first(next) {
    if (!this.paged) this.next = next;
  }

  async load() {
    if (!this.next || this.button.disabled) return;
    const walk = this.walk;
    this.button.disabled = true;
    try {
      const page = await this.session.rooms(this.next);
      if (walk !== this.walk) return;
      Object.assign(this, { next: page.next, paged: true });
      this.onPage(page.rooms);
    } catch (err) {
      this.onError(err.message);
    } finally {
      if (walk === this.walk) this.button.disabled = false;
    }
  }

  /** What ends the list: the button while there is a next page, else nothing. */
  items() {
    return this.next ? [this.item] : [];
  }
}
