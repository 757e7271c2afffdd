// The members of one room, which may hold 10,000 people: kept in the
// protocol's list order as users come and go (a binary search per change,
// never a full sort).

export class MemberList {
  constructor(protocol) {
    this.protocol = protocol;
    this.entries = []; // { key, nick } in list order
  }

  get size() { return this.entries.length; }

  /** Replaces the list (`room`, `who`, a room turning small): the server sends it sorted. */
  reset(nicks) {
    this.entries = nicks.map((nick) => ({ key: this.protocol.nickKey(nick), nick }));
  }

  clear() {
    this.entries = [];
  }

  add(nick) {
    const entry = { key: this.protocol.nickKey(nick), nick };
    const index = this.position(entry.key);
    const existing = this.entries[index];
    if (existing && existing.key === entry.key) existing.nick = nick;
    else this.entries.splice(index, 0, entry);
  }

  remove(nick) {
    const key = this.protocol.nickKey(nick);
    const index = this.position(key);
    if (this.entries[index] && this.entries[index].key === key) this.entries.splice(index, 1);
  }

  has(nick) {
    const key = this.protocol.nickKey(nick);
    const entry = this.entries[this.position(key)];
    return Boolean(entry && entry.key === key);
  }

  /** The first `limit` nicks whose key contains `filter`, and how many match in all. */
  matching(filter, limit) {
    const shown = [];
    let matches = 0;
    for (const entry of this.entries) {
      if (filter && !entry.key.includes(filter)) continue;
      matches += 1;
      if (shown.length < limit) shown.push(entry.nick);
    }
    return { shown, matches };
  }

  /** Where an entry with this key is or would go (one entry per key). */
  position(key) {
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      const other = this.entries[middle];
      if (other.key !== key && this.protocol.compareCodePoints(other.key, key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
