// chat.v1.json: the wire format of PROTOCOL.md v1. chat.v2.json
// (./v2.js) has the same exports; the app speaks the one the server picks.

import { lobbyEvents } from './lobby.js';

export const SUBPROTOCOL = 'chat.v1.json';
/** v1 and v2 have no `join`: their one room is `lobby`. */
export const ROOMS = false;
export const NICK_MAX = 24;
export const TEXT_MAX = 2000;

const NICK_PATTERN = /^[\p{L}\p{Nd}][\p{L}\p{M}\p{Nd}_.\-]*$/u;
const CONTROL = /[\p{Cc}]/u;
const VISIBLE = /[^\p{White_Space}]/u;

/** Counts Unicode scalars, as the protocol does (not UTF-16 units, not graphemes). */
export function scalarCount(text) {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** Checks a nick the way the server will; returns {ok, nick} or {ok: false, message}. */
export function validateNick(raw) {
  const nick = raw.normalize('NFC');
  const length = scalarCount(nick);
  if (length === 0) return { ok: false, message: 'Choose a nick.' };
  if (length > NICK_MAX) return { ok: false, message: `A nick has at most ${NICK_MAX} characters (this one has ${length}).` };
  if (!NICK_PATTERN.test(nick)) {
    return { ok: false, message: 'Use letters, marks or digits (any script) and _ - . only, starting with a letter or digit.' };
  }
  return { ok: true, nick };
}

/** Checks a message text; returns {ok} or {ok: false, message}. */
export function validateText(text) {
  const length = scalarCount(text);
  if (length === 0 || !VISIBLE.test(text)) return { ok: false, message: 'Write something first.' };
  if (length > TEXT_MAX) return { ok: false, message: `A message has at most ${TEXT_MAX} characters (this one has ${length}).` };
  for (const ch of text) {
    if (ch !== '\n' && ch !== '\t' && CONTROL.test(ch)) return { ok: false, message: 'The message contains a control character.' };
  }
  return { ok: true };
}

/** The case-insensitive identity of a nick: NFC, each scalar lowercased without context. */
export function nickKey(nick) {
  let key = '';
  for (const ch of nick.normalize('NFC')) key += ch.toLowerCase();
  return key.normalize('NFC');
}

/** Compares two strings by Unicode code points (not UTF-16 units). */
export function compareCodePoints(a, b) {
  const left = [...a];
  const right = [...b];
  for (let i = 0; i < Math.min(left.length, right.length); i += 1) {
    const difference = left[i].codePointAt(0) - right[i].codePointAt(0);
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

/** The protocol's list order: by key in code-point order, ties by the nick itself. */
export function compareNicks(a, b) {
  return compareCodePoints(nickKey(a), nickKey(b)) || compareCodePoints(a, b);
}

export const messages = {
  hello: (nick, ref) => ({ type: 'hello', nick, ref }),
  say: (text, ref) => ({ type: 'say', text, ref }),
  whisper: (to, text, ref) => ({ type: 'whisper', to, text, ref }),
  who: (ref) => ({ type: 'who', ref }),
  ping: (ref) => ({ type: 'ping', ref }),
};

/** Encodes a client message as the text of one WebSocket frame. */
export function encode(message) {
  return JSON.stringify(message);
}

/** Decodes a server frame; returns null for anything that is not an event object. */
export function decode(data) {
  if (typeof data !== 'string') return null;
  try {
    const event = JSON.parse(data);
    return event && typeof event === 'object' && typeof event.type === 'string' ? event : null;
  } catch {
    return null;
  }
}

/** Turns one server frame into the room events the page handles (see ./lobby.js). */
export function events(data) {
  const event = decode(data);
  return event ? lobbyEvents(event) : [];
}
