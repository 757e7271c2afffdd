"""The web client in a real browser against a real local cluster."""

import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as conditions
from selenium.webdriver.support.ui import WebDriverWait

from conftest import screenshot

XSS_IMG = '<img src=x onerror="window.pwned=1">'
XSS_SCRIPT = "<script>window.pwned=1</script>"


def wait(browser, timeout=15):
    return WebDriverWait(browser, timeout, poll_frequency=0.1)


def join(browser, url, nick):
    browser.get(url)
    field = wait(browser).until(conditions.element_to_be_clickable((By.ID, "nick-input")))
    field.clear()
    field.send_keys(nick)
    browser.find_element(By.ID, "join-button").click()


def wait_joined(browser):
    wait(browser).until(conditions.visibility_of_element_located((By.ID, "chat-room")))
    wait(browser).until(lambda b: b.find_element(By.ID, "node-id").text not in ("", "–"))
    return browser.find_element(By.ID, "node-id").text


def users(browser):
    # Read in one script: the list is redrawn as presence arrives, so element handles go stale.
    return browser.execute_script("return [...document.querySelectorAll('#users button')].map((b) => b.textContent)")


def message_texts(browser, css="#messages .message .text"):
    return [item.text for item in browser.find_elements(By.CSS_SELECTOR, css)]


def send(browser, text):
    box = browser.find_element(By.ID, "message-input")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def wait_text(browser, text, css="#messages .message .text", timeout=15):
    wait(browser, timeout).until(lambda b: text in message_texts(b, css))


class State:
    alice = None
    bob = None
    alice_node = None
    bob_node = None


def test_two_browsers_on_two_nodes_chat_and_whisper(cluster, browsers):
    alice = browsers()
    join(alice, cluster.url, "alice")
    State.alice_node = wait_joined(alice)
    # leastconn sends the second WebSocket to the other node; retry if it did not.
    for attempt in range(6):
        bob = browsers()
        join(bob, cluster.url, f"bob{attempt}" if attempt else "bob")
        State.bob_node = wait_joined(bob)
        if State.bob_node != State.alice_node:
            break
        bob.quit()
    assert State.bob_node != State.alice_node, "both browsers landed on the same node"
    bob_nick = bob.find_element(By.CSS_SELECTOR, "#users .me").text
    State.alice, State.bob = alice, bob

    wait(alice).until(lambda b: bob_nick in users(b))
    assert "alice" in users(bob)

    send(alice, "hello from alice")
    wait_text(bob, "hello from alice")
    send(bob, "hi alice, bob here")
    wait_text(alice, "hi alice, bob here")

    # Bob clicks alice in the user list and whispers.
    next(b for b in bob.find_elements(By.CSS_SELECTOR, "#users button") if b.text == "alice").click()
    assert bob.find_element(By.ID, "target").text == "To: alice (private)"
    send(bob, "just between us")
    wait_text(alice, "just between us", css="#messages .message.direct .text")
    wait_text(bob, "just between us", css="#messages .message.direct .text")
    bob.find_element(By.ID, "clear-target").click()
    assert bob.find_element(By.ID, "target").text == "To: everyone"
    screenshot(alice, "desktop-alice")
    screenshot(bob, "desktop-bob")


def test_markup_in_messages_is_shown_as_text_and_never_runs(cluster):
    alice, bob = State.alice, State.bob
    send(alice, XSS_IMG)
    send(alice, XSS_SCRIPT)
    for browser in (alice, bob):
        wait_text(browser, XSS_IMG)
        wait_text(browser, XSS_SCRIPT)
        assert browser.execute_script("return typeof window.pwned") == "undefined"
        assert not browser.find_elements(By.CSS_SELECTOR, "#messages img, #messages script")
    screenshot(bob, "desktop-xss")


def test_killing_a_node_makes_its_browser_reconnect_and_keep_chatting(cluster):
    alice, bob = State.alice, State.bob
    cluster.kill_node(State.alice_node)
    # The page notices, reconnects through the load balancer and takes its nick back.
    wait(alice, 30).until(lambda b: "Reconnected as alice" in " ".join(message_texts(b)))
    new_node = alice.find_element(By.ID, "node-id").text
    assert new_node == State.bob_node
    screenshot(alice, "desktop-reconnected")
    send(alice, "still here after the crash")
    wait_text(bob, "still here after the crash", timeout=20)
    wait(bob).until(lambda b: "alice" in users(b))


def test_a_nick_clash_is_shown_next_to_the_field(cluster, browsers):
    carol = browsers()
    join(carol, cluster.url, "ALICE")
    error = wait(carol).until(conditions.visibility_of_element_located((By.ID, "nick-error")))
    wait(carol).until(lambda b: "already taken" in b.find_element(By.ID, "nick-error").text)
    assert not carol.find_element(By.ID, "chat-room").is_displayed()
    screenshot(carol, "desktop-nick-taken")


def test_invalid_nick_is_refused_before_sending(cluster, browsers):
    dave = browsers()
    join(dave, cluster.url, "bad nick!")
    wait(dave).until(lambda b: b.find_element(By.ID, "nick-error").text != "")
    assert not dave.find_element(By.ID, "chat-room").is_displayed()


def test_phone_width_layout(cluster, browsers):
    phone = browsers(width=390, height=844)
    join(phone, cluster.url, "pocket")
    wait_joined(phone)
    send(phone, "typing on a phone")
    wait_text(phone, "typing on a phone")
    # No horizontal scrolling at phone width.
    assert phone.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(phone, "phone")
