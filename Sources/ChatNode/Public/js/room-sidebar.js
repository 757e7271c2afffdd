// The rooms beside the chat: the joined rooms with their unread counts, a
// field to join a room by name, and a browser of the busiest rooms
// (`room_list`). It only draws and reports what the user picked.

import { element } from './room-view.js';

export class RoomSidebar {
  /** `actions`: `select(name)`, `join(name)`, `browse()`. */
  constructor(dom, actions) {
    this.dom = dom;
    this.actions = actions;
    dom.form.addEventListener('submit', (event) => {
      event.preventDefault();
      actions.join(dom.input.value);
    });
    dom.input.addEventListener('input', () => { dom.error.textContent = ''; });
    dom.browse.addEventListener('click', () => {
      const opening = dom.browser.hidden;
      dom.browse.setAttribute('aria-expanded', String(opening));
      if (opening) actions.browse();
      else dom.browser.hidden = true;
    });
  }

  /** Redraws the joined rooms; `active` is the name of the room shown. */
  draw(rooms, active) {
    const focusedRoom = this.dom.tabs.contains(document.activeElement) ? document.activeElement.dataset.room : null;
    const items = [];
    for (const room of rooms) {
      const button = element('button', room.name === active ? 'room-tab active' : 'room-tab');
      button.type = 'button';
      button.dataset.room = room.name;
      button.append(element('span', 'room-name', `#${room.name}`));
      if (room.state === 'joining') button.append(element('span', 'hint', ' joining…'));
      if (room.unread > 0) {
        const badge = element('span', 'unread', String(room.unread));
        badge.setAttribute('aria-label', `${room.unread} unread`);
        button.append(badge);
      }
      if (room.name === active) button.setAttribute('aria-current', 'true');
      button.addEventListener('click', () => this.actions.select(room.name));
      const item = element('li');
      item.append(button);
      items.push(item);
    }
    this.dom.tabs.replaceChildren(...items);
    if (focusedRoom) {
      const again = this.dom.tabs.querySelector(`button[data-room="${CSS.escape(focusedRoom)}"]`);
      if (again) again.focus();
    }
  }

  /** Shows a `room_list` reply: rooms to join with a click. */
  showDirectory(entries, joined) {
    const items = entries.map(({ room, count }) => {
      const button = element('button', 'room-entry');
      button.type = 'button';
      button.append(element('span', 'room-name', `#${room}`), element('span', 'hint', ` ${count} ${count === 1 ? 'member' : 'members'}`));
      if (joined.has(room)) button.append(element('span', 'hint', ' · joined'));
      button.addEventListener('click', () => this.actions.join(room));
      const item = element('li');
      item.append(button);
      return item;
    });
    if (items.length === 0) items.push(element('li', 'hint', 'No rooms yet.'));
    this.dom.browser.replaceChildren(...items);
    this.dom.browser.hidden = false;
  }

  showError(text) {
    this.dom.error.textContent = text;
  }

  clearInput() {
    this.dom.input.value = '';
    this.dom.error.textContent = '';
  }
}
