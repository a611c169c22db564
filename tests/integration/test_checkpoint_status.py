"""The public checkpoint status page (高速公路通道查询): no sign-in, the same for everyone and cacheable, only names,
places and states; administrators set a checkpoint's state."""

from __future__ import annotations

import pytest

from tests.integration.checkpoint_devices import make_checkpoint


def test_anyone_sees_the_checkpoints_and_an_admin_changes_their_state(app, portal, api):
    first = make_checkpoint(app, "G312 昆山东卡口")
    make_checkpoint(app, "S224 花桥卡口")
    anonymous = portal()
    page = anonymous.get("/checkpoints/status")
    assert page.status_code == 200
    assert "G312 昆山东卡口" in page.text and "S224 花桥卡口" in page.text
    assert page.text.count('data-state="open"') == 2
    assert "set-cookie" not in page.headers and page.headers["cache-control"] == "public, max-age=60"
    admin = portal("admin")
    changed = admin.form(
        f"/admin/checkpoints/{first}/traffic",
        {"state": "green", "note": "防疫物资优先"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    after = portal().get("/checkpoints/status?lang=en").text
    assert 'data-state="green"' in after and "Green channel" in after and "防疫物资优先" in after
    listed = api().get("/api/v1/checkpoints/status").json()["checkpoints"]
    assert {row["name"]: row["state"] for row in listed} == {
        "G312 昆山东卡口": "green",
        "S224 花桥卡口": "open",
    }
    assert set(listed[0]) == {"name", "region", "location", "state", "note", "changed_at"}


@pytest.mark.parametrize("who", ["reviewer", "clerk"])
def test_only_an_admin_sets_a_state(app, portal, who):
    checkpoint = make_checkpoint(app)
    response = portal(who).form(f"/admin/checkpoints/{checkpoint}/traffic", {"state": "closed"})
    assert response.status_code == 403


def test_an_unknown_state_changes_nothing(app, portal):
    checkpoint = make_checkpoint(app)
    assert (
        portal("admin").form(f"/admin/checkpoints/{checkpoint}/traffic", {"state": "half"}).status_code == 422
    )
    assert 'data-state="open"' in portal().get("/checkpoints/status").text
