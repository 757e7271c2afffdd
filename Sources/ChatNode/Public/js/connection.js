// One WebSocket to the chat endpoint that reconnects by itself with
// jittered exponential backoff. Emits 'status' and 'event' events.
// It offers every protocol version it knows, newest first, and speaks the
// one the server picks (`protocol` is that version's module once open).

export class ChatConnection extends EventTarget {
  constructor(url, protocols) {
    super();
    this.url = url;
    this.protocols = protocols;
    this.protocol = protocols[0];
    this.socket = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.wanted = false;
  }

  get isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  open() {
    this.wanted = true;
    if (this.socket) return;
    this.emitStatus('connecting', { attempt: this.attempt });
    let socket;
    try {
      socket = new WebSocket(this.url, this.protocols.map((protocol) => protocol.SUBPROTOCOL));
    } catch (error) {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.attempt = 0;
      this.protocol = this.protocols.find((protocol) => protocol.SUBPROTOCOL === socket.protocol) || this.protocols.at(-1);
      this.emitStatus('open', {});
    });
    socket.addEventListener('message', (message) => {
      for (const event of this.protocol.events(message.data)) {
        this.dispatchEvent(new CustomEvent('event', { detail: event }));
      }
    });
    socket.addEventListener('close', (close) => {
      this.socket = null;
      this.emitStatus('closed', { code: close.code, reason: close.reason });
      if (this.wanted) this.scheduleRetry();
    });
  }

  close() {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    if (this.socket) this.socket.close(1000);
  }

  /** Sends a client message; returns false when not connected. */
  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(this.protocol.encode(message));
    return true;
  }

  scheduleRetry() {
    clearTimeout(this.retryTimer);
    // Full jitter: clients of a dead node must not all return at the same instant.
    const ceiling = Math.min(10000, 500 * 2 ** this.attempt);
    const delay = 250 + Math.random() * ceiling;
    this.attempt += 1;
    this.emitStatus('waiting', { delay });
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  emitStatus(state, detail) {
    this.dispatchEvent(new CustomEvent('status', { detail: { state, ...detail } }));
  }
}
