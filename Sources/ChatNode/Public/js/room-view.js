// One joined room as the page sees it: its message list (an element of its
// own, shown while the room is the active one), the ids already shown, the
// resume point, unread count and members. User data only ever reaches the
// DOM through textContent.

import { MemberList } from './members.js';

/** Lines kept in a room's list; older ones leave the DOM (the server keeps history). */
export const LINES_KEPT = 500;
/** Ids remembered to drop a line that arrives twice (a replay after a reconnection). */
const IDS_REMEMBERED = 2000;

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function timeOf(ts) {
  const date = ts ? new Date(ts) : new Date();
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export class RoomView {
  constructor(name, protocol) {
    this.name = name;
    // A list; the pane that shows it is the page's live log (role="log").
    this.list = element('ol', 'messages');
    this.list.setAttribute('aria-label', `Messages in #${name}`);
    this.list.tabIndex = 0;
    this.seen = new Set();
    this.lastMessageId = null;
    this.unread = 0;
    this.count = 0;
    this.large = false;
    this.members = new MemberList(protocol);
    /** While large: the last `who` page asked for ({ prefix, users, next }). */
    this.search = { prefix: '', users: [], next: null };
    /** `joining` until the room's `room` reply arrives, then `joined`. */
    this.state = 'joining';
  }

  /** Applies a `room` reply (a join or a rejoin); returns the lines it added. */
  load(event, me) {
    this.state = 'joined';
    this.large = Boolean(event.large);
    this.count = event.count ?? event.users.length;
    this.members.reset(event.users);
    this.search = { prefix: '', users: this.large ? event.users : [], next: null };
    let added = 0;
    for (const line of event.history || []) if (this.addLine(line, me)) added += 1;
    return added;
  }

  /** Applies a presence batch; returns the summary line to show, or null. */
  applyPresence(event) {
    if (event.count !== undefined) this.count = event.count;
    if (event.large === true) {
      const news = !this.large;
      this.large = true;
      this.members.clear();
      return news ? `#${this.name} is now a large room: members are counted, search to find someone.` : null;
    }
    if (event.large === false && event.users) {
      this.large = false;
      this.members.reset(event.users);
      this.count = event.users.length;
      return null;
    }
    for (const departure of event.left) this.members.remove(departure.nick);
    for (const nick of event.joined) this.members.add(nick);
    if (event.count === undefined) this.count = this.members.size;
    return summarise(event);
  }

  /** Shows a chat line once however often it arrives; true when it was new. */
  addLine(line, me) {
    if (!this.remember(line.id)) return false;
    this.lastMessageId = line.id;
    const item = element('li', me !== null && line.from === me ? 'message own' : 'message');
    item.append(element('span', 'meta', timeOf(line.ts)), element('span', 'from', line.from), element('span', 'text', line.text));
    this.append(item);
    return true;
  }

  addDirect(line, me) {
    if (!this.remember(line.id)) return;
    const item = element('li', 'message direct');
    const label = line.from === me ? `private to ${line.to}` : 'private';
    item.append(element('span', 'meta', timeOf(line.ts)), element('span', 'label', label),
      element('span', 'from', line.from), element('span', 'text', line.text));
    this.append(item);
  }

  system(text, ts, className = 'system') {
    const item = element('li', `message ${className}`);
    item.append(element('span', 'meta', timeOf(ts)), element('span', 'text', text));
    this.append(item);
  }

  append(item) {
    this.list.append(item);
    while (this.list.childElementCount > LINES_KEPT) this.list.firstElementChild.remove();
  }

  remember(id) {
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    if (this.seen.size > IDS_REMEMBERED) this.seen.delete(this.seen.values().next().value);
    return true;
  }
}

const NAMES_SHOWN = 3;
const LEAVE_WORDS = { part: 'left', kicked: 'was removed', quit: 'left', timeout: 'lost connection', node_down: 'was disconnected (their server went down)' };

/** One line for a presence batch: a few names and how many more, so a busy room reads calmly. */
function summarise(event) {
  const parts = [];
  const describe = (names, verb) => {
    if (names.length === 0) return;
    const shown = names.slice(0, NAMES_SHOWN).join(', ');
    const more = names.length > NAMES_SHOWN ? ` and ${names.length - NAMES_SHOWN} more` : '';
    parts.push(`${shown}${more} ${verb}`);
  };
  describe(event.joined, 'joined');
  const byWord = new Map();
  for (const departure of event.left) {
    const word = LEAVE_WORDS[departure.reason] || 'left';
    if (!byWord.has(word)) byWord.set(word, []);
    byWord.get(word).push(departure.nick);
  }
  for (const [word, names] of byWord) describe(names, word);
  return parts.length > 0 ? parts.join('; ') : null;
}
