"""The whole journey in a real browser: an enterprise registers, is verified, applies; a reviewer approves; the
enterprise downloads the printable PDF; the QR on the rendered page verifies with `checkpoint verify` and
`checkpoint scan`; an officer's laptop scans the page from an image source, the officer decides on the screen,
the decision syncs, and the auditor finds the crossing on the server."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from tests.e2e.conftest import BIN, screenshot
from tests.e2e.screen_fixtures import start_screen, stop_screen
from tests.e2e.test_portal_basics import sign_in
from tests.integration.client_helpers import DEMO_PASSWORD

USCC = "91320583MA1MQ3K8DC"
PASSWORD = "journey-password-1"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_register_verify_apply_approve_download_scan_decide_sync(server, new_page, tmp_path):
    base = server["url"]

    # 1. The enterprise registers (on a phone).
    clerk = new_page(phone=True)
    clerk.goto(f"{base}/register")
    for field, value in (
        ("name", "昆山新材料科技有限公司"),
        ("uscc", USCC),
        ("region", "320583"),
        ("contact", "周敏"),
        ("phone", "0512-5550 1234"),
        ("username", "newco-clerk"),
        ("password", PASSWORD),
    ):
        clerk.fill(f"#f-{field}", value)
    clerk.click("button.primary")
    assert clerk.locator("h1").inner_text() == "注册已提交"

    # 2. An administrator verifies it.
    admin = new_page()
    sign_in(admin, base, "demo-admin")
    admin.goto(f"{base}/admin/enterprises")
    screenshot(admin, "admin-enterprises-zh")
    admin.click(f"form[action='/admin/enterprises/{USCC}/verify'] button")
    admin.wait_for_load_state()

    # 3. The clerk applies: driver and one escort, from Kunshan to Shanghai, for a week.
    clerk.goto(f"{base}/login")
    clerk.fill("#f-username", "newco-clerk")
    clerk.fill("#f-password", PASSWORD)
    clerk.click("button.primary")
    clerk.goto(f"{base}/enterprise/applications/new")
    start = datetime.now(SHANGHAI).replace(second=0, microsecond=0)
    for field, value in (
        ("plate", "苏E·D2468"),
        ("driver_name", "孙磊"),
        ("driver_id_number", "320583198503121234"),
        ("driver_licence_number", "320583198503121234"),
        ("driver_phone", "13800001111"),
        ("escort_name_0", "李娜"),
        ("escort_id_number_0", "320583199007054567"),
        ("origin", "320583"),
        ("destination", "310000"),
        ("travel_history", "320500"),
        ("cargo", "新材料样品"),
        ("valid_from", start.strftime("%Y-%m-%dT%H:%M")),
        ("valid_until", (start + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")),
    ):
        clerk.fill(f"#f-{field}", value)
    screenshot(clerk, "apply-phone-zh")
    clerk.click("button[name=action][value=submit]")
    clerk.wait_for_url("**/enterprise/applications/*")
    application_id = clerk.url.split("/enterprise/applications/")[1].split("?")[0].split("/")[0]
    assert application_id.isdigit()

    # 4. A reviewer finds it in the queue and approves it.
    reviewer = new_page()
    sign_in(reviewer, base, "demo-reviewer")
    reviewer.goto(f"{base}/review/queue")
    assert "苏E·D2468" in reviewer.content()
    screenshot(reviewer, "review-queue-zh")
    reviewer.goto(f"{base}/review/applications/{application_id}")
    assert "320583198503121234" in reviewer.content()  # the reviewer's screen is where full numbers belong
    screenshot(reviewer, "review-detail-zh")
    reviewer.click(f"form[action='/review/applications/{application_id}/approve'] button")
    reviewer.click("dialog.desk-confirm button.primary")  # approval asks for confirmation (issue 13)
    reviewer.wait_for_url("**notice=issued**")

    # 5. The clerk opens the issued pass and downloads the PDF.
    clerk.goto(f"{base}/enterprise/applications/{application_id}")
    clerk.click("a[href^='/enterprise/passes/']")
    clerk.wait_for_url("**/enterprise/passes/*")
    screenshot(clerk, "pass-detail-phone-zh")
    assert "320583198503121234" not in clerk.content()  # masked on the enterprise's pages
    with clerk.expect_download() as download:
        clerk.click("a.button.primary[href$='/pdf']")
    pdf = tmp_path / "pass.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")

    # 6. A checkpoint verifies the printed page: render it to an image and scan that.
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf), str(tmp_path / "page")], check=True
    )
    (tmp_path / "bundle.cose").write_bytes(httpx.get(f"{base}/api/v1/trust-bundle").content)
    env = dict(server["env"]) | {"CHECKPOINT_HOME": str(tmp_path / "checkpoint")}
    root = server["home"] / "keys" / "root.pub.pem"
    subprocess.run(
        [str(BIN / "checkpoint"), "bundle", "import", str(tmp_path / "bundle.cose"), "--root", str(root)],
        env=env,
        check=True,
        capture_output=True,
    )
    verified = subprocess.run(
        [str(BIN / "checkpoint"), "verify", str(tmp_path / "page.png"), "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["valid"] is True
    assert report["claims"]["plate"] == "苏E·D2468"
    assert report["claims"]["enterprise_name"] == "昆山新材料科技有限公司"

    # 7. The rendered page as a camera source: `checkpoint scan` reads it headless, then an officer's laptop,
    #    enrolled at a checkpoint, scans it on the screen; the officer takes two temperatures and decides.
    camera = tmp_path / "camera"
    camera.mkdir()
    shutil.copy(tmp_path / "page.png", camera / "page.png")
    scanned = subprocess.run(
        [str(BIN / "checkpoint"), "scan", "--source", str(camera), "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert scanned.returncode == 0, scanned.stderr
    line = json.loads(scanned.stdout.splitlines()[0])
    assert line["valid"] is True and line["pass_id"] == report["pass_id"] and line["source"] == "page.png"
    screen = start_screen(server, tmp_path / "laptop", camera, "zh", "G312 旅程测试卡口")
    try:
        officer = new_page()
        officer.goto(screen["url"])
        officer.wait_for_selector("body[data-vehicle]")
        assert "苏E·D2468" in officer.locator("#plate-line").inner_text()
        for key in ("3", "6", "5", "Enter", "3", "6", "6", "Enter", "Enter", "Enter"):
            officer.keyboard.press(key)
        officer.wait_for_selector("#outcome:not([hidden])")
        assert officer.get_attribute("#outcome", "data-outcome") == "RELEASE"
        screenshot(officer, "journey-checkpoint-release-zh")
        officer.click("#sync-now")

        # 8. The auditor finds it on the server, as the officer decided it.
        auditor = httpx.Client(base_url=base, timeout=30)
        token = auditor.post(
            "/api/v1/auth/token", json={"username": "demo-auditor", "password": DEMO_PASSWORD}
        )
        auditor.headers["authorization"] = f"Bearer {token.json()['token']}"
        items: list = []
        for _ in range(150):  # the upload runs in the screen's background thread
            items = auditor.get("/api/v1/audit/crossings", params={"pass": report["pass_id"]}).json()["items"]
            if items:
                break
            time.sleep(0.2)
        assert len(items) == 1, "the crossing did not reach the server"
        assert items[0]["outcome"] == "RELEASE" and items[0]["plate"] == "苏ED2468"  # stored normalised
    finally:
        stop_screen(screen["process"])


def test_main_pages_in_english(server, new_page):
    base = server["url"]
    for username, paths in (
        (
            "demo-enterprise",
            [
                "/enterprise/applications",
                "/enterprise/applications/new",
                "/enterprise/passes",
                "/enterprise/escorts",
            ],
        ),
        ("demo-reviewer", ["/review/queue", "/review/escorts"]),
        ("demo-admin", ["/admin/enterprises", "/admin/keys", "/admin/policy", "/admin/checkpoints"]),
    ):
        page = new_page(lang="en")
        sign_in(page, base, username, lang="en")
        for path in paths:
            response = page.goto(f"{base}{path}?lang=en")
            assert response is not None and response.status == 200, path
            assert "车辆通行证系统" not in page.locator("header").inner_text()  # the chrome is in English
            screenshot(page, f"{path.strip('/').replace('/', '-')}-en")
