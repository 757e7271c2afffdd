"""A minimal WebSocket chat client over a plain socket, for the browser tests'
other participants: crowds, steady senders and auditors that need no browser."""

import base64
import json
import os
import socket
import time


class RawClient:
    """One connection speaking a chat subprotocol; frames are JSON objects."""

    def __init__(self, port, subprotocol="chat.v3.json", timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Sec-WebSocket-Protocol: {subprotocol}\r\n\r\n").encode())
        self.reader = self.sock.makefile("rb")
        status = self.reader.readline()
        assert b" 101 " in status, status
        while self.reader.readline() not in (b"\r\n", b""):
            pass

    def send(self, message):
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        if len(payload) < 126:
            header = bytes([0x81, 0x80 | len(payload)])
        else:
            header = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big")
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def read_event(self):
        while True:
            first, second = self.reader.read(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(self.reader.read(2), "big")
            elif length == 127:
                length = int.from_bytes(self.reader.read(8), "big")
            payload = self.reader.read(length)
            if first & 0x0F == 0x1:
                return json.loads(payload)

    def wait_for(self, kind, timeout=10):
        """Reads events until one of type `kind` arrives, and returns it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            event = self.read_event()
            if event["type"] == kind:
                return event
            if event["type"] == "error":
                raise AssertionError(f"the server refused: {event}")
        raise TimeoutError(f"no {kind} event")

    def hello(self, nick):
        self.send({"type": "hello", "nick": nick})
        return self.wait_for("welcome")

    def join(self, room):
        self.send({"type": "join", "room": room})
        return self.wait_for("room")

    def close(self):
        self.reader.close()  # the file object holds the socket open too
        self.sock.close()
