"""Fixtures for the browser tests: a real local cluster (redis-server, two
chat-node processes, HAProxy in front) and headless Chromium sessions."""

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class Cluster:
    """Redis, two nodes and HAProxy on loopback; nodes can be killed."""

    def __init__(self, workdir, node_args=()):
        self.workdir = Path(workdir)
        self.node_args = list(node_args)
        self.bin = subprocess.check_output(["swift", "build", "--show-bin-path"], cwd=ROOT, text=True).strip()
        self.redis_port = free_port()
        self.lb_port = free_port()
        self.node_ports = [free_port(), free_port()]
        self.processes = {}

    def start(self):
        self.processes["redis"] = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.redis_port)
        for index, port in enumerate(self.node_ports, start=1):
            log = open(self.workdir / f"node-{index}.log", "w")
            self.processes[f"node-{index}"] = subprocess.Popen(
                [f"{self.bin}/chat-node", "--port", str(port), "--redis", f"redis://127.0.0.1:{self.redis_port}",
                 "--node-id", f"node-{index}", "--node-ttl", "2", *self.node_args],
                stdout=subprocess.DEVNULL, stderr=log)
            wait_for_port(port)
        config = subprocess.check_output(
            ["bash", str(ROOT / "scripts/local-haproxy-config.sh"), str(self.lb_port), *map(str, self.node_ports)], text=True)
        config_path = self.workdir / "haproxy.cfg"
        config_path.write_text(config)
        haproxy = "/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else "haproxy"
        self.processes["haproxy"] = subprocess.Popen([haproxy, "-f", str(config_path), "-db"],
                                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.lb_port)
        time.sleep(2.5)  # let HAProxy's health checks mark both nodes up

    @property
    def url(self):
        return f"http://127.0.0.1:{self.lb_port}/"

    def node_port(self, node_id):
        """The port of a node (`node-1`, `node-2`), to reach it without the load balancer."""
        return self.node_ports[int(node_id.split("-")[1]) - 1]

    def kill_node(self, node_id):
        process = self.processes[node_id]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self):
        for name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


@pytest.fixture(scope="module")
def cluster(request):
    """One cluster per test module; a module's `NODE_ARGS` are extra flags for its nodes."""
    with tempfile.TemporaryDirectory() as workdir:
        running = Cluster(workdir, getattr(request.module, "NODE_ARGS", ()))
        try:
            running.start()
            yield running
        finally:
            running.stop()


def make_browser(width=1280, height=900):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


@pytest.fixture(scope="module")
def browsers():
    opened = []

    def open_browser(**kwargs):
        browser = make_browser(**kwargs)
        opened.append(browser)
        return browser

    yield open_browser
    for browser in opened:
        browser.quit()


def screenshot(browser, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))
