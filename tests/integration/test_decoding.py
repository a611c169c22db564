"""Decoding real signed passes from webcam-like frames (tests/framegen.py), with both backends, and the camera
loop that turns frames into scans: drops frames while busy, one scan per pass held up, errors in its status."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter

import cv2
import numpy as np
import pytest

from checkpoint_client.decoding import CameraLoop, Decoder, Repeats, Scan, decode_frame, decode_image_file
from checkpoint_client.frames import open_source
from passcore.errors import InputError
from server.passes.render import write_png
from tests import framegen

PER_GROUP, SEED = 12, 20260210
HARD = ("blur", "motion_blur", "glare", "mixed")  # their sweeps end where no decoder reads the code
# Fewest frames of 12 each backend must read per group: realistic floors, a margin under what they read.
MIN_READ = {  # group: (plain zxing-cpp, ours, pyzbar)
    "clean": (12, 12, 12),
    "perspective": (9, 9, 3),
    "rotation": (11, 11, 11),
    "blur": (3, 7, 3),
    "motion_blur": (2, 2, 2),
    "noise": (9, 10, 3),
    "dark": (8, 9, 8),
    "low_contrast": (9, 9, 9),
    "glare": (3, 3, 3),
    "jpeg": (11, 11, 9),
    "distance": (8, 8, 7),
    "mixed": (3, 3, 2),
}
BACKENDS = {
    "plain": lambda: Decoder("zxing", retries=False),
    "ours": Decoder,
    "pyzbar": lambda: Decoder("pyzbar"),
}


@pytest.fixture(scope="session")
def passes() -> list[str]:
    return framegen.sample_passes(3)


@pytest.fixture(scope="session")
def frame_set(passes, tmp_path_factory) -> list[framegen.GeneratedFrame]:
    return framegen.make_frames(passes, tmp_path_factory.mktemp("frames"), per_condition=PER_GROUP, seed=SEED)


@pytest.fixture(scope="session")
def reads(frame_set) -> dict[str, list]:
    """Each backend's Decoded for every frame, decoded once per session."""
    return {name: [make().decode(f.image) for f in frame_set] for name, make in BACKENDS.items()}


def _per_group(frame_set, decoded) -> Counter:
    return Counter(f.condition for f, d in zip(frame_set, decoded, strict=True) if f.text in d.texts)


def test_the_frame_set_covers_every_condition_as_webcam_frames(frame_set):
    assert Counter(f.condition for f in frame_set) == dict.fromkeys(framegen.CONDITIONS, PER_GROUP)
    assert all(f.image.shape == (framegen.HEIGHT, framegen.WIDTH, 3) for f in frame_set)
    assert np.array_equal(cv2.imread(str(frame_set[5].path)), frame_set[5].image)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("group", framegen.CONDITIONS)
def test_each_group_is_read_at_a_realistic_rate(frame_set, reads, backend, group):
    read = _per_group(frame_set, reads[backend])[group]
    assert read >= MIN_READ[group][list(BACKENDS).index(backend)], (
        f"{backend} read {read}/{PER_GROUP} {group}"
    )
    if group in HARD:
        assert read < PER_GROUP  # the hardest frames stay unreadable: the set is not too easy


def test_ours_reads_every_frame_plain_zxing_reads_and_more(frame_set, reads):
    plain, ours = reads["plain"], reads["ours"]
    missed = [
        f.path.name
        for f, p, o in zip(frame_set, plain, ours, strict=True)
        if f.text in p.texts and f.text not in o.texts
    ]
    assert missed == []
    assert sum(_per_group(frame_set, ours).values()) > sum(_per_group(frame_set, plain).values())


def test_no_backend_reads_a_text_that_is_not_in_the_frame(frame_set, reads):
    for decoded in reads.values():
        assert all(set(d.texts) <= {f.text} for f, d in zip(frame_set, decoded, strict=True))


