// Small DOM and time helpers. User text only ever goes in through
// `textContent`: nothing on the page is built from HTML strings.

/** A fresh copy of `<template id="…">`'s first element. */
export function clone(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

/** Sets the text of `root`'s first `selector` match. */
export function text(root, selector, value) {
  root.querySelector(selector).textContent = value;
}

/** `21:03` for a time of today, `18 Feb 21:03` otherwise. */
export function clock(iso) {
  const time = new Date(iso);
  const hm = time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (time.toDateString() === new Date().toDateString()) return hm;
  return time.toLocaleDateString([], { day: "numeric", month: "short" }) + " " + hm;
}

/** What to say of a user's presence: "online", "last seen 21:03" or "offline". */
export function seen(user) {
  if (user.is_online) return "online";
  return user.last_seen ? "last seen " + clock(user.last_seen) : "offline";
}

/** Shows the peer's presence in `root`'s `.dot` and `.seen`. */
export function showPresence(root, user) {
  root.querySelector(".dot").dataset.online = String(user.is_online);
  text(root, ".seen", seen(user));
}

/** Calls `action` when `ms` have passed without another `restart`. */
export class Timer {
  constructor(ms, action) { Object.assign(this, { ms, action, id: null }); }
  restart() { this.stop(); this.id = setTimeout(() => { this.id = null; this.action(); }, this.ms); }
  stop() { if (this.id !== null) clearTimeout(this.id); this.id = null; }
  running() { return this.id !== null; }
}
