"""The web client's rooms (chat.v3.json, PROTOCOL.md §6) in a real browser
against a real local cluster whose rooms turn large above 5 members."""

import threading
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import screenshot
from raw_client import RawClient
from test_web_client import join, message_texts, send, users, wait, wait_joined, wait_text

NODE_ARGS = ["--large-room", "5"]


def tabs(browser):
    """The joined rooms as the sidebar shows them: (name, unread count), read in one script."""
    shown = browser.execute_script("""
        return [...document.querySelectorAll('#room-tabs button')].map((button) => {
          const badge = button.querySelector('.unread');
          return [button.querySelector('.room-name').textContent, badge ? Number(badge.textContent) : 0];
        });""")
    return [(name.lstrip("#"), unread) for name, unread in shown]


def title(browser):
    return browser.find_element(By.ID, "room-title").text


def open_room_tab(browser, name):
    next(b for b in browser.find_elements(By.CSS_SELECTOR, "#room-tabs button")
         if b.find_element(By.CSS_SELECTOR, ".room-name").text == f"#{name}").click()
    wait(browser).until(lambda b: title(b) == f"#{name}")


def join_room(browser, name):
    field = browser.find_element(By.ID, "room-input")
    field.clear()
    field.send_keys(name, Keys.ENTER)
    wait(browser).until(lambda b: title(b) == f"#{name}" and (name, 0) in tabs(b))


class State:
    alice = None
    bob = None


def test_the_room_in_the_address_is_joined_and_shown(cluster, browsers):
    alice = browsers()
    join(alice, cluster.url + "#swift", "alice")
    wait_joined(alice)
    wait(alice).until(lambda b: tabs(b) == [("swift", 0)] and title(b) == "#swift")
    wait(alice).until(lambda b: users(b) == ["alice"])
    assert alice.find_element(By.ID, "protocol-version").text == "chat.v3.json"
    State.alice = alice


def test_joining_by_name_switching_rooms_and_unread_counts(cluster, browsers):
    alice = State.alice
    bob = browsers()
    join(bob, cluster.url, "bob")
    wait_joined(bob)
    wait(bob).until(lambda b: tabs(b) == [("lobby", 0)] and title(b) == "#lobby")
    join_room(bob, "swift")
    assert bob.current_url.endswith("#swift")
    assert tabs(bob) == [("lobby", 0), ("swift", 0)]
    wait(alice).until(lambda b: users(b) == ["alice", "bob"])
    State.bob = bob

    open_room_tab(bob, "lobby")
    send(bob, "only for the lobby")
    wait_text(bob, "only for the lobby")
    for text in ("one", "two", "three"):
        send(alice, text)
    wait(bob).until(lambda b: tabs(b) == [("lobby", 0), ("swift", 3)])
    assert "one" not in message_texts(bob), "another room's lines stay out of the room shown"
    screenshot(bob, "desktop-rooms-unread")

    open_room_tab(bob, "swift")
    wait(bob).until(lambda b: tabs(b) == [("lobby", 0), ("swift", 0)])
    wait_text(bob, "three")
    assert [t for t in message_texts(bob) if t in ("one", "two", "three")] == ["one", "two", "three"]
    assert "only for the lobby" not in message_texts(alice), "alice is not in the lobby"


def test_the_room_browser_lists_rooms_and_joins_one_with_a_click(cluster):
    alice = State.alice
    alice.find_element(By.ID, "browse-rooms").click()
    entries = lambda b: [" ".join(e.text.split()) for e in b.find_elements(By.CSS_SELECTOR, "#room-browser button")]
    wait(alice).until(lambda b: "#swift 2 members · joined" in entries(b))
    assert any(e.startswith("#lobby") for e in entries(alice))
    next(e for e in alice.find_elements(By.CSS_SELECTOR, "#room-browser button") if e.text.startswith("#lobby")).click()
    wait(alice).until(lambda b: title(b) == "#lobby" and [name for name, _ in tabs(b)] == ["swift", "lobby"])
    wait_text(alice, "only for the lobby")


