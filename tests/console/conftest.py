"""Real processes for the console tests: ``closeout serve``, ``closeout console``, Chromium.

``stack`` starts a server (examples/server/scenarios.toml, a fresh journal, free ports) and a
console pointed at it, both as child processes of this interpreter, and stops them by PID.
``browser`` is headless Debian Chromium driven through Debian's chromedriver; when either is
missing the tests FAIL (``.ci/run`` installs them): a browser test that skips proves nothing.

Set ``CLOSEOUT_SCREENSHOTS=DIR`` to save screenshots of the main pages there (the README's
``docs/img`` are made this way).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]
CLOSEOUT = [sys.executable, "-c", "from clients.cli import main; main()"]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PATIENCE = 60.0  # a guard against a hung child process, not a measurement
SCENARIOS = ROOT / "examples" / "server" / "scenarios.toml"
DEFAULTS = ROOT / "examples" / "server" / "default.toml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEOUT_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


@dataclass
class Stack:
    """A running server and console: where they listen, their logs."""

    server: str
    console: str
    metrics: str
    server_log: Path
    console_log: Path

    def url(self, path: str) -> str:
        return f"http://{self.console}{path}"


def _wait_for(log: Path, pattern: str, proc: subprocess.Popen[bytes]) -> re.Match[str]:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        if found := re.search(pattern, text):
            return found
        if proc.poll() is not None:
            pytest.fail(f"{proc.args!r} exited ({proc.returncode}):\n{text}")
        time.sleep(0.05)
    pytest.fail(f"no {pattern!r} in {log} after {PATIENCE}s")


def start_stack(tmp: Path, config: Path) -> Iterator[Stack]:
    """Server + console processes; stopped (by PID) when the generator closes."""
    server_log, console_log = tmp / "serve.log", tmp / "console.log"
    metrics = f"127.0.0.1:{free_port()}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with server_log.open("wb") as out:
            serve = subprocess.Popen(
                [*CLOSEOUT, "serve", "--config", str(config), "--listen", "127.0.0.1:0",
                 "--journal", str(tmp / "journal.sqlite"), "--metrics", metrics],
                env=_env(), stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        procs.append(serve)
        port = _wait_for(server_log, r"serving on 127\.0\.0\.1:(\d+)", serve).group(1)
        server = f"127.0.0.1:{port}"
        console_addr = f"127.0.0.1:{free_port()}"
        with console_log.open("wb") as out:
            console = subprocess.Popen(
                [*CLOSEOUT, "console", "--server", server, "--listen", console_addr,
                 "--public-token", "demo-observer-token"],
                env=_env(), stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        procs.append(console)
        _wait_for(console_log, r"Uvicorn running on", console)
        httpx.get(f"http://{console_addr}/healthz", timeout=PATIENCE).raise_for_status()
        yield Stack(server, console_addr, metrics, server_log, console_log)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=PATIENCE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from start_stack(tmp_path_factory.mktemp("stack"), SCENARIOS)


def make_browser() -> webdriver.Chrome:
    """Headless Debian Chromium; fails (never skips) when it is not installed."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(
            f"browser tests need Debian's chromium and chromium-driver; missing {missing}"
            " (apt-get install -y chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1360,1000",
        "--force-device-scale-factor=1",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(PATIENCE)
    return driver


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    driver = make_browser()
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    """Save a full-page screenshot as ``$CLOSEOUT_SCREENSHOTS/<name>.png``, if asked."""
    target = os.environ.get("CLOSEOUT_SCREENSHOTS")
    if not target:
        return
    Path(target).mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1360, min(max(int(height) + 120, 700), 6000))
    driver.save_screenshot(str(Path(target) / f"{name}.png"))
    driver.set_window_size(1360, 1000)
