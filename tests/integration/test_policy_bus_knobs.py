"""The issue-14 policy knobs (bus_fever, bus_occupancy_percent, quarantine_confirm_hours) on the administrator's page,
the policy API and `checkpass policy set`, in both languages; each change a new signed version in a new bundle."""

from __future__ import annotations

import pytest

from tests.integration.test_admin import bundle_version, load, policy_form
from tests.integration.test_cli import Station
from tests.integration.test_policy_knobs_admin import current, refused_beside_field

KNOBS = {"bus_fever": "RELEASE_OTHERS", "bus_occupancy_percent": "60", "quarantine_confirm_hours": "12"}


def test_the_page_shows_and_changes_the_bus_knobs(app, portal, api):
    admin = portal("admin")
    page = admin.get("/admin/policy?lang=zh").text
    assert "车上有人发热时" in page and "整车留观（默认）" in page and 'name="bus_occupancy_percent"' in page
    assert 'id="bus-occupancy">50 %' in page and 'id="quarantine-hours">24' in page
    before = bundle_version(api)
    response = admin.form("/admin/policy", policy_form(**KNOBS), follow_redirects=False)
    assert response.status_code == 303, response.text
    bundle = load(app, api().get("/api/v1/trust-bundle").content)
    assert bundle.version == before + 1
    assert bundle.policy.bus_fever == "RELEASE_OTHERS"
    assert bundle.policy.bus_occupancy_percent == 60 and bundle.policy.quarantine_confirm_hours == 12
    page = admin.get("/admin/policy?lang=en").text
    assert "Hold the person only" in page and 'id="bus-occupancy">60 %' in page
    assert "Quarantine arrival confirmation limit (hours)" in page

    # A form from before the knobs existed leaves them as they are.
    admin.form("/admin/policy", policy_form(note="另一通告"), follow_redirects=False)
    policy = current(app)
    assert (policy.bus_fever, policy.bus_occupancy_percent, policy.quarantine_confirm_hours) == (
        "RELEASE_OTHERS",
        60,
        12,
    )


@pytest.mark.parametrize(
    ("lang", "bad", "message"),
    [
        ("zh", {"bus_occupancy_percent": "0"}, "请填写 1 到 100 之间的整数"),
        ("en", {"bus_occupancy_percent": "101"}, "Enter a whole number from 1 to 100"),
        ("en", {"bus_occupancy_percent": "五十"}, "Enter a whole number from 1 to 100"),
        ("zh", {"quarantine_confirm_hours": "721"}, "请填写 1 到 720 之间的整数小时"),
        ("en", {"quarantine_confirm_hours": "1.5"}, "A whole number of hours from 1 to 720"),
        ("zh", {"bus_fever": "hold-everyone"}, "请从列表中选择"),
    ],
)
def test_bad_bus_knobs_are_shown_next_to_their_field_and_nothing_changes(app, portal, lang, bad, message):
    refused_beside_field(app, portal, lang, bad, message)


def test_every_bad_bus_knob_is_marked_at_once(app, portal):
    admin = portal("admin")
    admin.get("/admin/policy?lang=en")
    bad = {"bus_fever": "x", "bus_occupancy_percent": "-5", "quarantine_confirm_hours": ""}
    response = admin.form("/admin/policy", policy_form(**bad, bus_knobs="1"))
    assert response.status_code == 422
    for name in bad:
        assert f'id="e-{name}"' in response.text
    assert current(app).version == 1


def test_the_api_reads_and_changes_the_bus_knobs(app, api):
    shown = api("clerk").get("/api/v1/policy").json()
    assert (shown["bus_fever"], shown["bus_occupancy_percent"], shown["quarantine_confirm_hours"]) == (
        "HOLD_BUS",
        50,
        24,
    )
    assert api("clerk").put("/api/v1/policy", json={"bus_occupancy_percent": 60}).status_code == 403
    admin = api("admin")
    changed = admin.put("/api/v1/policy", json={"bus_fever": "RELEASE_OTHERS", "bus_occupancy_percent": 75})
    assert changed.status_code == 200, changed.text
    assert changed.json()["policy"]["bus_fever"] == "RELEASE_OTHERS"
    assert changed.json()["policy"]["bus_occupancy_percent"] == 75
    bad = admin.put("/api/v1/policy", json={"bus_occupancy_percent": 0, "quarantine_confirm_hours": 10_000})
    assert bad.status_code == 422
    assert bad.json()["errors"] == {
        "bus_occupancy_percent": "admin_percent_invalid",
        "quarantine_confirm_hours": "admin_quarantine_hours_invalid",
    }
    assert current(app).bus_occupancy_percent == 75


def test_policy_set_takes_the_bus_knobs(tmp_path):
    station = Station(tmp_path, None)
    station.run("checkpass", "init")
    policy = station.json(
        "checkpass",
        "policy",
        "set",
        "--bus-fever",
        "release-others",
        "--bus-occupancy",
        "50",
        "--quarantine-hours",
        "48",
        "--json",
    )
    assert policy["bus_fever"] == "RELEASE_OTHERS"
    assert policy["bus_occupancy_percent"] == 50 and policy["quarantine_confirm_hours"] == 48
    assert station.json("checkpass", "policy", "show", "--json") == policy
    back = station.json("checkpass", "policy", "set", "--bus-fever", "hold-bus", "--json")
    assert back["bus_fever"] == "HOLD_BUS" and back["version"] == policy["version"] + 1
    station.run("checkpass", "policy", "set", "--bus-fever", "HOLD", expect=2)
    station.run("checkpass", "policy", "set", "--bus-occupancy", "0", expect=2)
    station.run("checkpass", "policy", "set", "--bus-occupancy", "101", expect=2)
    station.run("checkpass", "policy", "set", "--quarantine-hours", "721", expect=2)
    assert station.json("checkpass", "policy", "show", "--json")["version"] == back["version"]
