#!/usr/bin/env python3
"""Measures a node's memory while clients that never read are flooded.

Starts the debug chat-node, connects 50 clients with tiny receive buffers that
never read, and broadcasts 1.8 KB lines from a sender that does read. Prints
the node's RSS and the slow-consumer metric. Usage: scripts/measure-slow-consumers.py
"""

import json
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = 18291


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    return -1


def connect(nick, receive_buffer=None):
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", PORT))
    sock.sendall(f"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Protocol: chat.v1.json\r\n\r\n".encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    sock.sendall(frame(json.dumps({"type": "hello", "nick": nick}).encode()))
    return sock


def frame(payload):
    header = bytes([0x81, 0x80 | len(payload)]) if len(payload) < 126 else \
        bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big")
    return header + bytes(4) + payload


def main():
    binary = subprocess.check_output(["swift", "build", "--show-bin-path"], cwd=ROOT, text=True).strip() + "/chat-node"
    node = subprocess.Popen([binary, "--port", str(PORT), "--rate", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        stuck = [connect(f"stuck{i}", receive_buffer=4096) for i in range(50)]
        sender = connect("sender")
        threading.Thread(target=lambda: [None for _ in iter(lambda: sender.recv(1 << 20), b"")], daemon=True).start()
        time.sleep(0.5)
        print(f"connected 50 non-reading clients: RSS {rss_kb(node.pid)} kB")
        line = frame(json.dumps({"type": "say", "text": "x" * 1800}).encode())
        for round_ in range(1, 5):
            for _ in range(2000):
                sender.sendall(line)
            time.sleep(1)
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics").read().decode()
            closed = next(l for l in metrics.splitlines() if l.startswith("chat_slow_consumer_disconnects_total"))
            dropped = next(l for l in metrics.splitlines() if l.startswith("chat_slow_consumer_dropped_events_total"))
            print(f"after {round_ * 2000} broadcasts: RSS {rss_kb(node.pid)} kB; {closed}; {dropped}")
        del stuck
    finally:
        node.terminate()
        node.wait()


if __name__ == "__main__":
    main()
