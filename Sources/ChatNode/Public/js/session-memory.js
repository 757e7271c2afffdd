// What the page keeps across a reload. The nick goes to localStorage, so
// any new tab offers it; the rooms joined, the room shown and each room's
// resume point go to sessionStorage, so reloading a tab rejoins its rooms
// and replays what it missed, while a second tab starts as a new session
// (it would otherwise fight the first one for the nick).

const NICK_KEY = 'chat.nick';
const SESSION_KEY = 'chat.session';
const SAVE_DELAY_MS = 500;

function read(storage, key) {
  try {
    return storage.getItem(key);
  } catch {
    return null; // storage disabled (private browsing, a sandboxed frame)
  }
}

function write(storage, key, value) {
  try {
    if (value === null) storage.removeItem(key);
    else storage.setItem(key, value);
  } catch {
    // Full or disabled: the page works, it only forgets more on reload.
  }
}

export class SessionMemory {
  constructor() {
    this.saveTimer = null;
    this.pending = null;
  }

  get nick() { return read(localStorage, NICK_KEY) || ''; }

  set nick(value) { write(localStorage, NICK_KEY, value); }

  /** The tab's last session: `{ nick, active, rooms: [{ room, since }] }`, or null. */
  loadSession() {
    try {
      const session = JSON.parse(read(sessionStorage, SESSION_KEY) || 'null');
      return session && typeof session.nick === 'string' && Array.isArray(session.rooms) ? session : null;
    } catch {
      return null;
    }
  }

  /** Saves the session soon (lines arrive fast; one write per half second is plenty). */
  saveSession(session) {
    this.pending = session;
    if (this.saveTimer !== null) return;
    this.saveTimer = setTimeout(() => this.flush(), SAVE_DELAY_MS);
  }

  flush() {
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    if (this.pending !== null) write(sessionStorage, SESSION_KEY, JSON.stringify(this.pending));
    this.pending = null;
  }

  forgetSession() {
    this.pending = null;
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    write(sessionStorage, SESSION_KEY, null);
  }
}
