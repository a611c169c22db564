"""The store's escort view: made with an ESCORT_REQUIRED decision, folded with the server's answers (this device's
and the other devices' of the checkpoint), closed by the hand-over — the first one stands."""

from __future__ import annotations

from datetime import timedelta

import pytest

from passcore.errors import InputError
from tests import factories
from tests.integration import test_store
from tests.integration.client_helpers import record_scenario
from tests.integration.test_store import escort_scenario

NOW = factories.NOW
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
        store.record_handover(stored.id, NOW - timedelta(minutes=1))
    assert early.value.code == "HANDOVER_BEFORE_REQUEST"
    with pytest.raises(InputError) as naive:
        store.record_handover(stored.id, NOW.replace(tzinfo=None))
    assert naive.value.code == "HANDOVER_TIME_INVALID"
    with pytest.raises(InputError) as unknown:
        store.record_handover("6f1c2a9e-3b7d-4c1e-9a51-2d8f0b6e4a17", NOW)
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
    store.record_handover(stored.id, NOW + timedelta(minutes=42))
    store.record_handover(stored.id, NOW + timedelta(minutes=50))  # the first hand-over stands
    assert store.handovers_to_upload() == [(stored.id, 7, (NOW + timedelta(minutes=42)).isoformat())]
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
