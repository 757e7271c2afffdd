"""An automated accessibility check (axe-core) of the web client's main states:
no serious or critical violation."""

from axe_selenium_python import Axe
from selenium.webdriver.common.by import By

from test_rooms import join_room, title
from test_web_client import join, send, wait, wait_joined, wait_text


def serious_violations(browser):
    axe = Axe(browser)
    axe.inject()
    results = axe.run()
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(node["target"][0] for node in violation["nodes"][:3])
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def test_the_nick_prompt_has_no_serious_accessibility_violation(cluster, browsers):
    browser = browsers()
    browser.get(cluster.url)
    wait(browser).until(lambda b: b.find_element(By.ID, "nick-input").is_displayed())
    assert serious_violations(browser) == []


def test_a_joined_page_with_rooms_and_messages_has_no_serious_accessibility_violation(cluster, browsers):
    browser = browsers()
    join(browser, cluster.url, "reader")
    wait_joined(browser)
    join_room(browser, "a11y")
    send(browser, "hello, screen readers")
    wait_text(browser, "hello, screen readers")
    assert title(browser) == "#a11y"
    assert serious_violations(browser) == []


def test_the_phone_layout_has_no_serious_accessibility_violation(cluster, browsers):
    phone = browsers(width=390, height=844)
    join(phone, cluster.url, "thumbs")
    wait_joined(phone)
    phone.find_element(By.ID, "members-toggle").click()
    assert serious_violations(phone) == []
