"""The cloned-pass check, pure: two sightings of one pass are a clone only when the distance between two located
checkpoints cannot be covered in the time between them, allowances included."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from server.alerts import rules
from server.alerts.facts import Limits
from server.config import get_settings

NOW = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
KUNSHAN = (31.3856, 120.9807)
SUZHOU_WEST = (31.3201, 120.4528)
KUNSHAN_NEAR = (31.3856, 120.9965)  # 1.5 km east of KUNSHAN: within the distance slack
REACH = rules.Reach(max_speed_kmh=120, clock_skew=timedelta(minutes=5), slack_km=2)
DISTANCE = rules.haversine_km(*KUNSHAN, *SUZHOU_WEST)  # about 50.7 km
# The shortest time between the two that one vehicle explains: (50.7 - 2) km at 120 km/h, less 5 minutes.
BOUNDARY = timedelta(hours=(DISTANCE - 2) / 120) - timedelta(minutes=5)


def sighting(
    crossing_id: str,
    checkpoint_id: int,
    at: datetime,
    where: tuple[float, float] | None = KUNSHAN,
    pass_id: str = "p1",
    repeat_of: str | None = None,
) -> rules.Sighting:
    lat, lon = where if where else (None, None)
    return rules.Sighting(crossing_id, pass_id, checkpoint_id, at, lat, lon, "d1", repeat_of)


FIRST = sighting("a", 1, NOW)


@pytest.mark.parametrize(
    ("second", "cloned"),
    [
        # Two checkpoints about 50 km apart: the boundary is about 19.4 minutes with the allowances.
        (sighting("b", 2, NOW + BOUNDARY - timedelta(seconds=1), SUZHOU_WEST), True),
        (sighting("b", 2, NOW + BOUNDARY + timedelta(seconds=1), SUZHOU_WEST), False),
        (sighting("b", 2, NOW + timedelta(minutes=4), SUZHOU_WEST), True),
        (sighting("b", 2, NOW, SUZHOU_WEST), True),  # at two places at once
        (sighting("b", 2, NOW - timedelta(minutes=4), SUZHOU_WEST), True),  # order does not matter
        (sighting("b", 2, NOW + timedelta(hours=2), SUZHOU_WEST), False),
        (sighting("b", 2, NOW + timedelta(minutes=4), SUZHOU_WEST, pass_id="p2"), False),  # another pass
        # Two checkpoints at one place, or closer than the slack: never too far.
        (sighting("b", 2, NOW, KUNSHAN), False),
        (sighting("b", 2, NOW, KUNSHAN_NEAR), False),
        # A checkpoint without coordinates cannot be judged on distance.
        (sighting("b", 2, NOW + timedelta(minutes=1), None), False),
        # One checkpoint: a repeat, a re-measure, a vehicle that turned back — however soon.
        (sighting("b", 1, NOW + timedelta(seconds=1)), False),
        (sighting("b", 1, NOW), False),
        (sighting("b", 1, NOW + timedelta(hours=3)), False),
        (sighting("a", 1, NOW), False),  # the same crossing is not a second sighting
        # A record that re-decides the other is the same vehicle by the device's own account.
        (sighting("b", 2, NOW + timedelta(minutes=4), SUZHOU_WEST, repeat_of="a"), False),
        (sighting("b", 2, NOW + timedelta(minutes=4), SUZHOU_WEST, repeat_of="z"), True),
    ],
)
def test_cloned_pass_boundary(second, cloned):
    found = rules.clone_finding(FIRST, second, reach=REACH)
    assert (found is not None) == cloned
    if found:
        assert found.kind == rules.CLONED_PASS and found.dedupe_key == "cloned_pass:a:b"
        assert found.occurred_at == max(FIRST.at, second.at)
        again = rules.clone_finding(second, FIRST, reach=REACH)
        assert again is not None and again.dedupe_key == found.dedupe_key  # raised once for the pair


def test_an_unlocated_first_sighting_is_not_judged_either():
    unlocated = sighting("a", 1, NOW, None)
    assert rules.clone_finding(unlocated, sighting("b", 2, NOW, SUZHOU_WEST), reach=REACH) is None


def test_a_repeat_naming_the_later_one_is_excused_too():
    # Clocks may put the re-measure before the record it re-decides: the link counts, not the order.
    earlier = sighting("b", 2, NOW + timedelta(minutes=4), SUZHOU_WEST)
    assert rules.clone_finding(replace(FIRST, repeat_of="b"), earlier, reach=REACH) is None


@pytest.mark.parametrize(
    ("behind", "skew_minutes", "cloned"),
    [
        (timedelta(0), 0, False),  # exact clocks: the drive is just possible
        (timedelta(minutes=4), 0, True),  # the second device's clock 4 minutes behind, no allowance: accused
        (timedelta(minutes=4), 5, False),  # the allowance covers it
        (timedelta(minutes=5), 5, False),  # at the allowance
        (timedelta(minutes=6), 5, True),  # beyond it: the allowance is a bound, not a guess
    ],
)
def test_clock_skew_between_devices(behind, skew_minutes, cloned):
    """A vehicle covering the straight line less the slack at exactly the top speed, seen by a second device
    whose clock runs ``behind`` the first's."""
    reach = replace(REACH, clock_skew=timedelta(minutes=skew_minutes))
    drive = timedelta(hours=(DISTANCE - 2) / 120)
    second = sighting("b", 2, NOW + drive - behind, SUZHOU_WEST)
    assert (rules.clone_finding(FIRST, second, reach=reach) is not None) == cloned


