// The public API as the page uses it: REST calls and socket URLs with the
// signed-in user's token, and signing in as a development user.

const API = "/en/api/v1";

/** A REST call; resolves to the JSON body (null for 204), rejects with the `detail`. */
async function call(method, path, token, body) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = "Bearer " + token;
  const response = await fetch(path, { method, headers, body: body && JSON.stringify(body) });
  if (response.ok) return response.status === 204 ? null : response.json();
  const error = await response.json().catch(() => ({}));
  throw new Error(`${method} ${path}: ${response.status} ${error.detail || ""}`.trim());
}

/** The signed-in user: `{name, id, email}` and their calls. */
export class Session {
  constructor(name, token, me) {
    Object.assign(this, { name, token, id: me.id, email: me.email });
  }

  get(path) { return call("GET", API + path, this.token); }
  post(path, body) { return call("POST", API + path, this.token, body); }
  put(path, body) { return call("PUT", API + path, this.token, body); }
  delete(path) { return call("DELETE", API + path, this.token); }

  /** Opens a WebSocket on `path`; its first frame is the token (`auth`),
   *  which keeps the token out of URLs and access logs. */
  socket(path, query = {}) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams(query).toString();
    const socket = new WebSocket(`${scheme}//${location.host}${path}${params ? "?" + params : ""}`);
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "auth", token: this.token })));
    return socket;
  }

  /** A page of the caller's conversations, newest activity first: the
   *  first, or the one after the page whose `next` was `before`. */
  rooms(before) {
    const after = before ? "&before=" + encodeURIComponent(before) : "";
    return this.get("/chatrooms/?limit=50" + after);
  }

  /** Up to 50 messages of `roomId` older than `before`, newest first. */
  messages(roomId, before) {
    return this.get(`/chatrooms/${roomId}/messages/?limit=50&before=${before}`);
  }

  /** The newest message of `roomId` that is not deleted, or null. */
  async lastMessage(roomId) {
    const [newest] = await this.get(`/chatrooms/${roomId}/messages/?limit=1`);
    return newest || null;
  }

  /** Marks the peer's messages of `roomId` read: up to `messageId`, or all. */
  markRead(roomId, messageId) {
    const body = messageId ? { message_id: messageId } : undefined;
    return this.post(`/chatrooms/${roomId}/read`, body);
  }

  /** The direct room with `peerId`, created on first use: its id. */
  async roomWith(peerId) {
    const query = `user_id_1=${this.id}&user_id_2=${encodeURIComponent(peerId)}`;
    const { room_id } = await this.post(`/chatrooms/get_or_create_room/?${query}`);
    return room_id;
  }
}

/** Signs in as development user `name`: sub `dev-<name>`, email `<name>@example.com`. */
export async function signIn(name) {
  const { token } = await call("POST", "/dev/token", null, {
    sub: "dev-" + name,
    email: name + "@example.com",
  });
  const me = await call("GET", API + "/users/me", token);
  return new Session(name, token, me);
}
