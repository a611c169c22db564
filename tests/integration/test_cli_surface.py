"""The installed commands offer exactly what the README's "Commands" tables document, and `checkpass` runs
without OpenCV (the `demo` extra), which only the demo's recorded camera video needs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
README = Path(__file__).resolve().parents[2] / "README.md"
WORD = re.compile(r"[a-z][a-z-]*")


def documented(program: str) -> dict[str, set[str]]:
    """Top-level command -> its subcommands, read from the README table headed with `program`."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|") and f"(`{program}`)" in line)
    commands: dict[str, set[str]] = {}
    for row in lines[start + 2 :]:
        if not row.startswith("|"):
            break
        for spec in re.findall(r"`([^`]+)`", row.split(" | ")[0]):
            words = []
            for token in spec.split():
                if not WORD.fullmatch(token):
                    break
                words.append(token)
            commands.setdefault(words[0], set()).update(words[1:2])
    return commands


def listed(program: str, *group: str) -> set[str]:
    """The command names in `program [group] --help`."""
    done = subprocess.run(
        [str(BIN / program), *group, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"COLUMNS": "120"},
        check=True,
    )
    section = done.stdout.split("Commands", 1)[1]
    # A name stands one space inside the box (or two without it); a wrapped help line is indented further, so a
    # lone word on it (a long help text wrapped before "is") is not a command.
    return set(re.findall(r"^(?:[│|] | {2})([a-z][a-z-]*)\s{2,}", section, flags=re.MULTILINE))


def test_the_readme_tables_are_read():
    assert documented("checkpass")["keys"] == {"rotate", "retire", "list", "check", "rotate-data-key"}
    assert documented("checkpoint")["verify"] == set()


@pytest.mark.parametrize("program", ["checkpass", "checkpoint"])
def test_help_lists_every_documented_command_and_no_other(program):
    commands = documented(program)
    assert listed(program) == set(commands)
    for group, subcommands in commands.items():
        if subcommands:
            assert listed(program, group) == subcommands, group


def test_checkpass_runs_without_opencv_and_only_the_demo_video_asks_for_it(tmp_path):
    blocked = tmp_path / "without-opencv"
    blocked.mkdir()
    for name in ("cv2", "numpy"):  # shadow the installed packages, as if the demo extra were missing
        (blocked / f"{name}.py").write_text(f"raise ModuleNotFoundError('no {name}', name='{name}')\n")
    home = tmp_path / "bureau"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKPASS_")}
    path = [str(blocked), *filter(None, [os.environ.get("PYTHONPATH")])]
    env |= {"CHECKPASS_HOME": str(home), "PYTHONPATH": os.pathsep.join(path)}

    def checkpass(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "checkpass"), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    refused = checkpass("demo", "--out", str(tmp_path / "demo-out"))
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "checkpass[demo]" in refused.stderr and "--no-video" in refused.stderr
    assert list(home.iterdir()) == [] and not (tmp_path / "demo-out").exists()  # refused before seeding

    seeded = checkpass("demo", "--no-video", "--out", str(tmp_path / "demo-out"))
    assert seeded.returncode == 0, seeded.stderr
    assert (tmp_path / "demo-out" / "bundle.cose").exists()
    assert not (tmp_path / "demo-out" / "camera.avi").exists()
