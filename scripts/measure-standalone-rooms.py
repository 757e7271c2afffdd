#!/usr/bin/env python3
"""Measures what many rooms cost a node running alone (no Redis).

1. Room churn: one v3 client joins and parts N distinct rooms without a line;
   prints how much the node's RSS grew per room name (an empty room without
   history is dropped, so this should be noise).
2. room_list: K clients join R rooms each, then one client asks `rooms` M
   times, 10 in flight; prints the node's CPU (user + system) per request.

Usage: scripts/measure-standalone-rooms.py [path/to/chat-node]
(default: the release build; build it with `swift build -c release`).
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = 18292
CHURN_ROOMS = 50_000
HOLDERS, ROOMS_EACH, REQUESTS = 4, 10_000, 3_000


class Client:
    """A v3 WebSocket client on a blocking socket: masked text frames out, JSON events in."""

    def __init__(self, nick):
        self.sock = socket.create_connection(("127.0.0.1", PORT))
        self.sock.sendall(f"GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Protocol: chat.v3.json\r\n\r\n".encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(65536)
        self.buffer = self.buffer.split(b"\r\n\r\n", 1)[1]
        self.send({"type": "hello", "nick": nick})
        self.wait_for("welcome", 1)

    def send(self, message):
        payload = json.dumps(message).encode()
        length = bytes([0x80 | len(payload)]) if len(payload) < 126 else bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
        self.sock.sendall(bytes([0x81]) + length + bytes(4) + payload)  # an all-zero mask leaves the payload as is

    def _take(self, count):
        while len(self.buffer) < count:
            self.buffer += self.sock.recv(1 << 20)
        taken, self.buffer = self.buffer[:count], self.buffer[count:]
        return taken

    def wait_for(self, event_type, count):
        """Reads events until `count` of type `event_type` arrived."""
        seen = 0
        while seen < count:
            head = self._take(2)
            length = head[1] & 0x7F
            if length == 126:
                length = int.from_bytes(self._take(2), "big")
            elif length == 127:
                length = int.from_bytes(self._take(8), "big")
            payload = self._take(length)
            if head[0] & 0x0F == 1 and json.loads(payload).get("type") == event_type:
                seen += 1


def rss_kb(pid):
    return next(int(line.split()[1]) for line in open(f"/proc/{pid}/status") if line.startswith("VmRSS"))


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def in_windows(client, total, reply, make):
    """Sends `total` messages made by `make(i)`, at most 10 unanswered at a time."""
    for start in range(0, total, 10):
        batch = range(start, min(start + 10, total))
        for index in batch:
            client.send(make(index))
        client.wait_for(reply, len(batch))


def main():
    if len(sys.argv) > 1:
        binary = sys.argv[1]
    else:
        binary = subprocess.check_output(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, text=True).strip() + "/chat-node"
    node = subprocess.Popen([binary, "--port", str(PORT), "--rate", "0", "--max-rooms", str(ROOMS_EACH), "--event-loops", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        churner = Client("churner")
        before = rss_kb(node.pid)
        for start in range(0, CHURN_ROOMS, 10):
            for index in range(start, start + 10):
                churner.send({"type": "join", "room": f"churn{index}"})
                churner.send({"type": "part", "room": f"churn{index}"})
            churner.wait_for("parted", 10)
        time.sleep(1)
        grown = (rss_kb(node.pid) - before) * 1024 / CHURN_ROOMS
        print(f"room churn: {CHURN_ROOMS} rooms joined and parted, RSS grew {grown:.0f} B per room name")

        holders = [Client(f"holder{k}") for k in range(HOLDERS)]
        for k, holder in enumerate(holders):
            in_windows(holder, ROOMS_EACH, "room", lambda i, k=k: {"type": "join", "room": f"h{k}r{i}"})
        asker = Client("asker")
        time.sleep(1)
        started = cpu_seconds(node.pid)
        in_windows(asker, REQUESTS, "room_list", lambda i: {"type": "rooms"})
        used = cpu_seconds(node.pid) - started
        print(f"room_list: {HOLDERS * ROOMS_EACH} rooms held, {REQUESTS} requests, {used / REQUESTS * 1e6:.0f} µs of node CPU per request")
    finally:
        node.terminate()
        node.wait()


if __name__ == "__main__":
    main()
