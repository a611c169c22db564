"""The issue-12 policy knobs (pass_misuse, repeat_window_minutes, fever_referrals) on the administrator's page, the
policy API and `checkpass policy set`, in both languages; each change a new signed version in a new bundle."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from server.policy import service as policy_service
from tests.integration.test_admin import bundle_version, load, policy_form
from tests.integration.test_cli import Station

KNOBS = {
    "pass_misuse": "as_no_pass",
    "repeat_window_minutes": "30",
    "fever_referrals": "昆山市第一人民医院发热门诊\n昆山市中医医院发热门诊\n",
}


def current(app):
    with Session(app.state.engine) as session:
        return policy_service.current(session)


def test_the_page_shows_and_changes_the_new_knobs(app, portal, api):
    admin = portal("admin")
    page = admin.get("/admin/policy?lang=zh").text
    assert "通行证被冒用时" in page and "一律劝返（默认）" in page and 'name="fever_referrals"' in page
    before = bundle_version(api)
    response = admin.form("/admin/policy", policy_form(**KNOBS), follow_redirects=False)
    assert response.status_code == 303, response.text
    bundle = load(app, api().get("/api/v1/trust-bundle").content)
    assert bundle.version == before + 1
    assert bundle.policy.pass_misuse == "as_no_pass"
    assert bundle.policy.repeat_window_minutes == 30
    assert bundle.policy.fever_referrals == ("昆山市第一人民医院发热门诊", "昆山市中医医院发热门诊")
    page = admin.get("/admin/policy?lang=en").text
    assert "Judge the vehicle as one without a pass" in page and "昆山市中医医院发热门诊" in page

    # A form from before the knobs existed leaves them as they are.
    admin.form("/admin/policy", policy_form(note="另一通告"), follow_redirects=False)
    assert current(app).pass_misuse == "as_no_pass" and current(app).repeat_window_minutes == 30
    # An empty referral list clears it.
    admin.form("/admin/policy", policy_form(fever_referrals="", later_knobs="1"), follow_redirects=False)
    assert current(app).fever_referrals == ()


@pytest.mark.parametrize(
    ("lang", "bad", "message"),
    [
        ("zh", {"repeat_window_minutes": "0"}, "请输入 1–1440 之间的整数分钟"),
        ("en", {"repeat_window_minutes": "1441"}, "A whole number of minutes from 1 to 1440"),
        ("zh", {"fever_referrals": "门诊\n门诊"}, "最多 10 个去向"),
        ("en", {"fever_referrals": "\n".join(f"place {i}" for i in range(11))}, "At most 10 places"),
        ("en", {"fever_referrals": "x" * 61}, "At most 10 places"),
        ("zh", {"pass_misuse": "ignore"}, 'id="e-pass_misuse"'),
    ],
)
def test_bad_knobs_are_shown_next_to_their_field_and_nothing_changes(app, portal, lang, bad, message):
    refused_beside_field(app, portal, lang, bad, message)


def refused_beside_field(app, portal, lang: str, bad: dict[str, str], message: str) -> None:
    """The policy form with ``bad`` (one knob) is answered 422 with ``message`` by that field; nothing changes.
    Shared with the later knobs' tests (test_policy_bus_knobs.py)."""
    admin = portal("admin")
    admin.get(f"/admin/policy?lang={lang}")
    response = admin.form("/admin/policy", policy_form(**bad))
    assert response.status_code == 422
    assert f'id="e-{next(iter(bad))}"' in response.text
    assert message in response.text
    assert current(app).version == 1


def test_the_api_reads_and_changes_the_new_knobs(app, api):
    shown = api("clerk").get("/api/v1/policy").json()
    assert (shown["pass_misuse"], shown["repeat_window_minutes"], shown["fever_referrals"]) == (
        "refuse",
        15,
        [],
    )
    admin = api("admin")
    changed = admin.put("/api/v1/policy", json={"pass_misuse": "as_no_pass", "fever_referrals": ["发热门诊"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["policy"]["pass_misuse"] == "as_no_pass"
    assert changed.json()["policy"]["fever_referrals"] == ["发热门诊"]
    bad = admin.put("/api/v1/policy", json={"repeat_window_minutes": 0, "pass_misuse": "x"})
    assert bad.status_code == 422
    assert bad.json()["errors"] == {
        "repeat_window_minutes": "admin_window_invalid",
        "pass_misuse": "admin_choice_invalid",
    }


def test_policy_set_takes_the_new_knobs(tmp_path):
    station = Station(tmp_path, None)
    station.run("checkpass", "init")
    policy = station.json(
        "checkpass",
        "policy",
        "set",
        "--pass-misuse",
        "as_no_pass",
        "--repeat-window",
        "20",
        "--fever-referral",
        "昆山市第一人民医院发热门诊",
        "--fever-referral",
        "昆山市中医医院发热门诊",
        "--json",
    )
    assert policy["pass_misuse"] == "as_no_pass" and policy["repeat_window_minutes"] == 20
    assert policy["fever_referrals"] == ["昆山市第一人民医院发热门诊", "昆山市中医医院发热门诊"]
    shown = station.json("checkpass", "policy", "show", "--json")
    assert shown == policy
    cleared = station.json("checkpass", "policy", "set", "--fever-referral", "", "--json")
    assert cleared["fever_referrals"] == [] and cleared["pass_misuse"] == "as_no_pass"
    station.run("checkpass", "policy", "set", "--pass-misuse", "ignore", expect=2)
    station.run("checkpass", "policy", "set", "--repeat-window", "0", expect=2)
    assert station.json("checkpass", "policy", "show", "--json")["version"] == cleared["version"]
