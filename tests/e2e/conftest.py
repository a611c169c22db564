"""Browser tests: a real `checkpass serve` on 127.0.0.1 with demo data, driven in Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import logscan

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"
# Flags for a headless Chromium in a closed network (no background connections to look up Google's hosts).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[dict]:
    """A real server process on demo data; yields its base URL, home folder and environment."""
    home = tmp_path_factory.mktemp("bureau")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKPASS_", "CHECKPOINT_"))}
    env |= {"CHECKPASS_HOME": str(home), "CHECKPOINT_HOME": str(home)}
    subprocess.run(
        [str(BIN / "checkpass"), "demo", "--no-video", "--out", str(home / "demo-out")],
        env=env,
        cwd=home,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    # The server's log lines (stderr), scanned for personal data when the session ends (tests/logscan.py).
    log_path = logscan.track(home / "server.log")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [str(BIN / "checkpass"), "serve", "--port", str(port)],
            env=env,
            cwd=home,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail(f"the server did not start: {log_path.read_text(errors='replace')}")
    yield {"url": base, "home": home, "env": env}
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        message = f"Debian's chromium is not installed at {CHROMIUM} (scripts/system-deps.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """new_page(lang="zh", phone=False) -> a fresh browser page (own cookies) in that language."""
    contexts = []

    def make(lang: str = "zh", phone: bool = False):
        options = {"locale": "zh-CN" if lang == "zh" else "en-GB"}
        if phone:
            options |= {
                "viewport": {"width": 390, "height": 844},
                "device_scale_factor": 2,
                "is_mobile": True,
            }
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
