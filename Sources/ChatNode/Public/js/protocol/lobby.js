// v1 and v2 clients live in the room `lobby` (PROTOCOL.md §6). This turns
// their events into the room events v3 sends, so the page has one model:
// `welcome` becomes `welcome` plus a `room` reply for `lobby`, `joined` and
// `left` become presence batches of one, and lines and lists name `lobby`.

export const LOBBY = 'lobby';

/** The v3-shaped events that one v1 or v2 event stands for. */
export function lobbyEvents(event) {
  switch (event.type) {
    case 'welcome':
      return [
        { type: 'welcome', nick: event.nick, node: event.node },
        {
          type: 'room', room: LOBBY, count: (event.users || []).length, users: event.users || [], large: false,
          history: (event.history || []).map((line) => ({ ...line, room: LOBBY })),
          resumed: event.resumed,
        },
      ];
    case 'joined':
      return [{ type: 'presence', room: LOBBY, joined: [event.nick], left: [], ts: event.ts }];
    case 'left':
      return [{ type: 'presence', room: LOBBY, joined: [], left: [{ nick: event.nick, reason: event.reason }], ts: event.ts }];
    case 'presence':
    case 'message':
      return [{ ...event, room: LOBBY }];
    case 'users':
      return [{ ...event, room: LOBBY, count: event.users.length }];
    default:
      return [event];
  }
}
