"""The officer's screen for browser tests: a real `checkpoint run` enrolled at the demo server's checkpoint,
fed by a folder of webcam-like frames of real issued passes (tests/framegen.py), one stray QR code at the end."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import httpx
import numpy as np
import pytest
import qrcode

from tests.e2e.conftest import BIN, _free_port
from tests.framegen import blank_frame, make_sequence
from tests.integration.client_helpers import Bureau

STRAY_QR = 'https://shop.example/pay?item=<b>茶叶</b>&n="1"'  # a payment code stuck on the windscreen
TWO_PEOPLE = {
    "enterprise": {"name": "昆山精密机械有限公司", "uscc": "91320583MA1XY71231"},
    "vehicle": {"plate": "苏E·F6789", "plate_colour": "blue"},
    "driver": {
        "name": "周建国",
        "id_number": "320583198503121234",
        "licence_number": "320583198503121234",
        "phone": "13800000001",
    },
    "escorts": [{"name": "吴芳", "id_number": "320583199007054567"}],
    "origin": "320583",
    "destination": "310000",
    "travel_history": ["320500"],
    "cargo": "精密零部件",
}
# The vehicles in the order the camera sees them.
ORDER = ("two-people", "kunshan", "wuhan", "forged")


def _stray_frames(count: int) -> list[np.ndarray]:
    code = np.array(qrcode.make(STRAY_QR, box_size=8, border=2).convert("L"))
    frames = []
    for k in range(count):
        frame = blank_frame(900 + k)
        y, x = 150 + 2 * k, 420 + 3 * k
        frame[y : y + code.shape[0], x : x + code.shape[1]] = cv2.cvtColor(code, cv2.COLOR_GRAY2BGR)
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def camera_folder(server, tmp_path_factory) -> dict:
    """Frames of the demo passes (and a two-person pass issued for the common case) as a camera would see them."""
    home: Path = server["home"]
    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0)
    application = TWO_PEOPLE | {
        "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=7)).isoformat(),
    }
    (home / "two-people.json").write_text(json.dumps(application, ensure_ascii=False), encoding="utf-8")
    subprocess.run(
        [
            str(BIN / "checkpass"),
            "issue",
            str(home / "two-people.json"),
            "--out",
            str(home / "demo-out" / "two-people"),
        ],
        env=server["env"],
        cwd=home,
        check=True,
        capture_output=True,
        timeout=120,
    )
    texts = {name: (home / "demo-out" / name / "pass.txt").read_text().strip() for name in ORDER}
    folder = tmp_path_factory.mktemp("camera")
    # Each pass in view for 2 s at 10 frames/s, as an officer holds it up: a busy machine may drop frames.
    frames = [f.image for f in make_sequence([texts[name] for name in ORDER], hold=20, gap=8, seed=3)]
    frames += _stray_frames(20) + [blank_frame(990 + k) for k in range(4)]
    for index, image in enumerate(frames):
        cv2.imwrite(str(folder / f"frame-{index:04d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return {"folder": folder, "texts": texts}


def start_screen(server: dict, home: Path, source: Path, lang: str, checkpoint: str) -> dict:
    """A new laptop (state in ``home``) enrolled at a new checkpoint, running `checkpoint run` on ``source``."""
    home.mkdir(parents=True, exist_ok=True)
    env = server["env"] | {"CHECKPOINT_HOME": str(home)}
    bureau = Bureau(server["url"])
    code = bureau.code(bureau.checkpoint(checkpoint))
    enrol = [str(BIN / "checkpoint"), "enroll", "--server", server["url"], "--code", code]
    subprocess.run(
        [*enrol, "--name", f"笔记本 {lang}"], env=env, cwd=home, check=True, capture_output=True, timeout=60
    )
    port = _free_port()
    command = [str(BIN / "checkpoint"), "run", "--source", str(source), "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--no-browser", "--lang", lang, "--fps", "10"],
        env=env,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/"
    wait_serving(url, process)
    return {"url": url, "home": home, "bureau": bureau, "process": process}


def wait_serving(url: str, process: subprocess.Popen) -> None:
    """Until `checkpoint run` answers at ``url``; the test fails with its error output if it never does."""
    for _ in range(200):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"the screen did not start: {process.communicate()[1].decode()}")


def stop_screen(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("`checkpoint run` did not stop on SIGTERM within 15 s")


@pytest.fixture
def officer_screen(server, camera_folder, tmp_path) -> Iterator:
    """start(lang) -> the screen's URL: a new laptop enrolled at a new checkpoint, running `checkpoint run`."""
    processes = []

    def start(lang: str) -> dict:
        home = tmp_path / f"laptop-{lang}"
        screen = start_screen(server, home, camera_folder["folder"], lang, f"G312 昆山东卡口 {lang}")
        processes.append(screen["process"])
        return screen

    yield start
    for process in processes:
        stop_screen(process)
