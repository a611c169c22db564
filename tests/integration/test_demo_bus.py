"""The demo's chartered bus (issue 14): `checkpass demo` issues it with the other demo passes, its manifest pages
beside it (manifest.txt and the pages of pass.pdf), and a checkpoint decides its scenario offline as
scripts/demo.sh does: every page verified, one passenger from Hubei into the enterprise's quarantine, one absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from passcore import manifest
from server.demo import bus as demo_bus

BIN = Path(sys.executable).parent


def test_the_demo_bus_is_issued_with_its_manifest_and_decided_offline(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKPASS_", "CHECKPOINT_"))}
    env |= {"CHECKPASS_HOME": str(tmp_path), "CHECKPOINT_HOME": str(tmp_path / "laptop")}

    def run(program: str, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / program), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    out = tmp_path / "demo-out"
    assert "bus" in run("checkpass", "demo", "--no-video", "--out", str(out))
    bus = out / "bus"
    pages = (bus / "manifest.txt").read_text(encoding="ascii").splitlines()
    listed = len(demo_bus.application({})["passengers"])
    assert len(pages) == -(-listed // manifest.PASSENGERS_PER_PAGE) == 2
    claims = json.loads((bus / "pass.json").read_text(encoding="utf-8"))
    assert claims["plate"] == demo_bus.BUS_PLATE
    info = subprocess.run(["pdfinfo", str(bus / "pass.pdf")], capture_output=True, text=True, check=True)
    assert "Pages:           3" in info.stdout  # the card, then one sheet a manifest page

    run(
        "checkpoint",
        "bundle",
        "import",
        str(out / "bundle.cose"),
        "--root",
        str(tmp_path / "keys" / "root.pub.pem"),
    )
    page = json.loads(run("checkpoint", "verify", "--text", pages[1], "--json"))
    assert page["valid"] is True and page["page"] == "2/2" and page["pass_id"] == claims["pass_id"]
    decided = json.loads(run("checkpoint", "decide", str(bus / "scenario.json"), "--json"))
    assert decided["outcome"] == "RELEASE"
    expected = ["RELEASE"] * listed
    expected[demo_bus.FROM_WUHAN - 1], expected[demo_bus.NOT_ABOARD - 1] = "QUARANTINE", "ABSENT"
    assert decided["passengers"] == expected
    codes = {reason["code"] for reason in decided["reasons"]}
    assert {"MANIFEST_VALID", "QUARANTINE_BY_ENTERPRISE", "PASSENGER_ABSENT", "PRIORITY_BUS"} <= codes
