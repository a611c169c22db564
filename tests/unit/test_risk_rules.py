"""The risk rules (server/applications/risk.py): a pure function of the application body, the hard-hit list and
the enterprise's history."""

from __future__ import annotations

import pytest

from passcore import ids
from server.applications import risk
from server.applications.models import Application

DRIVER = "420106199001011234"  # born in Wuhan, Wuchang district
ESCORT = "320583199202022345"  # born in Kunshan


def body(**changes) -> dict:
    """The stored (masked) form of an application body: ID numbers keep their first six digits."""
    return {
        "vehicle": {"plate": "苏EA1234", "plate_colour": "blue"},
        "driver": {"name": "张伟", "id_number": DRIVER[:6] + "********" + DRIVER[-4:]},
        "escorts": [{"name": "李娜", "id_number": ESCORT[:6] + "********" + ESCORT[-4:]}],
        "origin": "320583",
        "destination": "310000",
        "travel_history": ["320500"],
        "valid_from": "2026-01-01T00:00:00Z",
        "valid_until": "2026-01-02T00:00:00Z",
    } | changes


def codes(reasons: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(r["code"], r["detail"]) for r in reasons]


@pytest.mark.parametrize(
    ("hard_hit", "changes", "expected"),
    [
        ((), {}, []),
        (("110000",), {}, []),
        (
            ("320000",),
            {},
            [
                ("origin", "320583"),
                ("travel_history", "320500"),
                ("plate", "320000"),
                ("escort_birthplace", "320583"),
            ],
        ),
        (
            ("320500",),
            {},
            [("origin", "320583"), ("travel_history", "320500"), ("escort_birthplace", "320583")],
        ),
        (("310000",), {}, [("destination", "310000")]),
        (("420100",), {}, [("driver_birthplace", "420106")]),
        (
            ("420000",),
            {"vehicle": {"plate": "鄂AD12345"}},
            [("plate", "420000"), ("driver_birthplace", "420106")],
        ),
        # A place named twice in the travel history is one reason.
        (
            ("340100",),
            {"travel_history": ["340102", "340102", "340104"]},
            [("travel_history", "340102"), ("travel_history", "340104")],
        ),
    ],
)
def test_each_place_in_the_hard_hit_area_is_a_reason(hard_hit, changes, expected):
    assert codes(risk.assess(body(**changes), hard_hit)) == expected


def test_refusals_and_revocations_of_the_enterprise_are_reasons_with_their_count():
    reasons = risk.assess(body(), (), refusals=2, revocations=1)
    assert codes(reasons) == [("refusals", "2"), ("revocations", "1")]


@pytest.mark.parametrize(
    "changes",
    [
        {"origin": "not a code", "destination": None, "travel_history": [7, "12"]},
        {"vehicle": {"plate": "??"}, "driver": {"id_number": "*"}, "escorts": [{}]},
        {"vehicle": {}, "driver": {}, "escorts": None, "travel_history": None},
    ],
)
def test_odd_values_are_never_a_reason_and_never_fail(changes):
    # (The body keeps its other, valid places: only those can be reasons.)
    reasons = risk.assess(body(**changes), ("320000", "420000", "110000", "310000"))
    odd = {str(value) for value in changes.values()}
    assert all(r["code"] in risk.REASONS and r["detail"] not in odd for r in reasons)
    assert risk.assess(body(**changes), ("110000",)) == []


def test_the_stored_reasons_are_described_in_both_languages():
    application = Application(
        enterprise_uscc="x",
        created_by=1,
        body_json="{}",
        plate="苏EA1234",
        created_at=None,
        updated_at=None,
        risk=2,
        risk_reasons='[{"code": "origin", "detail": "420100"}, {"code": "refusals", "detail": "3"}]',
    )
    zh, en = risk.describe(application, "zh"), risk.describe(application, "en")
    assert zh[0].startswith("始发地 湖北省 武汉市") and "420100" in zh[0] and "3" in zh[1]
    assert en[0].startswith("Origin 湖北省 武汉市 (420100)") and en[1].startswith("The enterprise has had 3")


def test_a_stored_reason_without_its_detail_reads_with_an_empty_one():
    application = Application(
        enterprise_uscc="x", created_by=1, body_json="{}", plate="x", risk_reasons='[{"code": "refusals"}]'
    )
    assert risk.reasons_of(application) == [{"code": "refusals", "detail": ""}]


@pytest.mark.parametrize("stored", ["", "not json", "{}", '[{"code": "unknown"}, 5]'])
def test_unreadable_stored_reasons_read_as_none(stored):
    application = Application(
        enterprise_uscc="x", created_by=1, body_json="{}", plate="x", risk_reasons=stored
    )
    assert risk.describe(application, "zh") == []


AREAS = ("420000", "320500", "320583", "110000", "650100")
CODES = (
    "420102",
    "420000",
    "429021",
    "320500",
    "320583",
    "320585",
    "320000",
    "110105",
    "650102",
    "650200",
    "310000",
)


@pytest.mark.parametrize("area", AREAS)
def test_the_hard_hit_sets_cover_exactly_what_ids_covers_does(area):
    hard_hit = risk.HardHit([area])
    assert [hard_hit.covers(code) for code in CODES] == [ids.covers(area, code) for code in CODES]
    assert risk.HardHit(AREAS).covers("420102") and not risk.HardHit(AREAS).covers("310000")
