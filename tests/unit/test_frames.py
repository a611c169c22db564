"""Frame sources (webcam index, video file, folder of images) and the bounds on what they accept."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from checkpoint_client import frames
from checkpoint_client.frames import Frame, check_image, encode_jpeg, open_source, read_image_file
from passcore.errors import InputError


def _picture(value: int, size: tuple[int, int] = (96, 64)) -> np.ndarray:
    image = np.full((size[1], size[0], 3), value, np.uint8)
    cv2.putText(image, str(value), (8, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255 - value,) * 3, 2)
    return image


def _shade(frame: Frame) -> int:
    """Which picture this is: _picture(20 * n) has grey 20 * n away from its label."""
    return round(int(frame.image[2, 2, 0]) / 20)


def _video(path, count: int, fps: float = 25.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (96, 64))
    for i in range(count):
        writer.write(_picture(20 * i))
    writer.release()
    return path


def _folder(tmp_path, count: int):
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(count):
        cv2.imwrite(str(folder / f"{i:03d}.png"), _picture(20 * i))
    return folder


def _unavailable(spec: str, **kwargs) -> str:
    with pytest.raises(InputError) as err:
        open_source(spec, **kwargs)
    assert err.value.code == "SOURCE_UNAVAILABLE"
    return err.value.message


def test_a_folder_gives_its_images_in_name_order_with_file_names(tmp_path):
    folder = _folder(tmp_path, 4)
    with open_source(str(folder)) as source:
        got = list(source)
    assert [f.name for f in got] == ["000.png", "001.png", "002.png", "003.png"]
    assert [f.index for f in got] == [0, 1, 2, 3]
    assert all(f.image.shape == (64, 96, 3) and f.image.dtype == np.uint8 for f in got)
    assert [int(f.image[0, 0, 0]) for f in got] == [0, 20, 40, 60]
    assert not source.realtime and source.kind == "folder"
    assert got[0].captured_at <= got[-1].captured_at


def test_unreadable_files_in_a_folder_are_skipped_with_a_note(tmp_path):
    folder = _folder(tmp_path, 2)
    (folder / "001b-notes.txt").write_text("不是图片 <b>not an image</b>", encoding="utf-8")
    (folder / "001c-cut.png").write_bytes(cv2.imencode(".png", _picture(5))[1].tobytes()[:60])
    (folder / ".hidden.png").write_bytes(b"ignored")
    with open_source(str(folder)) as source:
        names = [f.name for f in source]
    assert names == ["000.png", "001.png"]
    assert [name for name, _ in source.skipped] == ["001b-notes.txt", "001c-cut.png"]
    assert all(why for _, why in source.skipped)


def test_a_single_image_file_is_a_source_of_one_frame(tmp_path):
    path = tmp_path / "photo.jpg"
    cv2.imwrite(str(path), _picture(100))
    with open_source(str(path)) as source:
        assert [f.name for f in source] == ["photo.jpg"]


def test_a_video_file_gives_numbered_frames_at_its_declared_rate(tmp_path):
    with open_source(str(_video(tmp_path / "clip.avi", 6, fps=12))) as source:
        got = list(source)
        assert source.kind == "video" and source.fps == 12
    assert [f.name for f in got] == [f"frame {i}" for i in range(6)]
    assert [_shade(f) for f in got][:3] == [0, 1, 2]


def test_a_looping_source_restarts_and_keeps_counting(tmp_path):
    source = open_source(str(_video(tmp_path / "clip.avi", 3)), loop=True)
    got = []
    for frame in source:
        got.append(frame)
        if len(got) == 8:
            source.close()
    assert [f.index for f in got] == list(range(8))
    assert [f.name for f in got][3] == "frame 3"
    assert [_shade(f) for f in got] == [0, 1, 2, 0, 1, 2, 0, 1]


def test_fps_paces_a_file_source_like_a_camera(tmp_path):
    with open_source(str(_folder(tmp_path, 5)), fps=20) as source:
        started = time.monotonic()
        times = [f.captured_at for f in source]
    # Frame N comes no earlier than N/fps after the start (frame 0 itself may come late on a loaded machine,
    # after a slow first read: measuring from it failed once under load).
    assert times[-1] - started >= 4 / 20 - 0.005


def test_close_from_another_thread_ends_a_paced_loop(tmp_path):
    source = open_source(str(_folder(tmp_path, 2)), fps=2, loop=True)
    threading.Timer(0.3, source.close).start()
    count = sum(1 for _ in source)  # would never end if close() did not reach the looping reader
    assert count >= 1


@pytest.mark.parametrize(
    "spec, words",
    [
        ("9", "no camera 9"),  # no webcam on this index
        ("missing.avi", "no such file"),
        ("", "no such file"),
    ],
)
def test_unavailable_sources_are_a_clear_error(tmp_path, monkeypatch, spec, words):
    monkeypatch.chdir(tmp_path)
    assert words in _unavailable(spec)


def test_an_empty_folder_and_a_file_that_is_no_video_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    assert "no files" in _unavailable(str(tmp_path / "empty"))
    (tmp_path / "fake.avi").write_bytes(b"RIFF\x00\x00\x00\x00AVI garbage" * 50)
    assert "not a video" in _unavailable(str(tmp_path / "fake.avi"))
    (tmp_path / "notes.txt").write_text("车牌 苏E·A1234", encoding="utf-8")
    assert "not a video" in _unavailable(str(tmp_path / "notes.txt"))


def test_absurd_fps_is_refused(tmp_path):
    assert "fps" in _unavailable(str(_folder(tmp_path, 1)), fps=0)


def test_image_files_are_bounded(tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.png"
    cv2.imwrite(str(bomb), np.zeros((4, 4), np.uint8))
    monkeypatch.setattr(frames, "MAX_IMAGE_PIXELS", 10)
    with pytest.raises(InputError) as err:
        read_image_file(bomb)
    assert err.value.code == "IMAGE_INVALID" and "too many pixels" in err.value.message
    with pytest.raises(InputError) as err:
        read_image_file(tmp_path / "absent.png")
    assert err.value.code == "IMAGE_INVALID"


def test_read_image_file_gives_bgr(tmp_path):
    image = np.zeros((8, 8, 3), np.uint8)
    image[:, :, 2] = 200  # red in BGR
    cv2.imwrite(str(tmp_path / "red.png"), image)
    assert read_image_file(tmp_path / "red.png")[0, 0].tolist() == [0, 0, 200]


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 10), np.float32),
        np.zeros((10, 10, 2), np.uint8),
        np.zeros((0, 10), np.uint8),
        np.zeros((2, 2, 2, 2), np.uint8),
        "not an array",
        None,
    ],
    ids=["float", "two-channels", "empty", "four-dims", "string", "none"],
)
def test_check_image_refuses_what_is_not_a_frame(bad):
    with pytest.raises(InputError) as err:
        check_image(bad)
    assert err.value.code == "IMAGE_INVALID"


def test_check_image_refuses_a_frame_over_the_pixel_cap(monkeypatch):
    monkeypatch.setattr(frames, "MAX_IMAGE_PIXELS", 99)
    with pytest.raises(InputError):
        check_image(np.zeros((10, 10), np.uint8))


def test_encode_jpeg_round_trips():
    image = _picture(128, (320, 240))
    data = encode_jpeg(image, quality=80)
    assert data[:2] == b"\xff\xd8"
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert back.shape == image.shape and np.abs(back.astype(int) - image).mean() < 4


def test_frame_is_immutable():
    frame = Frame(0, "frame 0", np.zeros((2, 2, 3), np.uint8), 0.0)
    with pytest.raises(AttributeError):
        frame.index = 1  # type: ignore[misc]


def _smeared(image: np.ndarray, length: int, angle: float) -> np.ndarray:
    kernel = np.zeros((length + 2, length + 2), np.float32)
    c, dx, dy = (length + 2) // 2, np.cos(angle) * (length - 1) / 2, np.sin(angle) * (length - 1) / 2
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
    return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("degrees", [0, 35, 90, 140])
def test_a_shake_is_found_along_its_direction_and_undone(degrees):
    blocks = np.random.default_rng(7).integers(0, 2, (30, 40)).astype(np.uint8) * 200 + 30
    # Modules with edges both ways, like a QR code's.
    sharp = cv2.resize(blocks, (400, 300), interpolation=cv2.INTER_NEAREST)
    assert frames.shake_direction(sharp)[1] > 0.5
    angle = np.radians(degrees)
    shaken = _smeared(sharp, 13, angle)
    found, evenness = frames.shake_direction(shaken)
    assert evenness < 0.5
    assert abs((np.degrees(found) - degrees + 90) % 180 - 90) < 15  # a line's direction, modulo 180°
    (restored,) = frames.unshaken(shaken, found, [13.0])
    inner = (slice(20, -20), slice(20, -20))
    error = lambda image: np.abs(image[inner].astype(float) - sharp[inner]).mean()  # noqa: E731
    assert restored.shape == sharp.shape and restored.dtype == np.uint8
    assert error(restored) < 0.6 * error(shaken)


def test_a_flat_frame_has_no_shake():
    assert frames.shake_direction(np.full((120, 160), 128, np.uint8)) == (0.0, 1.0)
