// chat.v3.json: rooms (PROTOCOL.md §6). Nicks, texts and list order are as
// in v1; every chat line, presence batch and member list names its room.

import * as v1 from './v1.js';

export { NICK_MAX, TEXT_MAX, scalarCount, validateNick, validateText, nickKey, compareCodePoints, compareNicks, encode, decode } from './v1.js';

export const SUBPROTOCOL = 'chat.v3.json';
/** This version joins and parts rooms; v1 and v2 live in `lobby` only. */
export const ROOMS = true;
export const ROOM_MAX = 32;

const ROOM_PATTERN = /^[a-z0-9][a-z0-9_.\-]*$/;

/** Checks a room name the way the server will; returns {ok, room} or {ok: false, message}. */
export function validateRoom(raw) {
  const room = raw.trim().replace(/^#/, '');
  if (room.length === 0) return { ok: false, message: 'Name a room.' };
  if (room.length > ROOM_MAX) return { ok: false, message: `A room name has at most ${ROOM_MAX} characters.` };
  if (!ROOM_PATTERN.test(room)) {
    return { ok: false, message: 'Use a–z, 0–9, _ - . only (lower case), starting with a letter or digit.' };
  }
  return { ok: true, room };
}

export const messages = {
  /** v3's `welcome` has no room in it, so `hello` never resumes: `join` does. */
  hello: (nick, ref) => ({ type: 'hello', nick, ref }),
  join: (room, since, ref) => (since ? { type: 'join', room, since, ref } : { type: 'join', room, ref }),
  part: (room, ref) => ({ type: 'part', room, ref }),
  say: (room, text, ref) => ({ type: 'say', room, text, ref }),
  /** One page of a room's members: `query` may hold `prefix`, `after` and `limit`. */
  who: (room, query, ref) => ({ type: 'who', room, ...query, ref }),
  rooms: (ref) => ({ type: 'rooms', ref }),
  whisper: v1.messages.whisper,
  ping: v1.messages.ping,
};

/** Turns one server frame into the events the page handles (v3 events are already room events). */
export function events(data) {
  const event = v1.decode(data);
  return event ? [event] : [];
}
