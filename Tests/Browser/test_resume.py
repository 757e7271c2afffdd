"""The web client on chat.v2.json: a page whose node dies resumes without
gaps, and its user list stays equal to the server's."""

import json
import socket
import base64
import os

from selenium.webdriver.common.by import By

from conftest import screenshot
from test_web_client import join, message_texts, send, users, wait, wait_joined, wait_text


def who(port):
    """Asks the cluster for its user list over a raw v1 WebSocket, like any non-browser client."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat.v1.json\r\n\r\n").encode())
        reader = sock.makefile("rb")
        while reader.readline() not in (b"\r\n", b""):
            pass

        def send_text(text):
            payload = text.encode()
            mask = os.urandom(4)
            assert len(payload) < 126
            sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

        def read_event():
            while True:
                first, second = reader.read(2)
                length = second & 0x7F
                if length == 126:
                    length = int.from_bytes(reader.read(2), "big")
                elif length == 127:
                    length = int.from_bytes(reader.read(8), "big")
                payload = reader.read(length)
                if first & 0x0F == 0x1:
                    return json.loads(payload)

        send_text('{"type":"hello","nick":"auditor"}')
        while read_event()["type"] != "welcome":
            pass
        send_text('{"type":"who"}')
        while True:
            event = read_event()
            if event["type"] == "users":
                return [nick for nick in event["users"] if nick != "auditor"]


def test_a_page_whose_node_dies_shows_every_message_once_and_in_order(cluster, browsers):
    reader = browsers()
    join(reader, cluster.url, "reader")
    reader_node = wait_joined(reader)
    assert reader.find_element(By.ID, "protocol-version").text == "chat.v2.json"
    sender = None
    for attempt in range(6):
        sender = browsers()
        join(sender, cluster.url, f"sender{attempt}")
        if wait_joined(sender) != reader_node:
            break
        sender.quit()
    assert sender.find_element(By.ID, "node-id").text != reader_node, "both pages landed on the same node"
    send(sender, "before the crash")
    wait_text(reader, "before the crash")

    cluster.kill_node(reader_node)
    expected = [f"resume-{index}" for index in range(20)]
    for text in expected:
        send(sender, text)
    wait_text(sender, expected[-1])

    wait(reader, 40).until(lambda b: "Reconnected as reader" in " ".join(message_texts(b)))
    wait(reader, 15).until(lambda b: expected[-1] in message_texts(b))
    shown = [text for text in message_texts(reader) if text.startswith("resume-")]
    assert shown == expected
    assert "may be missing" not in " ".join(message_texts(reader))
    screenshot(reader, "desktop-resumed")

    # The page's list (welcome plus presence batches) equals the server's once quiet.
    wait(reader, 15).until(lambda b: sorted(users(b)) == sorted(who(cluster.lb_port)))
