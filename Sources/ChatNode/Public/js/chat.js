// The chat panel: nick prompt, rooms, the active room's messages and
// members, and the composer. It owns the session: it says hello, joins the
// rooms wanted (from the address's `#room`, or the tab's last session), and
// after a reconnection rejoins each room with `since` set to the last line
// shown there, so the server replays exactly what was missed.
//
// v1 and v2 servers are spoken to as one room, `lobby` (./protocol/lobby.js).

import { RoomView } from './room-view.js';
import { RoomSidebar } from './room-sidebar.js';
import { MemberPanel } from './member-panel.js';
import { SessionMemory } from './session-memory.js';
import { forgetLoginToken, readClaims } from './login-token.js';

const CLOSE_REASONS = {
  1000: 'connection closed',
  1001: 'the server is restarting',
  1006: 'connection lost',
  1008: 'closed by the server (policy)',
  1009: 'message too big',
  1011: 'server error',
};
const NICK_RETRY_LIMIT = 12;
const DEFAULT_ROOM = 'lobby';
const ERROR_TEXTS = {
  rate_limited: 'You are sending too fast; that message was not delivered.',
  unavailable: 'Chat is temporarily unavailable; that message was not delivered.',
  no_such_user: 'That user is not online; the private message was not delivered.',
  not_in_room: 'You are not in that room; join it first.',
};
const JOIN_ERROR_TEXTS = {
  room_invalid: 'That is not a room name: use a–z, 0–9, _ - . (lower case), up to 32 characters.',
  too_many_rooms: 'You are in as many rooms as allowed; leave one first.',
  room_forbidden: 'That room is private.',
  unavailable: 'Chat is temporarily unavailable. Try again in a moment.',
};

export class ChatPanel {
  constructor(root, connection, token = null) {
    this.connection = connection;
    this.memory = new SessionMemory();
    /** The login token (§7) every `hello` carries, when the page was given one. */
    this.token = token;
    this.nick = null;
    this.joined = false;
    this.rejoining = false;
    this.nickRetries = 0;
    /** The joined rooms (and those being joined), in the order they were joined. */
    this.rooms = new Map();
    this.active = null;
    /** What each `ref` still awaiting an answer asked for: { kind: 'join' | 'who' | 'part', room, ... }. */
    this.pending = new Map();
    this.target = null;
    this.refs = 0;
    this.dom = {
      status: root.querySelector('#status'),
      joinForm: root.querySelector('#join-form'),
      nickInput: root.querySelector('#nick-input'),
      nickError: root.querySelector('#nick-error'),
      joinButton: root.querySelector('#join-button'),
      chat: root.querySelector('#chat-room'),
      roomsPanel: root.querySelector('#rooms-panel'),
      roomTitle: root.querySelector('#room-title'),
      partRoom: root.querySelector('#part-room'),
      messages: root.querySelector('#messages'),
      noRoom: root.querySelector('#no-room'),
      jump: root.querySelector('#jump-latest'),
      sendForm: root.querySelector('#send-form'),
      input: root.querySelector('#message-input'),
      charCount: root.querySelector('#char-count'),
      sendError: root.querySelector('#send-error'),
      target: root.querySelector('#target'),
      clearTarget: root.querySelector('#clear-target'),
      nodeID: root.querySelector('#node-id'),
      protocolVersion: root.querySelector('#protocol-version'),
    };
    this.sidebar = new RoomSidebar({
      tabs: root.querySelector('#room-tabs'),
      form: root.querySelector('#room-form'),
      input: root.querySelector('#room-input'),
      error: root.querySelector('#room-error'),
      browse: root.querySelector('#browse-rooms'),
      browser: root.querySelector('#room-browser'),
    }, {
      select: (name) => this.activate(name),
      join: (name) => this.requestRoom(name),
      browse: () => this.send(this.protocol.messages.rooms(this.nextRef())),
    });
    this.members = new MemberPanel({
      panel: root.querySelector('#members-panel'),
      toggle: root.querySelector('#members-toggle'),
      title: root.querySelector('#users-title-text'),
      count: root.querySelector('#user-count'),
      filter: root.querySelector('#user-filter'),
      list: root.querySelector('#users'),
      more: root.querySelector('#users-more'),
      next: root.querySelector('#users-next'),
    }, this.protocol, (nick) => this.setTarget(nick), (room, query) => this.askWho(room, query));
    this.bind();
    this.resumeLastSession();
  }

  /** The module of the protocol version the connection speaks. */
  get protocol() {
    return this.connection.protocol;
  }