def test_clone_detail_reports_distance_and_the_least_speed_with_the_allowances():
    found = rules.clone_finding(FIRST, sighting("b", 2, NOW + timedelta(minutes=4), SUZHOU_WEST), reach=REACH)
    assert found is not None
    assert found.detail["distance_km"] == pytest.approx(50.7, abs=0.5)
    assert found.detail["minutes"] == 4.0
    # (50.7 - 2) km in 4 + 5 minutes: about 325 km/h, more than the 120 allowed.
    assert found.detail["speed_kmh"] == pytest.approx((DISTANCE - 2) / (9 / 60), abs=0.1)
    assert found.detail["max_speed_kmh"] == 120 and found.detail["skew_minutes"] == 5
    assert found.detail["slack_km"] == 2
    assert found.detail["other_crossing_id"] == "a" and found.crossing_id == "b"
    assert found.detail["other_checkpoint_id"] == 1 and found.checkpoint_id == 2


def test_a_faster_allowed_speed_moves_the_boundary():
    pair = (FIRST, sighting("b", 2, NOW + timedelta(minutes=15), SUZHOU_WEST))
    assert rules.clone_finding(*pair, reach=REACH) is not None
    assert rules.clone_finding(*pair, reach=replace(REACH, max_speed_kmh=200)) is None


def test_the_defaults_are_generous():
    reach = rules.Reach()
    assert (reach.max_speed_kmh, reach.clock_skew, reach.slack_km) == (150, timedelta(minutes=5), 2)
    # 50 km in 20 minutes is a fast but possible drive at the defaults.
    assert (
        rules.clone_finding(FIRST, sighting("b", 2, NOW + timedelta(minutes=20), SUZHOU_WEST), reach=reach)
        is None
    )


def test_the_settings_defaults_are_the_rule_s(tmp_path):
    # The ingest path builds its limits from the settings, the sweep's callers may use Limits(): the same reach.
    assert Limits.of(get_settings(home=tmp_path)) == Limits()


# ---- neighbours in time ---------------------------------------------------------------------------------------


def test_a_much_copied_pass_gives_one_finding_per_impossible_step_not_per_pair():
    sightings = [
        sighting(f"s{k:02}", k % 2 + 1, NOW + timedelta(minutes=2 * k), SUZHOU_WEST if k % 2 else KUNSHAN)
        for k in range(40)
    ]
    found = rules.clone_findings(sightings, {s.crossing_id for s in sightings}, reach=REACH)
    assert len(found) == 39  # the 780 pairs are implied by the 39 steps
    assert len({f.dedupe_key for f in found}) == 39


def test_only_the_new_sightings_are_judged():
    old = [sighting("a", 1, NOW), sighting("b", 2, NOW + timedelta(minutes=2), SUZHOU_WEST)]
    new = sighting("c", 2, NOW + timedelta(hours=3), SUZHOU_WEST)
    assert rules.clone_findings([*old, new], {"c"}, reach=REACH) == []  # the old pair was judged when it came


def test_an_unlocated_checkpoint_between_does_not_hide_the_step_around_it():
    between = sighting("b", 3, NOW + timedelta(minutes=2), None)
    later = sighting("c", 2, NOW + timedelta(minutes=4), SUZHOU_WEST)
    (found,) = rules.clone_findings([FIRST, between, later], {"b", "c"}, reach=REACH)
    assert found.crossing_id == "c" and found.detail["other_crossing_id"] == "a"


def test_repeats_at_one_checkpoint_and_a_re_measure_are_never_clones():
    day = [
        sighting("a", 1, NOW),
        sighting("b", 1, NOW + timedelta(seconds=40)),  # the pass still in the camera's view
        sighting("c", 1, NOW + timedelta(minutes=20), repeat_of="a"),  # re-measured after a fever
        sighting("d", 2, NOW + timedelta(hours=1), SUZHOU_WEST),  # drove on: 50 km in 40 minutes
        sighting("e", 1, NOW + timedelta(hours=6)),  # came back the same day
        sighting("f", 1, NOW + timedelta(hours=6, minutes=3)),
    ]
    assert rules.clone_findings(day, {s.crossing_id for s in day}, reach=REACH) == []


def test_a_clone_between_the_original_s_sightings_is_found_against_both_neighbours():
    day = [
        sighting("a", 1, NOW),
        sighting("x", 2, NOW + timedelta(minutes=3), SUZHOU_WEST),  # the copy, 50 km away
        sighting("b", 1, NOW + timedelta(minutes=6)),  # the original, turned back
    ]
    found = rules.clone_findings(day, {"x"}, reach=REACH)
    assert sorted(f.dedupe_key for f in found) == ["cloned_pass:a:x", "cloned_pass:b:x"]
