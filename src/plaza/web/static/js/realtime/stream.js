// The live stream (WS /api/v1/stream): one connection per page that survives network
// changes. It resumes with `since` (the last seq received, kept in memory and in
// sessionStorage for reloads of this tab), so no persisted event is lost or repeated;
// when the server answers "resync" the page must refetch what it shows.
//
//   const stream = connectStream({
//     onEvent(frame) {...},          // {seq, type, data}; seq is null for ephemeral events
//     onStatus(status, detail) {...}, // "connecting" | "open" | "offline" | "signed-out" | "closed"
//     onResync(data) {...},          // the stream moved on without us: reload state
//   });
//   stream.close();

const STORE_KEY = "plaza.stream";
const CLOSE_TOO_SLOW = 4008;
const CLOSE_BAD_REQUEST = 4400;
const CLOSE_UNAUTHENTICATED = 4401;
const CLOSE_FORBIDDEN = 4403;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;

function loadPosition() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
    if (saved && Number.isSafeInteger(saved.since) && typeof saved.user === "string") return saved;
  } catch {
    // storage disabled or corrupt: start from the live position
  }
  return { user: null, since: null };
}

function savePosition(position) {
  try {
    sessionStorage.setItem(STORE_KEY, JSON.stringify(position));
  } catch {
    // storage full or disabled: memory still has it
  }
}

function streamUrl(since) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = since === null ? "" : `?since=${since}`;
  return `${scheme}//${location.host}/api/v1/stream${query}`;
}

/** Open the stream and keep it open until `close()`. */
export function connectStream({ onEvent = () => {}, onStatus = () => {}, onResync = () => {} } = {}) {
  const position = loadPosition();
  let socket = null;
  let attempts = 0;
  let retryTimer = null;
  let watchdog = null;
  let silenceLimitMs = 75_000; // replaced by 2.5 heartbeats once hello says the interval
  let stopped = false;

  function setSince(seq) {
    position.since = seq;
    savePosition(position);
  }

  function scheduleReconnect(delayMs) {
    if (stopped) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(open, delayMs);
  }

  function backoff() {
    // Full jitter: spreads the reconnects of many clients after a server restart.
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempts);
    attempts += 1;
    return Math.random() * cap;
  }

  function feedWatchdog() {
    clearTimeout(watchdog);
    // The server pings every heartbeat; silence longer than that means a dead link
    // that the browser has not noticed yet.
    watchdog = setTimeout(() => socket?.close(), silenceLimitMs);
  }

  function handleFrame(frame) {
    switch (frame.type) {
      case "hello": {
        attempts = 0;
        silenceLimitMs = Math.max(5_000, frame.data.heartbeat_interval * 2500);
        if (position.user !== null && position.user !== frame.data.user_id) {
          // Another account signed in in this tab: the saved position is not ours.
          position.user = frame.data.user_id;
          setSince(frame.data.seq);
          const stale = socket;
          socket = null; // its replay (of the other account's stream) is ignored
          stale.close();
          onResync(frame.data);
          scheduleReconnect(0);
          return;
        }
        position.user = frame.data.user_id;
        if (position.since === null) setSince(frame.data.seq);
        onStatus("open");
        return;
      }
      case "ping":
        socket.send('{"type":"pong"}');
        return;
      case "pong":
        return;
      case "resync":
        setSince(frame.data.seq);
        onResync(frame.data);
        return;
      default:
        if (frame.seq !== null) {
          if (position.since !== null && frame.seq <= position.since) return; // seen
          setSince(frame.seq);
        }
        onEvent(frame);
    }
  }

  function open() {
    if (stopped) return;
    onStatus("connecting");
    const ws = new WebSocket(streamUrl(position.since));
    socket = ws;
    feedWatchdog();
    ws.addEventListener("message", (message) => {
      if (ws !== socket) return;
      feedWatchdog();
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      handleFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== socket) return;
      clearTimeout(watchdog);
      socket = null;
      if (stopped) {
        onStatus("closed");
      } else if (event.code === CLOSE_UNAUTHENTICATED || event.code === CLOSE_FORBIDDEN) {
        stopped = true;
        onStatus("signed-out", event.reason);
      } else if (event.code === CLOSE_BAD_REQUEST) {
        setSince(null);
        scheduleReconnect(backoff());
      } else if (event.code === CLOSE_TOO_SLOW) {
        scheduleReconnect(Math.random() * BACKOFF_BASE_MS);
      } else {
        onStatus("offline", event.reason);
        scheduleReconnect(backoff());
      }
    });
  }

  function online() {
    // The network is back: don't sit out the rest of a long backoff.
    if (!socket && !stopped) {
      attempts = 0;
      scheduleReconnect(Math.random() * BACKOFF_BASE_MS);
    }
  }

  window.addEventListener("online", online);
  open();

  return {
    /** The last seq received (null before the first hello). */
    get since() {
      return position.since;
    },
    /** Send a control frame (the server only reads {"type": "ping"} for now). */
    send(body) {
      if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(body));
    },
    close() {
      stopped = true;
      clearTimeout(retryTimer);
      clearTimeout(watchdog);
      window.removeEventListener("online", online);
      socket?.close(1000);
    },
  };
}
