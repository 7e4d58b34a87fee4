// Soft locks: the question each moderator has selected shows on the other moderators' pages.
// Nothing is locked for real (a stale action is already refused with a 409); it only lets a
// moderator see that somebody else has a question in hand.
//
// This page sends {"type": "viewing", "viewer", "submission_id"} over its moderation socket
// when the selection changes; the server adds the user name from the login and tells every
// moderator {"type": "viewing", "viewer", "user", "submission_id", "viewers": [...]}.

function randomId() {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function createLocks() {
  // This page's id: tells its own lock from another tab's, even under the same login.
  const me = randomId();
  const viewers = new Map(); // viewer id -> {viewer, user, submission_id}
  let socket = null;
  let wanted = null; // the question selected here
  let told; // what the server was last told (undefined: nothing yet on this socket)
  let timer = null;

  function flush() {
    timer = null;
    if (!socket || told === wanted) return;
    if (socket.send(JSON.stringify({ type: "viewing", viewer: me, submission_id: wanted }))) told = wanted;
  }

  return {
    me,
    attach(connection) {
      socket = connection;
    },
    // The moderator selected `id` (or nothing). Held briefly, so running through the queue
    // with j/k sends where they stop, not every question they pass.
    look(id) {
      wanted = id ?? null;
      clearTimeout(timer);
      timer = setTimeout(flush, 150);
    },
    // A new socket (first connection or a reconnect): what we knew may be stale, and the
    // server must hear our selection again.
    reset() {
      viewers.clear();
      told = undefined;
      clearTimeout(timer);
      timer = setTimeout(flush, 0);
    },
    // A `viewing` message; true when it was one.
    apply(message) {
      if (message.type !== "viewing") return false;
      for (const v of message.viewers || []) viewers.set(v.viewer, v);
      if (message.viewer) {
        if (message.submission_id === null || message.submission_id === undefined) viewers.delete(message.viewer);
        else viewers.set(message.viewer, message);
      }
      return true;
    },
    // The other moderators looking at question `id` (names, each once).
    who(id) {
      const names = [];
      for (const v of viewers.values()) {
        if (v.viewer !== me && v.submission_id === id && !names.includes(v.user)) names.push(v.user);
      }
      return names;
    },
    // Every other moderator's lock: [{user, submission_id}], oldest first.
    others() {
      return [...viewers.values()].filter((v) => v.viewer !== me && v.submission_id !== null);
    },
  };
}
