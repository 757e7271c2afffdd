// The user list of a room that may hold 10,000 people: kept sorted as
// users come and go (a binary search per change, no full sort), and drawn
// at most once per animation frame, showing only the first matches of the
// filter. User data reaches the DOM through textContent only.

const SHOWN_AT_MOST = 200;

export class UserList {
  constructor(dom, protocol, onPick) {
    this.dom = dom;
    this.protocol = protocol;
    this.onPick = onPick;
    this.me = null;
    this.entries = []; // { key, nick } in the protocol's list order
    this.filter = '';
    this.drawScheduled = false;
    dom.filter.addEventListener('input', () => {
      this.filter = this.protocol.nickKey(dom.filter.value.trim());
      this.scheduleDraw();
    });
  }

  get size() { return this.entries.length; }

  /** Replaces the list (welcome, who): the server sends it sorted already. */
  reset(nicks, me) {
    this.me = me;
    // The server sends lists in the protocol's order already.
    this.entries = nicks.map((nick) => ({ key: this.protocol.nickKey(nick), nick }));
    this.scheduleDraw();
  }

  add(nick) {
    const entry = { key: this.protocol.nickKey(nick), nick };
    const index = this.position(entry);
    const existing = this.entries[index];
    if (existing && existing.key === entry.key) existing.nick = nick;
    else this.entries.splice(index, 0, entry);
    this.scheduleDraw();
  }

  remove(nick) {
    const entry = { key: this.protocol.nickKey(nick), nick };
    const index = this.position(entry);
    if (this.entries[index] && this.entries[index].key === entry.key) this.entries.splice(index, 1);
    this.scheduleDraw();
  }

  has(nick) {
    const key = this.protocol.nickKey(nick);
    const entry = this.entries[this.position({ key, nick })];
    return Boolean(entry && entry.key === key);
  }

  /** Where an entry with this key is or would go (one entry per key). */
  position(entry) {
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      const other = this.entries[middle];
      if (other.key !== entry.key && this.protocol.compareCodePoints(other.key, entry.key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  scheduleDraw() {
    if (this.drawScheduled) return;
    this.drawScheduled = true;
    requestAnimationFrame(() => {
      this.drawScheduled = false;
      this.draw();
    });
  }

  draw() {
    const shown = [];
    let matches = 0;
    for (const entry of this.entries) {
      if (this.filter && !entry.key.includes(this.filter)) continue;
      matches += 1;
      if (shown.length < SHOWN_AT_MOST) shown.push(entry.nick);
    }
    const items = shown.map((nick) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = nick;
      if (nick === this.me) button.className = 'me';
      button.title = nick === this.me ? 'you' : `Send a private message to ${nick}`;
      button.addEventListener('click', () => this.onPick(nick === this.me ? null : nick));
      const item = document.createElement('li');
      item.append(button);
      return item;
    });
    this.dom.list.replaceChildren(...items);
    this.dom.count.textContent = String(this.entries.length);
    this.dom.more.hidden = matches <= shown.length;
    this.dom.more.textContent = `and ${matches - shown.length} more; type in the filter to find someone`;
  }
}