def test_dark_frames_ask_for_light_and_lit_ones_do_not(frame_set, reads):
    hints = {
        (f.condition, round(f.severity, 2)): d.too_dark for f, d in zip(frame_set, reads["ours"], strict=True)
    }
    assert all(dark for (group, severity), dark in hints.items() if group == "dark" and severity >= 0.3)
    assert not any(dark for (group, _), dark in hints.items() if group in ("clean", "jpeg", "rotation"))
    brightness = [
        d.brightness for f, d in zip(frame_set, reads["ours"], strict=True) if f.condition == "dark"
    ]
    assert brightness[-1] < brightness[0] / 4  # the sweep goes from dim to nearly black


def test_a_code_seen_but_not_read_is_reported(frame_set, reads):
    pairs = list(zip(frame_set, reads["ours"], strict=True))
    assert any(d.detected_unread for f, d in pairs if f.text not in d.texts)
    assert not any(d.detected_unread for f, d in pairs if f.text in d.texts)
    blank = Decoder().decode(framegen.blank_frame(3))
    assert blank.texts == () and not blank.detected_unread


@pytest.mark.parametrize("backend", ["zxing", "pyzbar"])
def test_the_issued_png_and_a_pillow_image_decode(tmp_path, passes, backend):
    write_png(passes[0], tmp_path / "pass.png")
    assert decode_image_file(tmp_path / "pass.png", backend) == [passes[0]]
    from PIL import Image

    assert decode_frame(Image.open(tmp_path / "pass.png"), backend) == [passes[0]]


def test_unknown_or_missing_backends_are_input_errors(monkeypatch):
    with pytest.raises(InputError) as err:
        Decoder("opencv")
    assert err.value.code == "DECODER_UNAVAILABLE"
    monkeypatch.setitem(sys.modules, "pyzbar", None)  # as if libzbar0 / pyzbar were not installed
    with pytest.raises(InputError) as err:
        Decoder("pyzbar")
    assert err.value.code == "DECODER_UNAVAILABLE" and "libzbar0" in err.value.message


def test_a_video_file_source_reads_the_passes_in_order(tmp_path, passes):
    video = framegen.write_video(
        framegen.make_sequence(passes[:2], hold=4, gap=2, seed=1), tmp_path / "q.avi", fps=10
    )
    decoder, seen = Decoder(), []
    with open_source(str(video)) as source:
        for frame in source:
            seen += [t for t in decoder.decode(frame.image).texts if not seen or seen[-1] != t]
    assert seen == passes[:2]
    assert frame.index == 2 + 2 * (4 + 2) - 1


def test_a_folder_with_a_non_image_and_a_non_pass_qr(tmp_path, passes):
    folder = tmp_path / "shots"
    framegen.make_frames(
        [passes[1], "https://例子.cn/<script>alert(1)</script>"],
        folder,
        conditions=["clean"],
        per_condition=2,
    )
    (folder / "0001b-readme.txt").write_text("这不是图片", encoding="utf-8")
    decoder = Decoder()
    with open_source(str(folder)) as source:
        texts = {f.name: decoder.decode(f.image).texts for f in source}
    assert texts == {
        "0000-clean.jpg": (passes[1],),
        "0001-clean.jpg": ("https://例子.cn/<script>alert(1)</script>",),
    }
    assert [name for name, _ in source.skipped] == ["0001b-readme.txt"]


def test_repeats_counts_a_pass_once_until_it_has_been_away(passes):
    a, b = passes[:2]
    r = Repeats(repeat_after_s=3.0)
    assert r.new([a], 0.0) == [a]
    assert r.new([a], 0.1) == []  # held up: the same scan
    assert r.new([], 0.2) == []
    assert r.new([a], 0.3) == []  # one unread frame in between is not a new vehicle
    assert r.new([a, b], 0.4) == [b]
    assert r.new([], 1.0) == []
    assert r.new([a], 4.0) == [a]  # away for 3.7 s: shown again
    zero = Repeats(repeat_after_s=0.0)
    assert [zero.new(t, i) for i, t in enumerate([[a], [a], [], [a]])] == [[a], [], [], [a]]


