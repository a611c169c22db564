"""Bus mode on the officer's screen, collecting the manifest (issue 14): a personnel pass shows its bus; its pages
are taken in any order, each once, the missing ones named; a page before its pass waits for it; a page of another
pass is refused for the bus in front of the officer; a page is never a vehicle of its own."""

from __future__ import annotations

from datetime import timedelta

from passcore.policy import Policy
from tests.integration.screen_bus_helpers import MANAGER, bus_pass, passengers
from tests.integration.screen_helpers import make_screen

__all__ = ["make_screen"]  # the fixture, imported for pytest

OTHER_ID = "fedcba9876543210fedcba98"


def test_a_bus_pass_shows_its_bus_and_pages_fill_in_in_any_order(make_screen, issuer_key):
    screen = make_screen(policy=Policy(hard_hit=("420000",)))
    text, pages, _ = bus_pass(issuer_key, passengers(45, hard_hit=(7, 30)))
    assert len(pages) == 5
    vehicle = screen.scan(text)
    bus = vehicle["claims"]["bus"]
    assert vehicle["claims"]["kind"] == "personnel"
    assert bus == {
        "seats": 100,
        "departure": "",  # the stations are printed, not on the QR (docs/pass-format.md)
        "arrival": "",
        "manager": {"name": MANAGER.name, "id_number": MANAGER.id_masked},
        "pages": 5,
        "passengers": 45,
    }
    assert vehicle["manifest"]["scanned"] == [] and vehicle["manifest"]["missing"] == [1, 2, 3, 4, 5]
    assert vehicle["manifest"]["arrived_at"] == screen.clock[0].isoformat()
    for number in (3, 1):
        snapshot = screen.client.post("/api/vehicle/scan", json={"text": pages[number - 1]}).json()
        assert snapshot["page"]["result"] == "added" and snapshot["page"]["number"] == number
    current = snapshot["current"]
    assert current["id"] == vehicle["id"] and snapshot["queued"] == 0  # a page is not a vehicle
    assert current["manifest"]["scanned"] == [1, 3] and current["manifest"]["missing"] == [2, 4, 5]
    listed = current["manifest"]["passengers"]
    assert [p["n"] for p in listed] == [*range(1, 10), *range(19, 28)]
    seventh = listed[6]
    assert seventh["name"] == "工人07" and seventh["id_number"] == "411502********0007"
    assert seventh["origin"]["code"] == "411502" and seventh["origin"]["name"]
    assert seventh["hard_hit"] == ["420000"] and listed[0]["hard_hit"] == []
    again = screen.client.post("/api/vehicle/scan", json={"text": pages[2]}).json()
    assert again["page"]["result"] == "duplicate" and again["page"]["number"] == 3
    for number in (5, 2, 4):
        final = screen.client.post("/api/vehicle/scan", json={"text": pages[number - 1]}).json()
    assert final["current"]["manifest"]["complete"] and final["current"]["manifest"]["missing"] == []
    assert len(final["current"]["manifest"]["passengers"]) == 45


def test_pages_scanned_before_their_pass_wait_for_it_and_time_the_arrival(make_screen, issuer_key):
    screen = make_screen()
    text, pages, _ = bus_pass(issuer_key, passengers(12))
    first_seen = screen.clock[0]
    snapshot = screen.client.post("/api/vehicle/scan", json={"text": pages[1]}).json()
    assert snapshot["current"] is None and snapshot["page"]["result"] == "waiting"
    assert (snapshot["page"]["number"], snapshot["page"]["pages"]) == (2, 2)
    screen.clock[0] = first_seen + timedelta(minutes=4)
    vehicle = screen.scan(text)
    assert vehicle["manifest"]["scanned"] == [2] and vehicle["manifest"]["missing"] == [1]
    assert vehicle["manifest"]["arrived_at"] == first_seen.isoformat()  # the wait began with the page


def test_a_page_of_another_pass_is_refused_and_kept_as_evidence(make_screen, issuer_key):
    screen = make_screen()
    text, pages, _ = bus_pass(issuer_key, passengers(9))
    _, other_pages, _ = bus_pass(issuer_key, passengers(9, hard_hit=(1,)), pass_id=OTHER_ID)
    screen.scan(text)
    snapshot = screen.client.post("/api/vehicle/scan", json={"text": other_pages[0]}).json()
    assert snapshot["page"]["result"] == "other_pass"
    manifest = snapshot["current"]["manifest"]
    assert manifest["foreign"] == 1 and manifest["scanned"] == [] and manifest["missing"] == [1]
    snapshot = screen.client.post("/api/vehicle/scan", json={"text": pages[0]}).json()
    assert snapshot["page"]["result"] == "added" and snapshot["current"]["manifest"]["complete"]


def test_a_forged_page_is_refused_with_its_reason(make_screen, issuer_key):
    screen = make_screen()
    text, pages, _ = bus_pass(issuer_key, passengers(9))
    screen.scan(text)
    forged = pages[0][:-6] + ("A" if pages[0][-6] != "A" else "B") + pages[0][-5:]
    snapshot = screen.client.post("/api/vehicle/scan", json={"text": forged}).json()
    assert snapshot["page"]["result"] == "invalid" and snapshot["page"]["code"]
    assert snapshot["current"]["manifest"]["invalid"] == 1
    assert snapshot["queued"] == 0


def test_a_freight_pass_has_no_manifest(make_screen, issuer_key):
    from tests.integration.screen_helpers import two_person_pass

    screen = make_screen()
    vehicle = screen.scan(two_person_pass(issuer_key))
    assert vehicle["claims"]["kind"] == "freight" and vehicle["claims"]["bus"] is None
    assert "manifest" not in vehicle
