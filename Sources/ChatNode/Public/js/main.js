import * as v1 from './protocol/v1.js';
import { ChatConnection } from './connection.js';
import { ChatPanel } from './chat.js';

const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
const connection = new ChatConnection(`${scheme}//${window.location.host}/chat`, v1);
new ChatPanel(document, connection, v1);