class SlowDecoder(Decoder):
    """The real decoder, made slow, to show that frames are dropped, not queued, while it works."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def decode(self, image):
        time.sleep(self.delay)
        return super().decode(image)


def _scans(loop_source, decoder, **kwargs) -> tuple[list[Scan], dict]:
    scans: list[Scan] = []
    loop = CameraLoop(loop_source, decoder, scans.append, **kwargs)
    assert loop.latest_jpeg() is None and loop.status()["frames"] == 0
    loop.start()
    assert loop.wait(60)
    loop.stop()
    return scans, loop.status() | {"jpeg": loop.latest_jpeg()}


@pytest.fixture(scope="session")
def sequence_dir(passes, tmp_path_factory):
    """Two passes, each held up for 5 frames between empty frames, as files in a folder."""
    folder = tmp_path_factory.mktemp("sequence")
    for i, frame in enumerate(framegen.make_sequence(passes[:2], hold=5, gap=2, seed=2)):
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), frame.image)
    return folder


def test_the_camera_loop_drops_frames_while_a_slow_decode_runs(sequence_dir):
    scans, status = _scans(open_source(str(sequence_dir), fps=50), SlowDecoder(0.15))
    assert status["frames"] == 16 and status["ended"] and status["error"] is None
    assert status["dropped"] > 0 and status["decoded"] + status["dropped"] == status["frames"]
    assert len(scans) <= status["decoded"]


def test_a_pass_held_up_for_many_frames_is_one_scan(sequence_dir, passes):
    scans, status = _scans(open_source(str(sequence_dir)), Decoder())
    assert status["decoded"] == status["frames"] == 16 and status["dropped"] == 0
    assert [s.text for s in scans] == passes[:2]
    assert [s.source_name for s in scans] == ["002.jpg", "009.jpg"]
    assert all(s.captured_at <= s.decoded_at for s in scans)
    assert status["jpeg"][:2] == b"\xff\xd8"


def test_a_pass_shown_again_after_a_pause_counts_again(sequence_dir, passes):
    source = open_source(str(sequence_dir), loop=True)
    scans: list[Scan] = []
    loop = CameraLoop(source, Decoder(), scans.append, repeat_after_s=0.0)
    loop.start()
    while loop.status()["frames"] < 32 and not loop.status()["ended"]:
        time.sleep(0.05)
    loop.stop()
    assert [s.text for s in scans][:4] == [passes[0], passes[1], passes[0], passes[1]]
    assert loop.status()["ended"]


def test_errors_are_reported_in_the_status_and_the_loop_goes_on(sequence_dir):
    class Flaky(Decoder):
        calls = 0

        def decode(self, image):
            self.calls += 1
            if self.calls == 3:
                raise RuntimeError("decoder fell over")
            return super().decode(image)

    def explode(scan):
        raise ValueError("the screen is gone")

    loop = CameraLoop(open_source(str(sequence_dir)), Flaky(), explode)
    loop.start()
    assert loop.wait(60)
    status = loop.status()
    assert status["ended"] and status["decoded"] == 15  # one frame failed, the others went on
    assert "the screen is gone" in status["error"] or "decoder fell over" in status["error"]


def test_a_source_that_fails_while_reading_ends_the_loop_with_its_error(sequence_dir):
    source = open_source(str(sequence_dir))

    def broken():
        yield from []
        raise InputError("camera 0 stopped sending pictures", code="SOURCE_UNAVAILABLE")

    source._read_once = broken
    loop = CameraLoop(source, Decoder(), lambda s: None)
    loop.start()
    assert loop.wait(30)
    assert loop.status()["error"] == "camera 0 stopped sending pictures" and loop.status()["ended"]


def test_stop_ends_a_looping_paced_source_cleanly(sequence_dir):
    loop = CameraLoop(open_source(str(sequence_dir), fps=30, loop=True), Decoder(), lambda s: None)
    loop.start()
    threading.Event().wait(0.3)
    loop.stop()
    status = loop.status()
    assert status["ended"] and status["error"] is None and status["frames"] > 0
    assert not any(t.is_alive() for t in loop._threads)
