"""`checkpoint scan --source … --json` and `checkpoint verify IMAGE --decoder …`, run as installed commands on
passes issued by `checkpass issue`, from a folder of webcam-like frames and from a video (docs/design.md, "Contracts")."""

from __future__ import annotations

import json

import cv2
import pytest

from tests import framegen
from tests.integration.test_cli import Station

NOT_A_PASS = "https://例子.cn/<script>alert('x')</script>"


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> Station:
    station = Station(tmp_path_factory.mktemp("scan"), None)
    station.run("checkpass", "init")
    station.passes = []  # (pass_id, QR text) of two passes issued the way the bureau issues them
    for out in ("a", "b"):
        claims = station.issue(out)
        station.passes.append((claims["pass_id"], (station.tmp / out / "pass.txt").read_text().strip()))
    station.publish()
    return station


@pytest.fixture(scope="module")
def folder(station):
    """A pass, a QR code that is no pass, another pass, a text file and an empty frame."""
    (_, a), (_, b) = station.passes
    folder = station.tmp / "shots"
    framegen.make_frames([a, NOT_A_PASS, b], folder, conditions=["clean"], per_condition=3, seed=5)
    (folder / "0001b-notes.txt").write_text("这不是图片 <b>not an image</b>", encoding="utf-8")
    cv2.imwrite(str(folder / "0003-empty.jpg"), framegen.blank_frame(1))
    return folder


def _lines(done) -> list[dict]:
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize("decoder", ["zxing", "pyzbar"])
def test_scan_a_folder_gives_one_line_per_pass_and_a_clear_line_for_a_non_pass(station, folder, decoder):
    done = station.run("checkpoint", "scan", "--source", folder, "--decoder", decoder, "--json")
    lines = _lines(done)
    (a_id, _), (b_id, _) = station.passes
    assert [line["source"] for line in lines] == ["0000-clean.jpg", "0001-clean.jpg", "0002-clean.jpg"]
    assert [line["valid"] for line in lines] == [True, False, True]
    assert [line["pass_id"] for line in lines] == [a_id, None, b_id]
    assert lines[0]["reasons"][0]["code"] == "PASS_VALID" and lines[0]["claims"]["plate"] == "苏E·A1234"
    not_a_pass = lines[1]["reasons"][0]
    assert not_a_pass["code"] == "PASS_MALFORMED" and "not a vehicle pass" in not_a_pass["message"]
    assert all({"code", "message"} <= set(r) for line in lines for r in line["reasons"])
    assert "skipped 0001b-notes.txt" in done.stderr


def test_scan_a_video_gives_one_line_per_pass_held_up(station, tmp_path):
    texts = [text for _, text in station.passes]
    video = framegen.write_video(
        framegen.make_sequence(texts, hold=6, gap=3, seed=4), tmp_path / "lane.avi", fps=10
    )
    lines = _lines(station.run("checkpoint", "scan", "--source", video, "--json"))
    assert [line["pass_id"] for line in lines] == [pass_id for pass_id, _ in station.passes]
    assert all(line["valid"] for line in lines)
    assert [line["source"] for line in lines] == [3, 12]  # frame numbers: each pass's first frame


def test_scan_without_json_prints_readable_lines(station, folder):
    out = station.run("checkpoint", "scan", "--source", folder).stdout.splitlines()
    assert len(out) == 3 and "VALID" in out[0] and "苏E·A1234" in out[0]
    assert out[1].startswith("0001-clean.jpg  INVALID  PASS_MALFORMED")


def test_scan_of_frames_without_codes_prints_nothing_and_says_so(station, tmp_path):
    cv2.imwrite(str(tmp_path / "empty.jpg"), framegen.blank_frame(2))
    done = station.run("checkpoint", "scan", "--source", tmp_path / "empty.jpg", "--json")
    assert done.stdout == "" and "no QR code read in 1 frame" in done.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["--source", "7"], "no camera 7"),
        (["--source", "missing-folder"], "no such file"),
        (["--source", "shots", "--decoder", "opencv"], "unknown decoder"),
        (["--source", "shots", "--bundle", "no-bundle.cose"], "no-bundle.cose"),
    ],
)
def test_scan_bad_input_is_one_line_and_exit_2(station, folder, args, words):
    done = station.run("checkpoint", "scan", *args, "--json", expect=2)
    assert words in done.stderr and done.stdout == ""


def test_scan_without_a_bundle_is_bad_input(station, folder, tmp_path):
    fresh = Station(tmp_path, None)
    assert "bundle" in fresh.run("checkpoint", "scan", "--source", folder, expect=2).stderr


def test_verify_an_image_with_either_decoder(station):
    pass_id = station.passes[0][0]
    for decoder in ("zxing", "pyzbar"):
        report = station.json(
            "checkpoint", "verify", station.tmp / "a" / "pass.png", "--decoder", decoder, "--json"
        )
        assert report["valid"] and report["pass_id"] == pass_id
    station.run("checkpoint", "verify", station.tmp / "a" / "pass.png", "--decoder", "zbar", expect=2)
