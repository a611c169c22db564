"""`checkpoint run` as a process: it listens on 127.0.0.1 only, starts without camera or bundle and says so,
refuses bad options with one line, and stops promptly on SIGTERM even with the page's event stream open."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKPASS_", "CHECKPOINT_"))}
    return env | {"CHECKPOINT_HOME": str(home)}


def _run(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "checkpoint"), "run", "--no-browser", *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lang", "fr"], "--lang 'fr': choose zh or en"),
        (["--decoder", "magic"], "magic"),
        (["--port", "70000"], "65535"),  # typer checks the range itself
    ],
)
def test_bad_options_get_one_line_and_exit_2(tmp_path, args, message):
    done = _run(tmp_path, "--source", "none", *args)
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        done = _run(tmp_path, "--source", "none", "--port", str(busy.getsockname()[1]))
    assert done.returncode == 2 and "already running" in done.stderr and "Traceback" not in done.stderr


def test_the_screen_listens_on_loopback_only_and_stops_on_sigterm(tmp_path):
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN / "checkpoint"), "run", "--no-browser", "--source", str(tmp_path / "no-such-video.avi"),
         "--port", str(port)],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(200):
            try:
                page = httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail(f"the screen did not start: {process.stderr.read() if process.stderr else ''}")
        assert page.status_code == 200 and "卡口查验" in page.text
        token = re.search(r'name="screen-token" content="([^"]+)"', page.text).group(1)
        header = httpx.get(f"{url}api/overview", headers={"X-Screen-Token": token}).json()
        assert header["bundle"]["state"] == "BUNDLE_MISSING"  # starts anyway and says how to get one
        hint = httpx.get(f"{url}api/vehicle", headers={"X-Screen-Token": token})
        assert hint.status_code == 200
        with pytest.raises(httpx.ConnectError):  # another loopback address: nothing listens there
            httpx.get(f"http://127.0.0.2:{port}/", timeout=2)
        with httpx.stream("GET", f"{url}api/events", params={"token": token}, timeout=10) as events:
            lines = events.iter_lines()
            assert next(lines).startswith("retry:")
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)  # an open event stream must not keep the screen from stopping
        assert process.returncode == 0
        out, err = process.communicate()
        assert "officer's screen: http://127.0.0.1:" in out
        assert "no-such-video.avi" in err and "starts without a camera" in err
    finally:
        if process.poll() is None:
            process.kill()


def test_dark_frames_bring_the_torch_hint(tmp_path):
    import json

    import cv2
    import numpy as np

    from tests import factories
    from tests.framegen import render_frame

    folder = tmp_path / "night"
    folder.mkdir()
    text = factories.signed()[0]
    for index in range(10):
        image = render_frame(text, "dark", 1.0, np.random.default_rng(index))
        cv2.imwrite(str(folder / f"{index:02d}.jpg"), image)
    port = _free_port()
    process = subprocess.Popen(
        [
            str(BIN / "checkpoint"),
            "run",
            "--no-browser",
            "--source",
            str(folder),
            "--loop",
            "--port",
            str(port),
        ],
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(200):
            try:
                token = re.search(r'screen-token" content="([^"]+)"', httpx.get(url, timeout=1).text).group(1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        hints = []
        with httpx.stream("GET", f"{url}api/events", params={"token": token}, timeout=20) as events:
            kind = None
            for line in events.iter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and kind == "camera":
                    hints.append(json.loads(line.removeprefix("data: ")))
                    if hints[-1]["too_dark"]:
                        break
        assert hints[-1] == {"present": True, "too_dark": True, "detected_unread": hints[-1]["detected_unread"],
                             "error": None, "ended": False}  # fmt: skip
        picture = httpx.get(f"{url}api/camera.jpg", params={"token": token})
        assert picture.status_code == 200 and picture.content[:2] == b"\xff\xd8"  # the live picture, JPEG
    finally:
        process.terminate()
        process.wait(timeout=15)
