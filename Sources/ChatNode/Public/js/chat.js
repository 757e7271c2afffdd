// The chat panel: nick prompt, message list, user list and composer.
// User data only ever reaches the DOM through textContent.
//
// Every message id shown is remembered, so a message appears once however
// often it arrives; the id of the last one is sent as `since` when the page
// reconnects (v2), so the server replays exactly what was missed.

import { UserList } from './users.js';

const LEAVE_REASONS = { quit: 'left', timeout: 'lost connection', node_down: 'was disconnected (their server went down)' };
const CLOSE_REASONS = {
  1000: 'connection closed',
  1001: 'the server is restarting',
  1006: 'connection lost',
  1008: 'closed by the server (policy)',
  1009: 'message too big',
  1011: 'server error',
};
const NICK_RETRY_LIMIT = 12;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function timeOf(ts) {
  const date = ts ? new Date(ts) : new Date();
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

const PRESENCE_NAMES_SHOWN = 3;

export class ChatPanel {
  constructor(root, connection) {
    this.connection = connection;
    this.nick = null;
    this.joined = false;
    this.rejoining = false;
    this.nickRetries = 0;
    this.seen = new Set();
    this.lastMessageId = null;
    this.target = null;
    this.refs = 0;
    this.dom = {
      status: root.querySelector('#status'),
      joinForm: root.querySelector('#join-form'),
      nickInput: root.querySelector('#nick-input'),
      nickError: root.querySelector('#nick-error'),
      joinButton: root.querySelector('#join-button'),
      room: root.querySelector('#chat-room'),
      messages: root.querySelector('#messages'),
      jump: root.querySelector('#jump-latest'),
      sendForm: root.querySelector('#send-form'),
      input: root.querySelector('#message-input'),
      sendError: root.querySelector('#send-error'),
      target: root.querySelector('#target'),
      clearTarget: root.querySelector('#clear-target'),
      nodeID: root.querySelector('#node-id'),
      protocolVersion: root.querySelector('#protocol-version'),
    };
    this.users = new UserList({
      list: root.querySelector('#users'),
      count: root.querySelector('#user-count'),
      filter: root.querySelector('#user-filter'),
      more: root.querySelector('#users-more'),
    }, this.protocol, (nick) => this.setTarget(nick));
    this.bind();
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
    dom.input.addEventListener('input', () => { dom.sendError.textContent = ''; });
    dom.clearTarget.addEventListener('click', () => this.setTarget(null));
    dom.messages.addEventListener('scroll', () => {
      if (this.isNearBottom()) dom.jump.hidden = true;
    });
    dom.jump.addEventListener('click', () => this.scrollToBottom());
    this.connection.addEventListener('status', (event) => this.onStatus(event.detail));
    this.connection.addEventListener('event', (event) => this.onEvent(event.detail));
  }

  nextRef() {
    this.refs += 1;
    return `r${this.refs}`;
  }

  // Joining

  requestJoin(raw) {
    const result = this.protocol.validateNick(raw);
    if (!result.ok) {
      this.dom.nickError.textContent = result.message;
      return;
    }
    this.nick = result.nick;
    this.nickRetries = 0;
    this.dom.joinButton.disabled = true;
    if (this.connection.isOpen) {
      this.sendHello();
    } else {
      this.connection.open();
    }
  }

  sendHello() {
    if (!this.nick) return;
    // Only a reconnecting page resumes; v1 ignores `since`.
    const since = this.rejoining ? this.lastMessageId : null;
    this.connection.send(this.protocol.messages.hello(this.nick, this.nextRef(), since));
  }

  // Connection status

  onStatus(detail) {
    const { status } = this.dom;
    switch (detail.state) {
      case 'connecting':
        this.setStatus('connecting', 'connecting…');
        break;
      case 'open':
        this.setStatus('online', 'online');
        if (this.nick) this.sendHello();
        break;
      case 'closed': {
        const wasJoined = this.joined;
        this.joined = false;
        this.setStatus('offline', 'offline');
        if (wasJoined) {
          this.rejoining = true;
          const why = CLOSE_REASONS[detail.code] || `connection closed (${detail.code})`;
          this.system(`Disconnected: ${why}. Reconnecting…`);
        }
        break;
      }
      case 'waiting':
        this.setStatus('connecting', `reconnecting in ${Math.ceil(detail.delay / 1000)} s`);
        break;
      default:
        status.textContent = detail.state;
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
      case 'joined':
        this.users.add(event.nick);
        return this.system(`${event.nick} joined`, event.ts);
      case 'left':
        this.users.remove(event.nick);
        return this.system(`${event.nick} ${LEAVE_REASONS[event.reason] || 'left'}`, event.ts);
      case 'presence': return this.onPresence(event);
      case 'message': return this.addLine(event);
      case 'direct': return this.addDirect(event);
      case 'users':
        return this.users.reset(event.users, this.nick);
      case 'error': return this.onError(event);
      default: return undefined; // pong and events this version does not know
    }
  }

  onWelcome(event) {
    const firstJoin = !this.rejoining;
    this.joined = true;
    this.rejoining = false;
    this.nickRetries = 0;
    this.nick = event.nick;
    this.dom.nodeID.textContent = event.node;
    this.dom.joinForm.hidden = true;
    this.dom.joinButton.disabled = false;
    this.dom.room.hidden = false;
    this.dom.protocolVersion.textContent = this.protocol.SUBPROTOCOL;
    this.users.reset(event.users, event.nick);
    if (firstJoin) this.system(`Welcome, ${event.nick}! You are on node ${event.node}.`);
    else this.system(`Reconnected as ${event.nick} (node ${event.node}).`);
    if (!firstJoin && event.resumed === false && this.lastMessageId !== null) {
      this.system('Some messages sent while you were away may be missing (too many to replay).');
    }
    for (const line of event.history) this.addLine(line);
    this.dom.input.focus();
  }

  /** v2: users who joined and left since the last event, as net changes. */
  onPresence(event) {
    for (const departure of event.left) this.users.remove(departure.nick);
    for (const nick of event.joined) this.users.add(nick);
    const parts = [];
    const describe = (names, verb) => {
      if (names.length === 0) return;
      const shown = names.slice(0, PRESENCE_NAMES_SHOWN).join(', ');
      const more = names.length > PRESENCE_NAMES_SHOWN ? ` and ${names.length - PRESENCE_NAMES_SHOWN} more` : '';
      parts.push(`${shown}${more} ${verb}`);
    };
    describe(event.joined, 'joined');
    describe(event.left.map((departure) => departure.nick), 'left');
    if (parts.length > 0) this.system(parts.join('; '), event.ts);
  }

  onError(event) {
    if (!this.joined && (event.code === 'nick_taken' || event.code === 'nick_invalid')) {
      if (this.rejoining && event.code === 'nick_taken' && this.nickRetries < NICK_RETRY_LIMIT) {
        // Our old session may still hold the nick while the cluster notices it is gone.
        this.nickRetries += 1;
        this.system(`Waiting for the nick ${this.nick} to be released (try ${this.nickRetries})…`);
        setTimeout(() => { if (!this.joined) this.sendHello(); }, 1000);
        return;
      }
      this.rejoining = false;
      this.dom.room.hidden = true;
      this.dom.joinForm.hidden = false;
      this.dom.joinButton.disabled = false;
      this.dom.nickError.textContent = event.code === 'nick_taken'
        ? `The nick ${this.nick} is already taken. Choose another.`
        : event.message;
      this.nick = null;
      return;
    }
    if (!this.joined && event.code === 'unavailable') {
      if (this.rejoining) {
        // The cluster's bus is down; keep the connection and try again shortly.
        this.system('Chat is temporarily unavailable; rejoining when it is back…');
        setTimeout(() => { if (!this.joined) this.sendHello(); }, 2000);
        return;
      }
      this.dom.joinButton.disabled = false;
      this.dom.nickError.textContent = 'Chat is temporarily unavailable. Try again in a moment.';
      return;
    }
    const text = {
      rate_limited: 'You are sending too fast; that message was not delivered.',
      unavailable: 'Chat is temporarily unavailable; that message was not delivered.',
      no_such_user: 'That user is not online; the private message was not delivered.',
      text_invalid: 'That message cannot be sent: ' + event.message,
    }[event.code] || `Error: ${event.message}`;
    this.dom.sendError.textContent = text;
    this.appendItem(element('li', 'message error', text));
  }

  // Message list

  addLine(line) {
    if (this.seen.has(line.id)) return;
    this.seen.add(line.id);
    this.lastMessageId = line.id;
    const own = this.nick !== null && line.from === this.nick;
    const item = element('li', own ? 'message own' : 'message');
    item.append(element('span', 'meta', timeOf(line.ts)), element('span', 'from', line.from), element('span', 'text', line.text));
    this.appendItem(item);
  }

  addDirect(line) {
    if (this.seen.has(line.id)) return;
    this.seen.add(line.id);
    const outgoing = line.from === this.nick;
    const item = element('li', 'message direct');
    const label = outgoing ? `private to ${line.to}` : 'private';
    item.append(element('span', 'meta', timeOf(line.ts)), element('span', 'label', label),
      element('span', 'from', line.from), element('span', 'text', line.text));
    this.appendItem(item);
  }

  system(text, ts) {
    const item = element('li', 'message system');
    item.append(element('span', 'meta', timeOf(ts)), element('span', 'text', text));
    this.appendItem(item);
  }

  appendItem(item) {
    const stick = this.isNearBottom();
    this.dom.messages.append(item);
    if (stick) this.scrollToBottom();
    else this.dom.jump.hidden = false;
  }

  isNearBottom() {
    const list = this.dom.messages;
    return list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  }

  scrollToBottom() {
    this.dom.messages.scrollTop = this.dom.messages.scrollHeight;
    this.dom.jump.hidden = true;
  }

  // Users

  setTarget(nick) {
    this.target = nick;
    this.dom.target.textContent = nick ? `To: ${nick} (private)` : 'To: everyone';
    this.dom.target.classList.toggle('private', Boolean(nick));
    this.dom.clearTarget.hidden = !nick;
    this.dom.input.focus();
  }

  // Sending

  sendCurrent() {
    const text = this.dom.input.value;
    const check = this.protocol.validateText(text);
    if (!check.ok) {
      this.dom.sendError.textContent = check.message;
      return;
    }
    const message = this.target
      ? this.protocol.messages.whisper(this.target, text, this.nextRef())
      : this.protocol.messages.say(text, this.nextRef());
    if (!this.joined || !this.connection.send(message)) {
      this.dom.sendError.textContent = 'Not connected; your message was kept, send it again once online.';
      return;
    }
    this.dom.input.value = '';
  }
}
