// A websocket that never gives up: it reconnects with backoff and resumes from the last seq
// it saw (?after=SEQ), so a projector survives network drops and server restarts untouched.

const SILENCE_LIMIT_MS = 40000; // the server pings every ~15 s; silence this long means a dead link

// maxDelay caps the backoff: thousands of phones spread out over 8 s after a restart, while
// the one projector of a meeting (screen.js) comes back within about a second of the server.
export function connect(path, { onMessage, onStatus = () => {}, after = null, resume = true, maxDelay = 8000 }) {
  let lastSeq = after;
  let socket = null;
  let delay = 500;
  let watchdog = null;
  let stopped = false;

  function armWatchdog() {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => socket && socket.close(), SILENCE_LIMIT_MS);
  }

  function open() {
    const url = new URL(path, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (resume && lastSeq !== null) url.searchParams.set("after", String(lastSeq));
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      delay = 500;
      armWatchdog();
    });
    socket.addEventListener("message", (event) => {
      armWatchdog();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "ping") return;
      if (message.type === "snapshot" || message.type === "resumed") {
        onStatus(true);
      }
      if (typeof message.seq === "number") {
        // A snapshot resets the cursor (the server may have a new database); events advance it.
        lastSeq = message.type === "snapshot" ? message.seq : Math.max(lastSeq ?? 0, message.seq);
      }
      onMessage(message);
    });
    socket.addEventListener("close", () => {
      clearTimeout(watchdog);
      onStatus(false);
      if (stopped) return;
      const wait = delay + Math.random() * delay;
      delay = Math.min(delay * 2, maxDelay);
      setTimeout(open, wait);
    });
  }

  open();
  return {
    close() {
      stopped = true;
      clearTimeout(watchdog);
      if (socket) socket.close();
    },
    get lastSeq() {
      return lastSeq;
    },
    // Something for the server (the moderator page's soft locks); false while disconnected,
    // so the caller sends its state again once the socket is back.
    send(data) {
      if (!socket || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(data);
      return true;
    },
  };
}

// Show the "reconnecting" marks only after a short grace, so a blip does not flash on screen.
export function connectionIndicator() {
  const marks = document.querySelectorAll("[data-connection]");
  let timer = null;
  return (connected) => {
    if (connected) {
      clearTimeout(timer);
      timer = null;
      marks.forEach((mark) => (mark.hidden = true));
      document.body.classList.remove("offline");
    } else if (timer === null) {
      // Each failed retry reports "offline" again: the grace runs from the first drop, or
      // retries faster than the grace would hide a dead server for good.
      timer = setTimeout(() => {
        marks.forEach((mark) => (mark.hidden = false));
        document.body.classList.add("offline");
      }, 1500);
    }
  };
}
