// One row of the conversation list: the peer, their presence, the last
// message (or "typing…"), the unread badge and, while there are unread
// messages, "mark all read", which marks them without opening the room.
import { clock, clone, showPresence, text } from "./view.js";

function preview(message, me) {
  if (!message) return "no messages yet";
  return (message.sender_id === me ? "you: " : "") + message.text;
}

/** The row of `room`. `view` says what the list knows beside the room:
 *  `{me, open, typing}`; `actions` are `{open(room), markRead(roomId)}`. */
export function roomRow(room, view, actions) {
  const li = clone("room-row");
  li.dataset.room = room.room_id;
  li.classList.toggle("open", view.open);
  text(li, ".peer", room.peer.email);
  showPresence(li, room.peer);
  const unread = room.unread_count > 0;
  const badge = li.querySelector(".badge");
  badge.hidden = !unread;
  badge.textContent = String(room.unread_count);
  const markRead = li.querySelector(".mark-read");
  markRead.hidden = !unread;
  markRead.addEventListener("click", (event) => {
    event.stopPropagation(); // marking is not opening
    actions.markRead(room.room_id);
  });
  li.classList.toggle("typing", view.typing);
  text(li, ".last", view.typing ? "typing…" : preview(room.last_message, view.me));
  if (room.last_message) text(li, ".when", clock(room.last_message.created_at));
  li.addEventListener("click", () => actions.open(room));
  return li;
}
