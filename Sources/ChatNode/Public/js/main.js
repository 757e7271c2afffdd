import * as v1 from './protocol/v1.js';
import * as v2 from './protocol/v2.js';
import * as v3 from './protocol/v3.js';
import { ChatConnection } from './connection.js';
import { ChatPanel } from './chat.js';
import { takeLoginToken } from './login-token.js';

const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
const connection = new ChatConnection(`${scheme}//${window.location.host}/chat`, [v3, v2, v1]);
// Before the panel reads the address for a room: the token leaves it first.
const token = takeLoginToken();
new ChatPanel(document, connection, token);
