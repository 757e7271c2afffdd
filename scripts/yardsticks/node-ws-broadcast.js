// The yardstick for scripts/bench-steady.sh: a plain broadcast server on
// Debian's node-ws. Each `say` becomes one `message`, encoded once and sent
// to every connected client; no presence, no history, no Redis.
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 18190);
const server = new WebSocketServer({ port, host: '127.0.0.1', handleProtocols: (offered) => offered.values().next().value });
let sequence = 0;

server.on('connection', (socket) => {
    let nick = null;
    socket.on('message', (data) => {
        let message;
        try { message = JSON.parse(data); } catch { return; }
        if (message.type === 'hello') {
            nick = message.nick;
            socket.send(JSON.stringify({ type: 'welcome', nick, users: [], history: [] }));
        } else if (message.type === 'say' && nick !== null) {
            // Encoded once; ws frames the same bytes for every client.
            const event = Buffer.from(JSON.stringify({ type: 'message', id: String(++sequence), from: nick, text: message.text, ts: Date.now() }));
            for (const client of server.clients) if (client.readyState === 1) client.send(event, { binary: false });
        }
    });
});