def test_leaving_a_room_removes_it_and_tells_its_members(cluster):
    alice, bob = State.alice, State.bob
    open_room_tab(alice, "swift")
    open_room_tab(bob, "swift")
    bob.find_element(By.ID, "part-room").click()
    wait(bob).until(lambda b: tabs(b) == [("lobby", 0)] and title(b) == "#lobby")
    wait(alice).until(lambda b: users(b) == ["alice"])
    wait_text(alice, "bob left")


def test_a_reloaded_page_rejoins_its_rooms_with_its_nick(cluster):
    bob = State.bob
    join_room(bob, "rust")
    bob.refresh()
    wait_joined(bob)
    wait(bob).until(lambda b: [name for name, _ in tabs(b)] == ["lobby", "rust"] and title(b) == "#rust")
    assert bob.find_element(By.CSS_SELECTOR, "#users .me").text == "bob"
    send(bob, "back after a reload")
    wait_text(bob, "back after a reload")


def test_a_large_room_shows_a_count_and_pages_a_search_of_its_members(cluster, browsers):
    crowd = []
    try:
        for index in range(60):
            guest = RawClient(cluster.node_ports[index % 2])
            guest.hello(f"guest{index:02}")
            guest.join("big")
            crowd.append(guest)
        carol = browsers()
        join(carol, cluster.url + "#big", "carol")
        wait_joined(carol)
        more = lambda b: b.find_element(By.ID, "users-more").text
        wait(carol).until(lambda b: "61 members" in more(b))

        search = carol.find_element(By.ID, "user-filter")
        search.send_keys("GUEST")
        wait(carol).until(lambda b: len(users(b)) == 50)
        assert users(carol) == [f"guest{index:02}" for index in range(50)]
        carol.find_element(By.ID, "users-next").click()
        wait(carol).until(lambda b: len(users(b)) == 60)
        assert users(carol)[50:] == [f"guest{index:02}" for index in range(50, 60)]
        wait(carol).until(lambda b: not b.find_element(By.ID, "users-next").is_displayed())
        screenshot(carol, "desktop-large-room")

        search.send_keys(Keys.BACKSPACE, "5")  # "GUES5" matches nobody
        wait(carol).until(lambda b: users(b) == [])
        search.clear()
        search.send_keys("guest5")
        wait(carol).until(lambda b: users(b) == [f"guest5{digit}" for digit in range(10)])

        # Counts follow departures; at 4 members (nine tenths of 5, rounded down) the list returns.
        for guest in crowd[:20]:
            guest.close()
        wait(carol, 20).until(lambda b: "41 members" in more(b))
        search.send_keys(Keys.CONTROL, "a", Keys.DELETE)
        for guest in crowd[20:57]:
            guest.close()
        wait(carol, 20).until(lambda b: users(b) == ["carol", "guest57", "guest58", "guest59"])
        assert "large room" not in more(carol)
    finally:
        for guest in crowd:
            guest.close()


def test_a_page_whose_node_dies_while_its_room_is_busy_shows_every_line_once_in_order(cluster, browsers):
    reader = browsers()
    join(reader, cluster.url + "#busy", "reader")
    reader_node = wait_joined(reader)
    wait(reader).until(lambda b: title(b) == "#busy")
    other = "node-2" if reader_node == "node-1" else "node-1"
    pump = RawClient(cluster.node_port(other))
    pump.hello("pump")
    pump.join("busy")
    expected = [f"busy-{index}" for index in range(40)]

    def send_steadily():
        for text in expected:
            pump.send({"type": "say", "room": "busy", "text": text})
            time.sleep(0.12)  # within the rate limit of 10 a second

    sender = threading.Thread(target=send_steadily)
    sender.start()
    wait_text(reader, "busy-5")
    cluster.kill_node(reader_node)
    sender.join()

    wait(reader, 40).until(lambda b: "Reconnected as reader" in " ".join(message_texts(b)))
    wait(reader, 15).until(lambda b: expected[-1] in message_texts(b))
    assert [text for text in message_texts(reader) if text.startswith("busy-")] == expected
    assert "may be missing" not in " ".join(message_texts(reader))
    pump.close()
