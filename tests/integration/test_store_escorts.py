"""The store's escort view: made with an ESCORT_REQUIRED decision, folded with the server's answers (this device's
and the other devices' of the checkpoint), closed by the hand-over that names who took the vehicle and the officer
— the first one stands, with its identity; purged with the staff identity once past retention."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from checkpoint_client import store_sqlite
from checkpoint_client.store import Store
from passcore.errors import InputError
from tests import factories
from tests.integration import test_store
from tests.integration.client_helpers import record_scenario
from tests.integration.test_store import escort_scenario

NOW = factories.NOW
TAKER = {"staff_name": " 周敏 ", "staff_id_last4": "123x", "officer": "KS-0042"}
store, signed_pass = test_store.store, test_store.signed_pass  # the fixtures, for this module


def test_escort_view_from_decision_to_hand_over(store, signed_pass):
    text, bundle = signed_pass
    _, decision, stored = record_scenario(store, escort_scenario(text), bundle, NOW)
    assert decision.outcome == "ESCORT_REQUIRED"
    [escort] = store.escorts()
    assert escort["crossing_id"] == stored.id and escort["status"] == "unsent" and escort["own"]
    assert escort["decided_at"] == NOW and escort["plate"] == "苏EA1234" and escort["server_id"] is None
    assert escort["enterprise"]["uscc"] == factories.USCC
    store.mark_synced([stored.id])
    assert store.escorts()[0]["status"] == "open" and store.waiting_for_request() == 1
    with pytest.raises(InputError) as early:
        store.record_handover(stored.id, NOW - timedelta(minutes=1), **TAKER)
    assert early.value.code == "HANDOVER_BEFORE_REQUEST"
    with pytest.raises(InputError) as naive:
        store.record_handover(stored.id, NOW.replace(tzinfo=None), **TAKER)
    assert naive.value.code == "HANDOVER_TIME_INVALID"
    with pytest.raises(InputError) as unknown:
        store.record_handover("6f1c2a9e-3b7d-4c1e-9a51-2d8f0b6e4a17", NOW, **TAKER)
    assert unknown.value.code == "ESCORT_UNKNOWN"
    server_view = {
        "id": 7, "crossing_id": stored.id, "plate": "苏EA1234", "status": "answered", "requested_at": NOW,
        "enterprise": {"uscc": factories.USCC, "name": "昆山精密机械有限公司", "phone": "0512-55550000"},
        "staff_name": "周敏", "staff_phone": "138 1234 5678", "eta": NOW + timedelta(minutes=40),
        "answered_at": NOW + timedelta(minutes=5), "handed_over_at": None,
    }  # fmt: skip
    other_device = server_view | {
        "id": 8,
        "crossing_id": "11111111-2222-4333-8444-555555555555",
        "status": "open",
        "requested_at": NOW + timedelta(minutes=1),
    }
    assert store.merge_escorts([server_view, other_device], server_time="2026-02-10T08:10:00+00:00") == 2
    assert (
        store.get_state("escorts_since") == "2026-02-10T08:10:00+00:00" and store.waiting_for_request() == 0
    )
    mine, theirs = store.escorts()
    assert (mine["status"], mine["server_id"], mine["staff_name"]) == ("answered", 7, "周敏")
    assert mine["eta"] == NOW + timedelta(minutes=40) and mine["enterprise"]["name"] == "昆山精密机械有限公司"
    assert (theirs["own"], theirs["status"], theirs["server_id"]) == (False, "open", 8)
    store.record_handover(stored.id, NOW + timedelta(minutes=42), **TAKER)
    # The first hand-over stands, with who took the vehicle.
    store.record_handover(stored.id, NOW + timedelta(minutes=50), staff_name="别人", staff_id_last4="0000")
    assert store.handovers_to_upload() == [
        (stored.id, 7, (NOW + timedelta(minutes=42)).isoformat(), "周敏", "123X", "KS-0042")
    ]
    store.merge_escorts([server_view], server_time=None)  # the server has not heard yet: ours stands
    assert [e["crossing_id"] for e in store.escorts()] == [theirs["crossing_id"]]
    [done] = [e for e in store.escorts(include_done=True) if e["crossing_id"] == stored.id]
    assert done["status"] == "handed_over" and not done["handover_synced"]
    store.handover_uploaded(
        stored.id,
        answer=server_view | {"status": "handed_over", "handed_over_at": NOW + timedelta(minutes=42)},
    )
    assert store.handovers_to_upload() == []
    [done] = [e for e in store.escorts(include_done=True) if e["crossing_id"] == stored.id]
    assert done["handover_synced"] and done["handed_over_at"] == NOW + timedelta(minutes=42)
    assert (done["handover_staff_name"], done["handover_staff_id_last4"], done["handover_officer"]) == (
        "周敏",
        "123X",
        "KS-0042",
    )


def own_escort(store, signed_pass) -> str:
    text, bundle = signed_pass
    stored = record_scenario(store, escort_scenario(text), bundle, NOW)[2]
    store.mark_synced([stored.id])
    return stored.id


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"staff_name": ""}, "HANDOVER_STAFF_NAME_INVALID"),
        ({"staff_name": "x" * 51}, "HANDOVER_STAFF_NAME_INVALID"),
        ({"staff_name": "周\u202e敏"}, "HANDOVER_STAFF_NAME_INVALID"),
        ({"staff_id_last4": "12"}, "HANDOVER_STAFF_ID_INVALID"),
        ({"staff_id_last4": "X123"}, "HANDOVER_STAFF_ID_INVALID"),
        ({"officer": "警 42"}, "HANDOVER_OFFICER_INVALID"),
    ],
)
def test_a_hand_over_without_a_usable_identity_records_nothing(store, signed_pass, changes, code):
    crossing_id = own_escort(store, signed_pass)
    with pytest.raises(InputError) as refused:
        store.record_handover(crossing_id, NOW + timedelta(minutes=5), **(TAKER | changes))
    assert refused.value.code == code
    [escort] = store.escorts()
    assert (
        escort["status"] == "open"
        and escort["handed_over_at"] is None
        and escort["handover_staff_name"] == ""
    )


def test_without_a_shift_the_officer_is_left_out(store, signed_pass):
    crossing_id = own_escort(store, signed_pass)
    store.record_handover(crossing_id, NOW + timedelta(minutes=5), staff_name="周敏", staff_id_last4="1234")
    assert _identity(store, crossing_id) == ("周敏", "1234", None)


def _identity(store, crossing_id: str) -> tuple:
    [done] = [e for e in store.escorts(include_done=True) if e["crossing_id"] == crossing_id]
    return done["handover_staff_name"], done["handover_staff_id_last4"], done["handover_officer"]


def server_escort(crossing_id: str, escort_id: int, **changes) -> dict:
    return {
        "id": escort_id, "crossing_id": crossing_id, "plate": "苏EA1234", "status": "open", "requested_at": NOW,
        "enterprise": None, "staff_name": "", "staff_phone": "", "eta": None, "answered_at": None,
        "handed_over_at": None,
    } | changes  # fmt: skip


def test_the_first_hand_over_stands_with_its_identity_wherever_it_was_recorded(store, signed_pass):
    crossing_id = own_escort(store, signed_pass)
    store.merge_escorts([server_escort(crossing_id, 7)], server_time=None)
    store.record_handover(crossing_id, NOW + timedelta(minutes=30), **TAKER)
    # The other laptop of the checkpoint handed it over first: its time and its identity stand.
    first = {"staff_name": "吴芳", "staff_id_last4": "5678", "officer": "KS-0007"}
    store.merge_escorts(
        [
            server_escort(
                crossing_id,
                7,
                status="handed_over",
                handed_over_at=NOW + timedelta(minutes=20),
                handover=first,
            )
        ],
        server_time=None,
    )
    assert _identity(store, crossing_id) == ("吴芳", "5678", "KS-0007") and store.handovers_to_upload() == []
    # An older server names nobody: what was typed here stays.
    other = own_escort(store, signed_pass)
    store.merge_escorts([server_escort(other, 8)], server_time=None)
    store.record_handover(other, NOW + timedelta(minutes=30), **TAKER)
    store.handover_uploaded(
        other,
        answer=server_escort(other, 8, status="handed_over", handed_over_at=NOW + timedelta(minutes=30)),
    )
    assert _identity(store, other) == ("周敏", "123X", "KS-0042")
    # Another device's hand-over fetched for the first time comes with who took the vehicle.
    theirs = "11111111-2222-4333-8444-555555555555"
    store.merge_escorts(
        [
            server_escort(
                theirs, 9, status="handed_over", handed_over_at=NOW + timedelta(minutes=9), handover=first
            )
        ],
        server_time=None,
    )
    assert _identity(store, theirs) == ("吴芳", "5678", "KS-0007")


def test_the_panel_lists_the_longest_wait_first_and_the_latest_hand_overs(store, signed_pass):
    text, bundle = signed_pass
    ids = []
    for minutes in (0, 10, 20):
        stored = record_scenario(store, escort_scenario(text), bundle, NOW + timedelta(minutes=minutes))[2]
        ids.append(stored.id)
    assert [e["crossing_id"] for e in store.escorts()] == ids  # decided first = waited longest
    store.record_handover(ids[1], NOW + timedelta(minutes=40), **TAKER)
    store.record_handover(ids[2], NOW + timedelta(minutes=50), **TAKER)
    assert [e["crossing_id"] for e in store.escorts()] == [ids[0]]
    recent = store.handed_over_since(NOW + timedelta(minutes=45))
    assert [e["crossing_id"] for e in recent] == [ids[2]]
    assert [e["crossing_id"] for e in store.handed_over_since(NOW)] == [ids[2], ids[1]]


def test_a_store_made_before_the_hand_over_identity_is_upgraded_in_place(tmp_path):
    path = tmp_path / "db" / "checkpoint.sqlite3"
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    for script in store_sqlite.MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute(
        "INSERT INTO escort (crossing_id, own, plate, decided_at, status, handed_over_at) "
        "VALUES ('a', 1, '苏EA1234', ?, 'handed_over', ?)",
        (NOW.isoformat(), (NOW + timedelta(minutes=5)).isoformat()),
    )
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    upgraded = Store.open(path)
    try:
        [done] = upgraded.escorts(include_done=True)
        assert done["handed_over_at"] == NOW + timedelta(minutes=5)
        assert (done["handover_staff_name"], done["handover_staff_id_last4"], done["handover_officer"]) == (
            "",
            "",
            None,
        )
        assert upgraded.handovers_to_upload() == []
    finally:
        upgraded.close()


def test_the_purge_removes_who_took_the_vehicle_over_from_the_file(store, signed_pass):
    crossing_id = own_escort(store, signed_pass)
    store.merge_escorts([server_escort(crossing_id, 7)], server_time=None)
    store.record_handover(
        crossing_id, NOW + timedelta(minutes=5), staff_name="欧阳震华", staff_id_last4="9876"
    )
    assert store.purge(NOW + timedelta(days=30)).escorts == 0  # not on the server yet: kept to be sent
    store.handover_uploaded(
        crossing_id,
        answer=server_escort(crossing_id, 7, status="handed_over", handed_over_at=NOW + timedelta(minutes=5)),
    )
    assert store.purge(NOW + timedelta(days=30)).escorts == 1
    assert store.escorts(include_done=True) == []
    on_disk = b"".join(p.read_bytes() for p in store.path.parent.glob("checkpoint.sqlite3*"))
    assert "欧阳震华".encode() not in on_disk
