"""The web client (chat.v3.json, in the lobby): a page whose node dies resumes without
gaps, and its user list stays equal to the server's."""

from selenium.webdriver.common.by import By

from conftest import screenshot
from raw_client import RawClient
from test_web_client import join, message_texts, send, users, wait, wait_joined, wait_text


def who(port):
    """Asks the cluster for its user list over a raw v1 WebSocket, like any non-browser client."""
    auditor = RawClient(port, "chat.v1.json")
    try:
        auditor.hello("auditor")
        auditor.send({"type": "who"})
        return [nick for nick in auditor.wait_for("users")["users"] if nick != "auditor"]
    finally:
        auditor.close()


def test_a_page_whose_node_dies_shows_every_message_once_and_in_order(cluster, browsers):
    reader = browsers()
    join(reader, cluster.url, "reader")
    reader_node = wait_joined(reader)
    assert reader.find_element(By.ID, "protocol-version").text == "chat.v3.json"
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
