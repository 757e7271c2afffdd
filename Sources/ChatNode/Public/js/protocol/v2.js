// chat.v2.json: v1 plus presence in batches and resume (PROTOCOL.md §5).
// Everything not redefined here is exactly as in v1.

import { messages as v1Messages } from './v1.js';

export * from './v1.js';

export const SUBPROTOCOL = 'chat.v2.json';

export const messages = {
  ...v1Messages,
  /** `since`: the id of the last message shown, so the server replays what was missed. */
  hello: (nick, ref, since) => (since ? { type: 'hello', nick, ref, since } : { type: 'hello', nick, ref }),
};
