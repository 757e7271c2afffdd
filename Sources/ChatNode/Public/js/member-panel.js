// The member list beside the active room's messages. A small room's list is
// filtered here; a large room keeps no list (PROTOCOL.md §6), so its search
// box asks the server for pages of `who` with a prefix. Drawn at most once
// per animation frame, and keyboard focus stays on the nick it was on.

const SHOWN_AT_MOST = 200;
const SEARCH_DELAY_MS = 250;
export const SEARCH_PAGE = 50;

export class MemberPanel {
  /**
   * `onPick(nick)` whispers to a member (null for oneself); `onSearch(room, query)` asks the
   * server for a page of a large room's members.
   */
  constructor(dom, protocol, onPick, onSearch) {
    this.dom = dom;
    this.protocol = protocol;
    this.onPick = onPick;
    this.onSearch = onSearch;
    this.room = null;
    this.me = null;
    this.drawScheduled = false;
    this.searchTimer = null;
    dom.filter.addEventListener('input', () => this.filterChanged());
    dom.next.addEventListener('click', () => {
      const room = this.room;
      if (room && room.large && room.search.next) {
        this.onSearch(room, { prefix: room.search.prefix || undefined, after: room.search.next, limit: SEARCH_PAGE });
      }
    });
    dom.toggle.addEventListener('click', () => {
      const open = dom.toggle.getAttribute('aria-expanded') !== 'true';
      dom.toggle.setAttribute('aria-expanded', String(open));
      dom.panel.classList.toggle('open', open);
    });
  }

  /** Shows this room's members (null: no room). */
  show(room, me) {
    const changed = room !== this.room;
    this.room = room;
    this.me = me;
    if (changed) {
      this.dom.filter.value = room && room.large ? room.search.prefix : '';
      if (room && room.large && room.search.users.length === 0) this.search();
    }
    this.scheduleDraw();
  }

  filterChanged() {
    if (this.room && this.room.large) {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.search(), SEARCH_DELAY_MS);
    }
    this.scheduleDraw();
  }

  search() {
    const prefix = this.dom.filter.value.trim().slice(0, this.protocol.NICK_MAX);
    this.onSearch(this.room, { prefix: prefix || undefined, limit: SEARCH_PAGE });
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
    const { dom, room } = this;
    dom.title.textContent = room ? `Members of #${room.name}` : 'Members';
    dom.count.textContent = room ? String(room.count) : '0';
    dom.toggle.textContent = room ? `Members (${room.count})` : 'Members';
    if (!room) {
      this.drawNicks([]);
      dom.more.hidden = true;
      dom.next.hidden = true;
      return;
    }
    if (room.large) {
      dom.filter.placeholder = 'Search members';
      this.drawNicks(room.search.users);
      dom.more.hidden = false;
      dom.more.textContent = `A large room: ${room.count} members. Type the start of a nick to search.`;
      dom.next.hidden = !room.search.next;
      return;
    }
    dom.filter.placeholder = 'Find someone';
    const { shown, matches } = room.members.matching(this.protocol.nickKey(dom.filter.value.trim()), SHOWN_AT_MOST);
    this.drawNicks(shown);
    dom.next.hidden = true;
    dom.more.hidden = matches <= shown.length;
    dom.more.textContent = `and ${matches - shown.length} more; type in the filter to find someone`;
  }

  drawNicks(nicks) {
    const focused = this.dom.list.contains(document.activeElement) ? document.activeElement.textContent : null;
    let refocus = null;
    const items = nicks.map((nick) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = nick;
      if (nick === this.me) button.className = 'me';
      button.title = nick === this.me ? 'you' : `Send a private message to ${nick}`;
      button.addEventListener('click', () => this.onPick(nick === this.me ? null : nick));
      if (nick === focused) refocus = button;
      const item = document.createElement('li');
      item.append(button);
      return item;
    });
    this.dom.list.replaceChildren(...items);
    if (refocus) refocus.focus();
  }
}
