"""`checkpoint verify`, `decide` and `scan` for a bus (issue 14), run as installed commands on a bus pass and its
manifest pages issued by `checkpass issue` (docs/design.md, "Contracts" and "Buses (personnel transport)")."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from server.demo import bus as demo_bus
from tests import framegen
from tests.integration.test_cli import Station

DRIVER = {"role": "driver", "name": "马师傅", "temperature_c": 36.6}
MANAGER = {"role": "manager", "name": "陈经理", "temperature_c": 36.4}
SEEN = {"plate": demo_bus.BUS_PLATE, "identity_confirmed": True, "licence_confirmed": True}


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> Station:
    station = Station(tmp_path_factory.mktemp("bus"), None)
    station.run("checkpass", "init")
    station.run("checkpass", "policy", "set", "--hard-hit", "420000")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    window = {"valid_from": start.isoformat(), "valid_until": (start + timedelta(days=7)).isoformat()}
    application = station.tmp / "bus-application.json"
    station.application_data = demo_bus.application(window)
    application.write_text(json.dumps(station.application_data, ensure_ascii=False), encoding="utf-8")
    station.run("checkpass", "issue", application, "--out", station.tmp / "bus")
    station.pass_text = (station.tmp / "bus" / "pass.txt").read_text().strip()
    station.pages = (station.tmp / "bus" / "manifest.txt").read_text().splitlines()
    station.pass_id = json.loads((station.tmp / "bus" / "pass.json").read_text(encoding="utf-8"))["pass_id"]
    station.publish()
    return station


def bus_scenario(station: Station, **changes) -> object:
    arrived = datetime.now(UTC) - timedelta(minutes=3)
    data = demo_bus.scenario(station.pass_text, station.pages, arrived) | changes
    return station.scenario(**data)


def test_the_bus_is_issued_with_its_manifest_pages(station):
    assert len(station.pages) == 2 and all(page.startswith("CPM1:") for page in station.pages)


def test_verify_shows_a_manifest_page_with_masked_ids(station):
    page = station.json("checkpoint", "verify", "--text", station.pages[1], "--json")
    assert page["kind"] == "manifest_page" and page["valid"] is True
    assert page["pass_id"] == station.pass_id
    assert (page["page"], page["number"], page["pages"]) == ("2/2", 2, 2)
    assert page["reasons"][0]["code"] == "MANIFEST_PAGE_VALID" and page["reasons"][0]["message_zh"]
    n = page["first"]  # page 2 opens with the passenger after page 1's last
    assert 1 < n <= 12 and len(page["passengers"]) == 12 - n + 1
    first = page["passengers"][0]
    assert first["name"] == station.application_data["passengers"][n - 1]["name"]
    assert "*" in first["id_number"] and first["id_number"] != demo_bus.id_number(n)
    assert demo_bus.id_number(n) not in json.dumps(page)
    assert len(page["manifest"]) == 32


def test_verify_prints_a_page_readably(station):
    out = station.run("checkpoint", "verify", "--text", station.pages[0]).stdout.splitlines()
    assert out[0].startswith("VALID  manifest page 1/2  pass " + station.pass_id)
    first = station.application_data["passengers"][0]["name"]
    assert out[1].split() == ["1", first, "413001********0013", "411502"]
    count = int(out[0].split()[-2])
    assert len(out) == 1 + count


@pytest.mark.parametrize("kind", ["tampered", "truncated", "bare prefix"])
def test_a_page_that_does_not_verify_exits_3(station, kind):
    text = station.pages[0]
    text = {
        "tampered": text[:60] + ("A" if text[60] != "A" else "B") + text[61:],
        "truncated": text[: len(text) // 2],
        "bare prefix": "CPM1:",
    }[kind]
    page = station.json("checkpoint", "verify", "--text", text, "--json", expect=3)
    assert page["valid"] is False and page["reasons"][0]["code"] == "MANIFEST_INVALID"
    assert page["passengers"] == [] and page["page"] is None
    out = station.run("checkpoint", "verify", "--text", text, expect=3).stdout
    assert out.startswith("INVALID  MANIFEST_INVALID")


def test_verify_reads_a_page_from_a_photograph(station, tmp_path):
    framegen.make_frames([station.pages[0]], tmp_path, conditions=["clean"], per_condition=1, seed=3)
    (image,) = sorted(tmp_path.glob("*.jpg"))
    page = station.json("checkpoint", "verify", image, "--json")
    assert page["kind"] == "manifest_page" and page["page"] == "1/2"


def test_decide_a_bus_with_its_roll_call(station):
    decision = station.json("checkpoint", "decide", bus_scenario(station), "--json")
    assert decision["outcome"] == "RELEASE"
    codes = {r["code"] for r in decision["reasons"]}
    assert {"PASS_VALID", "MANIFEST_VALID", "PRIORITY_BUS", "QUARANTINE_BY_ENTERPRISE"} <= codes
    assert {"HARD_HIT_PERSON", "PASSENGER_ABSENT"} <= codes
    expected = ["RELEASE"] * 12
    expected[demo_bus.FROM_WUHAN - 1] = "QUARANTINE"
    expected[demo_bus.NOT_ABOARD - 1] = "ABSENT"
    assert decision["passengers"] == expected
    assert decision["pages"] == 2 and decision["seats"] == 53 and len(decision["manifest"]) == 32
    assert decision["enterprise"] == "91320583MA1XY71231"
    out = station.run("checkpoint", "decide", bus_scenario(station)).stdout.splitlines()
    assert out[0].startswith("RELEASE  (") and out[1] == "passengers: RELEASE 10, QUARANTINE 1, ABSENT 1"


def test_the_pages_may_come_in_any_order_and_twice(station):
    pages = [station.pages[1], station.pages[0], station.pages[1]]
    decision = station.json("checkpoint", "decide", bus_scenario(station, manifest=pages), "--json")
    assert decision["outcome"] == "RELEASE" and len(decision["passengers"]) == 12


def test_a_passenger_the_roll_does_not_list_was_not_aboard(station):
    roll = [{"n": n, "aboard": True, "temperature_c": None} for n in range(1, 12)]  # the 12th not listed
    decision = station.json("checkpoint", "decide", bus_scenario(station, roll=roll), "--json")
    assert decision["passengers"][11] == "ABSENT"


def test_a_fever_on_the_roll_holds_the_bus(station):
    roll = [{"n": 2, "temperature_c": "38.2"}]  # aboard by default; everyone else not listed: absent
    decision = station.json("checkpoint", "decide", bus_scenario(station, roll=roll), "--json")
    assert decision["outcome"] == "MEDICAL_HOLD"
    assert decision["passengers"][:3] == ["ABSENT", "MEDICAL_HOLD", "ABSENT"]


def test_a_missing_page_refuses_the_bus(station):
    decision = station.json(
        "checkpoint", "decide", bus_scenario(station, manifest=station.pages[:1]), "--json"
    )
    assert decision["outcome"] == "REFUSE" and decision["passengers"] == [] and decision["manifest"] == ""
    assert "MANIFEST_INCOMPLETE" in {r["code"] for r in decision["reasons"]}


def test_someone_aboard_off_the_manifest_refuses_the_bus(station):
    stranger = {"role": "passenger", "name": "不明人员", "temperature_c": 36.5}
    scenario = bus_scenario(station, occupants=[DRIVER, MANAGER, stranger])
    decision = station.json("checkpoint", "decide", scenario, "--json")
    assert decision["outcome"] == "REFUSE" and "OCCUPANT_NOT_ON_PASS" in {
        r["code"] for r in decision["reasons"]
    }


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"roll": [{"n": 13}]}, "passenger 13 is not on the manifest of 12"),
        ({"roll": [{"n": 1}, {"n": 1}]}, "each passenger at most once"),
        ({"roll": [{"n": 0}]}, "roll.0.n"),
        ({"roll": [{"n": 1, "temperature_c": "50"}]}, "implausible"),
        ({"roll": [{"n": 1, "temperature_c": 381}]}, "for 38.1 °C type 38.1"),
        ({"roll": [{"n": 1, "aboard": False, "temperature_c": 36.5}]}, "not aboard but has a temperature"),
        ({"roll": [{"n": 1, "seat": 3}]}, "roll.0.seat"),
        ({"manifest": "CPM1:"}, "manifest"),
        ({"arrived_at": "2026-02-10T08:00:00"}, "zone"),
        ({"occupants": [DRIVER, MANAGER, MANAGER]}, "at most one occupant can be the bus's manager"),
    ],
)
def test_a_bus_scenario_that_does_not_fit_is_bad_input(station, changes, words):
    done = station.run("checkpoint", "decide", bus_scenario(station, **changes), "--json", expect=2)
    assert words in done.stderr and done.stdout == ""


def test_scan_reads_the_pass_and_its_pages(station, tmp_path):
    texts = [station.pass_text, *station.pages]
    framegen.make_frames(texts, tmp_path, conditions=["clean"], per_condition=len(texts), seed=7)
    done = station.run("checkpoint", "scan", "--source", tmp_path, "--json")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["kind"] for line in lines] == ["pass", "manifest_page", "manifest_page"]
    assert all(line["valid"] and line["pass_id"] == station.pass_id for line in lines)
    assert [(line.get("page"), line.get("pages")) for line in lines[1:]] == [("1/2", 2), ("2/2", 2)]
    assert lines[0]["claims"]["bus"]["pages"] == 2
    readable = station.run("checkpoint", "scan", "--source", tmp_path).stdout.splitlines()
    assert "VALID  manifest page 2/2" in readable[2]
