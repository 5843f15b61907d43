// Explicit read marks of the open conversation (`POST /chatrooms/{id}/read`
// with the newest message shown), so the read is the server's truth and not
// only a side effect of the room socket. Marks asked for while one is on the
// way are merged into one for the newest id, and marks are at least
// `SPACING_MS` apart, well inside the REST write rate.
const SPACING_MS = 500;

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether the user sees the page: it is visible and its tab has the focus. */
export function attended() {
  return document.visibilityState === "visible" && document.hasFocus();
}

export class ReadMarks {
  /** `onError(message)` receives a failed mark. */
  constructor(session, roomId, onError) {
    Object.assign(this, { session, roomId, onError, wanted: 0, sent: 0, busy: false });
  }

  /** Marks the peer's messages read up to `messageId`. */
  mark(messageId) {
    this.wanted = Math.max(this.wanted, messageId);
    if (!this.busy) this.flush();
  }

  async flush() {
    this.busy = true;
    while (this.wanted > this.sent) {
      const messageId = this.wanted;
      try {
        await this.session.markRead(this.roomId, messageId);
      } catch (err) {
        this.onError(err.message);
      }
      this.sent = messageId;
      await pause(SPACING_MS);
    }
    this.busy = false;
  }
}
