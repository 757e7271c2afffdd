"""The web client's login (PROTOCOL.md §7) in a real browser, against a
cluster whose nodes require tokens signed with a shared secret. Tokens are
signed here, with Python's hmac, not by the node's own code."""

import base64
import hashlib
import hmac
import json
import os
import tempfile
import time

from selenium.webdriver.common.by import By

from conftest import screenshot
from test_web_client import join, users, wait, wait_joined

SECRET = os.urandom(32).hex().encode()
_secret_file = tempfile.NamedTemporaryFile(prefix="chat-secret-", delete=False)
_secret_file.write(SECRET + b"\n")
_secret_file.close()
NODE_ARGS = ["--auth-key", f"hs256:{_secret_file.name}"]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(sub, nick=None, expires_in=3600):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": sub, "exp": int(time.time() + expires_in)}
    if nick:
        claims["nick"] = nick
    payload = b64url(json.dumps(claims).encode())
    signature = hmac.new(SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def nick_error(browser):
    return browser.find_element(By.ID, "nick-error").text


def test_without_a_token_the_page_says_how_to_sign_in(cluster, browsers):
    browser = browsers()
    join(browser, cluster.url, "nobody")
    wait(browser).until(lambda b: "sign in" in nick_error(b))
    assert browser.find_element(By.ID, "join-form").is_displayed()
    screenshot(browser, "login-required")


def test_a_token_in_the_address_logs_in_and_leaves_the_address_at_once(cluster, browsers):
    browser = browsers()
    browser.get(cluster.url + "#token=" + token("user-1", nick="Åsa") + "&swift")
    wait(browser).until(lambda b: "token=" not in b.current_url)
    assert browser.current_url.endswith("#swift")
    field = browser.find_element(By.ID, "nick-input")
    assert field.get_attribute("value") == "Åsa"
    browser.find_element(By.ID, "join-button").click()
    wait_joined(browser)
    wait(browser).until(lambda b: b.find_element(By.ID, "room-title").text == "#swift" and users(b) == ["Åsa"])
    # A reload keeps the tab's token (sessionStorage), though the address no longer has it.
    browser.refresh()
    wait_joined(browser)
    wait(browser).until(lambda b: users(b) == ["Åsa"])


def test_an_expired_token_is_explained(cluster, browsers):
    browser = browsers()
    join(browser, cluster.url + "#token=" + token("user-2", expires_in=-600), "late")
    wait(browser).until(lambda b: "expired" in nick_error(b))
    assert "token=" not in browser.current_url