  bind() {
    const { dom } = this;
    dom.joinForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.requestJoin(dom.nickInput.value);
    });
    dom.nickInput.addEventListener('input', () => { dom.nickError.textContent = ''; });
    dom.sendForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.sendCurrent();
    });
    dom.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.sendCurrent();
      }
    });
    dom.input.addEventListener('input', () => {
      dom.sendError.textContent = '';
      this.countCharacters();
    });
    dom.clearTarget.addEventListener('click', () => this.setTarget(null));
    dom.partRoom.addEventListener('click', () => this.partActive());
    dom.jump.addEventListener('click', () => this.scrollToBottom());
    window.addEventListener('hashchange', () => this.followAddress());
    window.addEventListener('pagehide', () => this.memory.flush());
    this.connection.addEventListener('status', (event) => this.onStatus(event.detail));
    this.connection.addEventListener('event', (event) => this.onEvent(event.detail));
  }

  nextRef() {
    this.refs += 1;
    return `r${this.refs}`;
  }

  send(message) {
    return this.joined && this.connection.send(message);
  }

  // Joining the chat

  /** A reloaded tab says hello again with its nick and rejoins its rooms. */
  resumeLastSession() {
    this.dom.nickInput.value = this.memory.nick;
    // A token that binds a nick decides it: offer that one.
    const claims = this.token && readClaims(this.token);
    if (claims && claims.nick) this.dom.nickInput.value = claims.nick;
    const session = this.memory.loadSession();
    if (!session) return;
    for (const { room, since } of session.rooms) {
      const view = this.addRoom(room);
      view.lastMessageId = since || null;
    }
    this.wantedActive = session.active;
    this.rejoining = true;
    this.requestJoin(session.nick);
  }

  requestJoin(raw) {
    const result = this.protocol.validateNick(raw);
    if (!result.ok) {
      this.dom.nickError.textContent = result.message;
      return;
    }
    this.nick = result.nick;
    this.nickRetries = 0;
    this.dom.joinButton.disabled = true;
    if (this.connection.isOpen) this.sendHello();
    else this.connection.open();
  }

  sendHello() {
    if (!this.nick) return;
    const lobby = this.rooms.get(DEFAULT_ROOM);
    // v3 resumes per room on `join`; v1 and v2 resume the lobby on `hello`.
    const since = this.rejoining && lobby ? lobby.lastMessageId : null;
    const hello = this.protocol.messages.hello(this.nick, this.nextRef(), since);
    if (this.token) hello.token = this.token;
    this.connection.send(hello);
  }

  // Connection status

  onStatus(detail) {
    switch (detail.state) {
      case 'connecting':
        this.setStatus('connecting', 'connecting…');
        break;
      case 'open':
        this.setStatus('online', 'online');
        this.dom.protocolVersion.textContent = this.protocol.SUBPROTOCOL;
        if (this.nick) this.sendHello();
        break;
      case 'closed': {
        const wasJoined = this.joined;
        this.joined = false;
        this.pending.clear();
        this.setStatus('offline', 'offline');
        if (wasJoined) {
          this.rejoining = true;
          const why = CLOSE_REASONS[detail.code] || `connection closed (${detail.code})`;
          this.noteEverywhere(`Disconnected: ${why}. Reconnecting…`);
        }
        break;
      }
      case 'waiting':
        this.setStatus('connecting', `reconnecting in ${Math.ceil(detail.delay / 1000)} s`);
        break;
      default:
        this.dom.status.textContent = detail.state;
    }
  }

  setStatus(kind, text) {
    this.dom.status.className = `status status-${kind}`;
    this.dom.status.textContent = text;
  }

  // Server events

  onEvent(event) {
    switch (event.type) {
      case 'welcome': return this.onWelcome(event);
      case 'room': return this.onRoom(event);
      case 'presence': return this.onPresence(event);
      case 'message': return this.onMessage(event);
      case 'direct': return this.onDirect(event);
      case 'users': return this.onUsers(event);
      case 'parted': return this.onParted(event);
      case 'room_list': return this.sidebar.showDirectory(event.rooms, new Set(this.rooms.keys()));
      case 'error': return this.onError(event);
      default: return undefined; // pong and events this version does not know
    }
  }

  onWelcome(event) {
    const firstJoin = !this.rejoining;
    this.joined = true;
    this.nickRetries = 0;
    this.nick = event.nick;
    this.memory.nick = event.nick;
    this.dom.nodeID.textContent = event.node;
    this.dom.joinForm.hidden = true;
    this.dom.joinButton.disabled = false;
    this.dom.chat.hidden = false;
    this.dom.roomsPanel.hidden = !this.protocol.ROOMS;
    if (this.rooms.size === 0) {
      // v1 and v2 are always in the lobby; v3 joins the room in the address, or the lobby.
      const first = this.roomInAddress() || DEFAULT_ROOM;
      this.addRoom(first);
      this.wantedActive = first;
    }
    if (this.protocol.ROOMS) for (const room of this.rooms.values()) this.sendJoin(room);
    if (firstJoin) this.noteEverywhere(`Welcome, ${event.nick}! You are on node ${event.node}.`);
    else this.noteEverywhere(`Reconnected as ${event.nick} (node ${event.node}).`);
    this.rejoining = false;
    this.drawRooms();
    this.dom.input.focus();
  }

  onRoom(event) {
    this.settle(event.ref);
    const room = this.rooms.get(event.room) || this.addRoom(event.room);
    const resuming = room.lastMessageId !== null;
    room.load(event, this.nick);
    if (resuming && event.resumed === false) {
      room.system('Some messages sent while you were away may be missing (too many to replay).');
    }
    const wanted = this.wantedActive === room.name;
    if (wanted) this.wantedActive = null;
    if (this.active === null || wanted) {
      this.activate(room.name);
    } else {
      this.drawRooms();
      if (room.name === this.active) this.showMembers();
    }
    this.remember();
  }

  onPresence(event) {
    const room = this.rooms.get(event.room);
    if (!room || room.state !== 'joined') return;
    const summary = room.applyPresence(event);
    if (summary) this.appendTo(room, () => room.system(summary, event.ts));
    if (room.name === this.active) this.showMembers();
  }

  onMessage(line) {
    const room = this.rooms.get(line.room);
    if (!room) return;
    let added = false;
    this.appendTo(room, () => { added = room.addLine(line, this.nick); });
    if (!added) return;
    if (room.name !== this.active) {
      room.unread += 1;
      this.drawRooms();
    }
    this.remember();
  }

  onDirect(line) {
    const room = this.rooms.get(this.active);
    if (room) this.appendTo(room, () => room.addDirect(line, this.nick));
  }

  onUsers(event) {
    const asked = this.settle(event.ref);
    const room = this.rooms.get(event.room);
    if (!room) return;
    if (event.count !== undefined) room.count = event.count;
    if (room.large) {
      const query = asked && asked.kind === 'who' ? asked.query : {};
      const users = query.after ? [...room.search.users, ...event.users] : event.users;
      room.search = { prefix: query.prefix || '', users, next: event.next || null };
    } else {
      room.members.reset(event.users);
    }
    if (room.name === this.active) this.showMembers();
  }

  onParted(event) {
    this.settle(event.ref);
    const room = this.rooms.get(event.room);
    if (!room) return;
    this.rooms.delete(event.room);
    if (event.reason === 'kicked') this.sidebar.showError(`You were removed from #${event.room}.`);
    if (this.active === event.room) {
      const next = this.rooms.keys().next();
      this.active = null;
      if (next.done) this.showNoRoom();
      else this.activate(next.value);
    } else {
      this.drawRooms();
    }
    this.remember();
  }

  onError(event) {
    const asked = this.settle(event.ref);
    if (event.code === 'unauthorized') return this.onLoginRefused(event);
    if (!this.joined && (event.code === 'nick_taken' || event.code === 'nick_invalid')) return this.onNickRefused(event);
    if (!this.joined && event.code === 'unavailable') return this.onHelloUnavailable();
    if (asked && asked.kind === 'join') return this.onJoinRefused(asked.room, event);
    if (asked && asked.kind === 'who') return undefined; // the search box keeps what it shows
    const text = ERROR_TEXTS[event.code]
      || (event.code === 'text_invalid' ? `That message cannot be sent: ${event.message}` : `Error: ${event.message}`);
    this.dom.sendError.textContent = text;
    const room = this.rooms.get(this.active);
    if (room) this.appendTo(room, () => room.system(text, undefined, 'error'));
    return undefined;
  }

  onNickRefused(event) {
    if (this.rejoining && event.code === 'nick_taken' && this.nickRetries < NICK_RETRY_LIMIT) {
      // Our old session may still hold the nick while the cluster notices it is gone.
      this.nickRetries += 1;
      this.noteEverywhere(`Waiting for the nick ${this.nick} to be released (try ${this.nickRetries})…`);
      setTimeout(() => { if (!this.joined) this.sendHello(); }, 1000);
      return;
    }
    this.rejoining = false;
    this.leaveAllRooms();
    this.dom.chat.hidden = true;
    this.dom.joinForm.hidden = false;
    this.dom.joinButton.disabled = false;
    this.dom.nickError.textContent = event.code === 'nick_taken'
      ? `The nick ${this.nick} is already taken. Choose another.`
      : event.message;
    this.nick = null;
  }

  /**
   * The server wants a (new) login token: none was given, it expired, or
   * it is not valid here. The server closes the connection; the page stops
   * rejoining and says what to do, since only the embedding site can mint one.
   */
  onLoginRefused(event) {
    this.rejoining = false;
    forgetLoginToken();
    const expired = /expired/.test(event.message);
    const text = !this.token
      ? 'This chat needs you to sign in: open it from the site that links to it (the link carries a login token).'
      : expired
        ? 'Your login has expired: open the chat again from the site that links to it to get a new one.'
        : `Your login was not accepted: ${event.message}. Open the chat again from the site that links to it.`;
    this.token = null;
    this.leaveAllRooms();
    this.joined = false;
    this.nick = null;
    this.dom.chat.hidden = true;
    this.dom.joinForm.hidden = false;
    this.dom.joinButton.disabled = false;
    this.dom.nickError.textContent = text;
  }

  onHelloUnavailable() {
    if (this.rejoining) {
      // The cluster's bus is down; keep the connection and try again shortly.
      this.noteEverywhere('Chat is temporarily unavailable; rejoining when it is back…');
      setTimeout(() => { if (!this.joined) this.sendHello(); }, 2000);
      return;
    }
    this.dom.joinButton.disabled = false;
    this.dom.nickError.textContent = 'Chat is temporarily unavailable. Try again in a moment.';
  }

  onJoinRefused(name, event) {
    const room = this.rooms.get(name);
    if (event.code === 'unavailable' && room && room.lastMessageId !== null) {
      // A rejoin during a bus outage: the room is still ours, ask again shortly.
      setTimeout(() => { if (this.joined && this.rooms.get(name) === room) this.sendJoin(room); }, 2000);
      return;
    }
    if (event.code === 'already_in_room') return;
    if (room && room.state === 'joining') this.rooms.delete(name);
    this.sidebar.showError(JOIN_ERROR_TEXTS[event.code] || `Could not join #${name}: ${event.message}`);
    if (this.active === null && this.rooms.size > 0) this.activate(this.rooms.keys().next().value);
    else this.drawRooms();
    this.remember();
  }

  /** Forgets the answer a `ref` awaited and returns what it asked for. */
  settle(ref) {
    if (ref === undefined) return undefined;
    const asked = this.pending.get(ref);
    this.pending.delete(ref);
    return asked;
  }

  // Rooms

  roomInAddress() {
    const hash = decodeURIComponent(window.location.hash.slice(1));
    if (!this.protocol.validateRoom) return null;
    const check = this.protocol.validateRoom(hash);
    return check.ok ? check.room : null;
  }

  followAddress() {
    const name = this.roomInAddress();
    if (!name || name === this.active || !this.joined) return;
    if (this.rooms.has(name)) this.activate(name);
    else this.requestRoom(name);
  }

  /** The user asked for a room: show it if joined, join it otherwise. */
  requestRoom(raw) {
    if (!this.protocol.ROOMS) return;
    const check = this.protocol.validateRoom(raw);
    if (!check.ok) {
      this.sidebar.showError(check.message);
      return;
    }
    this.sidebar.clearInput();
    if (this.rooms.has(check.room)) {
      this.activate(check.room);
      return;
    }
    const room = this.addRoom(check.room);
    this.wantedActive = room.name;
    this.sendJoin(room);
    this.drawRooms();
  }

  addRoom(name) {
    const room = new RoomView(name, this.protocol);
    room.list.addEventListener('scroll', () => {
      if (room.name === this.active && this.isNearBottom()) this.dom.jump.hidden = true;
    });
    this.rooms.set(name, room);
    return room;
  }

  sendJoin(room) {
    room.state = 'joining';
    const ref = this.nextRef();
    this.pending.set(ref, { kind: 'join', room: room.name });
    if (!this.send(this.protocol.messages.join(room.name, room.lastMessageId, ref))) this.pending.delete(ref);
  }

  askWho(room, query) {
    if (!room || !this.protocol.ROOMS) return;
    const ref = this.nextRef();
    this.pending.set(ref, { kind: 'who', room: room.name, query });
    if (!this.send(this.protocol.messages.who(room.name, query, ref))) this.pending.delete(ref);
  }

  partActive() {
    if (!this.active || !this.protocol.ROOMS) return;
    const ref = this.nextRef();
    this.pending.set(ref, { kind: 'part', room: this.active });
    this.send(this.protocol.messages.part(this.active, ref));
  }

  leaveAllRooms() {
    this.rooms.clear();
    this.active = null;
    this.pending.clear();
    this.memory.forgetSession();
  }

  /** Shows a room: its messages, members and name, in the page and in the address. */
  activate(name) {
    const room = this.rooms.get(name);
    if (!room) return;
    this.active = name;
    room.unread = 0;
    this.dom.noRoom.hidden = true;
    this.dom.messages.replaceChildren(room.list);
    this.dom.roomTitle.textContent = `#${name}`;
    this.dom.partRoom.hidden = !this.protocol.ROOMS;
    this.scrollToBottom();
    this.showMembers();
    this.drawRooms();
    if (this.protocol.ROOMS && this.roomInAddress() !== name) {
      window.history.replaceState(null, '', `#${encodeURIComponent(name)}`);
    }
    this.remember();
  }

  showNoRoom() {
    this.dom.messages.replaceChildren();
    this.dom.noRoom.hidden = false;
    this.dom.roomTitle.textContent = 'No room';
    this.dom.partRoom.hidden = true;
    this.members.show(null, this.nick);
    this.drawRooms();
  }

  showMembers() {
    this.members.show(this.rooms.get(this.active) || null, this.nick);
  }

  /** Redraws the sidebar at most once per animation frame (a busy room's unread count changes often). */
  drawRooms() {
    if (!this.protocol.ROOMS || this.roomsDrawScheduled) return;
    this.roomsDrawScheduled = true;
    requestAnimationFrame(() => {
      this.roomsDrawScheduled = false;
      this.sidebar.draw([...this.rooms.values()], this.active);
    });
  }

  /** Keeps the tab's rooms and resume points for a reload. */
  remember() {
    if (!this.nick || !this.joined) return;
    const rooms = [...this.rooms.values()].map((room) => ({ room: room.name, since: room.lastMessageId }));
    this.memory.saveSession({ nick: this.nick, active: this.active, rooms });
  }

  // Message lists

  /** Runs `add` on a room's list, keeping the view at the newest line if it was there. */
  appendTo(room, add) {
    const shown = room.name === this.active;
    const stick = shown && this.isNearBottom();
    add();
    if (!shown) return;
    if (stick) this.scrollToBottom();
    else this.dom.jump.hidden = false;
  }

  noteEverywhere(text) {
    for (const room of this.rooms.values()) this.appendTo(room, () => room.system(text));
  }

  isNearBottom() {
    const room = this.rooms.get(this.active);
    if (!room) return true;
    const list = room.list;
    return list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  }

  scrollToBottom() {
    const room = this.rooms.get(this.active);
    if (room) room.list.scrollTop = room.list.scrollHeight;
    this.dom.jump.hidden = true;
  }

  // Composing

  setTarget(nick) {
    this.target = nick;
    this.dom.target.textContent = nick ? `To: ${nick} (private)` : 'To: everyone';
    this.dom.target.classList.toggle('private', Boolean(nick));
    this.dom.clearTarget.hidden = !nick;
    this.dom.input.focus();
  }

  countCharacters() {
    const count = this.protocol.scalarCount(this.dom.input.value);
    this.dom.charCount.textContent = `${count} / ${this.protocol.TEXT_MAX}`;
    this.dom.charCount.classList.toggle('over', count > this.protocol.TEXT_MAX);
  }

  sendCurrent() {
    const text = this.dom.input.value;
    const check = this.protocol.validateText(text);
    if (!check.ok) {
      this.dom.sendError.textContent = check.message;
      return;
    }
    const ref = this.nextRef();
    let message;
    if (this.target) message = this.protocol.messages.whisper(this.target, text, ref);
    else if (!this.active) {
      this.dom.sendError.textContent = 'Join a room first.';
      return;
    } else if (this.protocol.ROOMS) message = this.protocol.messages.say(this.active, text, ref);
    else message = this.protocol.messages.say(text, ref);
    if (!this.send(message)) {
      this.dom.sendError.textContent = 'Not connected; your message was kept, send it again once online.';
      return;
    }
    this.dom.input.value = '';
    this.countCharacters();
  }
}
