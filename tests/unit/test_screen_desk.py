"""The screen's desk: which vehicle is in front of the officer and which wait behind it."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest

from checkpoint_client.screen.desk import MAX_QUEUE, DeskError, ScanDesk

A, B, C = "CP1:AAAA", "CP1:BBBB", "CP1:CCCC"


def current(desk: ScanDesk):
    return desk.snapshot()["current"]


def test_first_scan_is_current_the_others_queue_and_repeats_are_one_vehicle():
    desk = ScanDesk(lambda v: {"text": v.text})
    first = desk.add_text(A, source="frame 1")
    assert desk.add_text(B, source="frame 9") is not None
    assert desk.add_text(A, source="frame 2") is None and desk.add_text(B, source="frame 10") is None
    assert current(desk)["text"] == A and desk.snapshot()["queued"] == 1
    vehicle = desk.begin_decision(first.id)
    with pytest.raises(DeskError):  # a second submit while the first is being recorded
        desk.begin_decision(first.id)
    desk.end_decision(vehicle, recorded=True)
    assert current(desk) is None and desk.snapshot()["queued"] == 1  # the outcome stays until "next"
    second = desk.next_vehicle()
    assert second.text == B and desk.next_vehicle().id == second.id  # not dropped without saying so
    assert desk.next_vehicle(drop=second.id) is None


def test_a_failed_recording_leaves_the_vehicle_current():
    desk = ScanDesk()
    vehicle = desk.begin_decision(desk.add_text(A, source="x").id)
    desk.end_decision(vehicle, recorded=False)
    assert current(desk)["id"] == vehicle.id


def test_next_drops_only_the_vehicle_the_officer_saw():
    desk = ScanDesk()
    seen = desk.add_text(A, source="x")
    done = desk.begin_decision(seen.id)
    desk.end_decision(done, recorded=True)
    arrived = desk.add_text(B, source="y")  # scanned just as the officer pressed Esc after the outcome
    assert desk.next_vehicle(drop=None).id == arrived.id  # not thrown away
    desk.add_text(C, source="z")
    assert desk.next_vehicle(drop=arrived.id).text == C  # dropped on purpose: the next one comes


def test_stray_codes_give_way_and_a_vehicle_without_a_pass_keeps_its_place():
    desk = ScanDesk()
    desk.add_text("https://shop.example/pay", source="x")
    assert desk.add_text(A, source="y").text == A and current(desk) is not None
    assert desk.snapshot()["queued"] == 0  # the stray code was dropped, not queued
    manual = desk.start_without_pass()
    assert desk.snapshot()["queued"] == 1  # the pass waits while the officer handles the other vehicle
    assert desk.start_without_pass().id == manual.id  # pressing N again keeps what was typed
    desk.add_text(B, source="z")
    assert current(desk)["id"] == manual.id and desk.snapshot()["queued"] == 2
    pasted = desk.add_text(C, source="manual", now_first=True)
    assert current(desk)["id"] == manual.id  # a scan never replaces the vehicle being handled (issue 12)
    assert desk.next_vehicle(drop=manual.id).id == pasted.id  # the officer's own scan is next in line


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def decided(desk: ScanDesk, text: str, source: str = "camera"):
    vehicle = desk.add_text(text, source=source)
    desk.end_decision(desk.begin_decision(vehicle.id), recorded=True)
    return vehicle


def test_scans_arriving_while_a_vehicle_is_handled_wait_behind_it():
    desk = ScanDesk()
    first = desk.add_text(A, source="camera")
    desk.add_text(B, source="camera")  # being checked
    deciding = desk.begin_decision(first.id)
    desk.add_text(C, source="manual", now_first=True)  # being decided
    assert current(desk)["id"] == first.id and desk.snapshot()["queued"] == 2
    desk.end_decision(deciding, recorded=True)
    assert [desk.next_vehicle().text, desk.next_vehicle(drop=desk.snapshot()["current"]["id"]).text] == [C, B]


def test_a_pass_left_in_view_after_its_decision_is_not_a_new_vehicle():
    clock = Clock()
    desk = ScanDesk(clock=clock, linger_s=10)
    decided(desk, A)
    clock.now += 4  # the camera lost it for 3 s in the glare, then read it again: the same vehicle
    assert desk.add_text(A, source="camera") is None
    clock.now += 9  # still there, read again: each read renews its stay
    assert desk.add_text(A, source="camera") is None and current(desk) is None
    clock.now += 10.5  # gone longer than linger_s, then back: a new vehicle (the page shows it as a repeat)
    again = desk.add_text(A, source="camera")
    assert again is not None and current(desk)["id"] == again.id


def test_a_decided_pass_the_camera_keeps_seeing_never_comes_back_by_itself():
    clock = Clock()
    desk = ScanDesk(clock=clock, linger_s=8)
    decided(desk, A)
    for _ in range(12):  # a minute in view, read in most frames
        clock.now += 5
        desk.seen([B, A])
    clock.now += 3.5  # a glare hides it 3.5 s: the camera reports it as if new
    assert desk.add_text(A, source="camera") is None and current(desk) is None
    desk.seen([A])
    clock.now += 8.5  # now it has gone (not seen for longer than linger_s), and comes back: a repeat
    assert desk.add_text(A, source="camera") is not None


def test_the_officer_can_scan_a_just_decided_pass_again_on_purpose():
    desk = ScanDesk(clock=Clock())
    decided(desk, A)
    assert desk.add_text(A, source="manual", now_first=True) is not None  # handheld scanner: meant


def test_another_pass_is_not_held_back_by_a_decided_one():
    desk = ScanDesk(clock=Clock())
    decided(desk, A)
    assert desk.add_text(B, source="camera").text == B


def test_the_queue_is_bounded():
    desk = ScanDesk()
    for i in range(MAX_QUEUE + 5):
        desk.add_text(f"CP1:{i:04d}", source="loop")
    assert desk.snapshot()["queued"] == MAX_QUEUE


def test_listeners_are_woken_from_the_camera_thread():
    desk = ScanDesk()

    async def wait_for_scan() -> int:
        event = desk.listen()
        scan = SimpleNamespace(text=A, source_name="frame 3", captured_at=1.0, decoded_at=1.01)
        threading.Thread(target=desk.on_scan, args=(scan,)).start()
        await asyncio.wait_for(event.wait(), timeout=5)
        desk.unlisten(event)
        return desk.version

    # The page's side runs in a thread of its own, as under uvicorn (and because the browser tests' Playwright
    # keeps an event loop running in the main thread for the whole session).
    versions: list[int] = []
    page_side = threading.Thread(target=lambda: versions.append(asyncio.run(wait_for_scan())))
    page_side.start()
    page_side.join(timeout=10)
    assert versions == [1]
    assert current(desk) == {"id": 1}
