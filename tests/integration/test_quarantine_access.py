"""Access matrix of every quarantine route (issue 14): the task's enterprise, another enterprise, each bureau role,
anonymous callers and a checkpoint device; a task that does not exist answers like another enterprise's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from server.quarantine.models import QuarantineTask
from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import change_policy
from tests.integration.bus_helpers import bus_record, issue_bus
from tests.integration.checkpoint_devices import make_checkpoint
from tests.integration.conftest import OTHER_USCC

device_factory = checkpoint_devices.device_factory

USERS = ("clerk", "rival", "reviewer", "auditor", "admin")


def arrived() -> str:
    """Twenty minutes ago, read when the test runs: the bus was released an hour before the test's own now, and a
    time taken when the module was imported falls before that release once the suite has run for 40 minutes."""
    return (datetime.now(UTC) - timedelta(minutes=20)).isoformat()


@pytest.fixture
def world(app, device_factory):
    """One open quarantine task of the clerk's enterprise, from a bus decided an hour ago."""
    _, qr, pages = issue_bus(app)
    bundle = change_policy(app, hard_hit="420000")
    device = device_factory(make_checkpoint(app))
    record = device.record(**bus_record(qr, pages, bundle, datetime.now(UTC) - timedelta(hours=1)))
    assert device.upload(record).json()["accepted"] == 1
    with Session(app.state.engine) as session:
        task = session.exec(select(QuarantineTask)).one()
    return {"task": task.id, "device": device}


def web_client(portal, username):
    if username is None:
        client = portal()
        client.get("/login")
        client.csrf = client.cookies.get("cp_csrf")
        return client
    return portal(username)


def check(results: dict, expected: dict) -> None:
    assert results == expected, {k: (results[k], expected[k]) for k in expected if results[k] != expected[k]}


def test_the_pages(portal, world):
    task = world["task"]
    paths = {
        "enterprise list": "/enterprise/quarantine",
        "enterprise task": f"/enterprise/quarantine/{task}",
        "bureau list": "/review/quarantine",
        "bureau task": f"/review/quarantine/{task}",
        "audit's former list": "/audit/quarantine",
    }
    results = {
        (what, u): web_client(portal, u).get(path, follow_redirects=False).status_code
        for what, path in paths.items()
        for u in (*USERS, None)
    }
    expected = {}
    for u in (*USERS, None):
        bureau = u in ("reviewer", "auditor", "admin")
        expected |= {
            ("enterprise list", u): 303 if u is None else 200 if u in ("clerk", "rival") else 403,
            ("enterprise task", u): 303
            if u is None
            else 200
            if u == "clerk"
            else 404
            if u == "rival"
            else 403,
            ("bureau list", u): 303 if u is None else 200 if bureau else 403,
            ("bureau task", u): 303 if u is None else 200 if bureau else 403,
            ("audit's former list", u): 303 if u is None else 308 if bureau else 403,  # to the one list
        }
    check(results, expected)
    assert web_client(portal, "clerk").get("/enterprise/quarantine/999999").status_code == 404
    assert web_client(portal, "auditor").get("/review/quarantine/999999").status_code == 404
    assert world["device"].get("/review/quarantine").status_code in (401, 403)


def test_the_confirm_form(portal, world):
    path = f"/enterprise/quarantine/{world['task']}"
    bad = {"place": "", "arrived_at": arrived()[:16]}
    results = {
        u: web_client(portal, u).form(path, bad, follow_redirects=False).status_code for u in (*USERS, None)
    }
    check(results, {"clerk": 422, "rival": 404, "reviewer": 403, "auditor": 403, "admin": 403, None: 401})
    good = {"place": "公司宿舍3号楼201", "arrived_at": arrived()}
    rival = web_client(portal, "rival").form(path, good, follow_redirects=False)
    assert rival.status_code == 404
    done = web_client(portal, "clerk").form(path, good, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/enterprise/quarantine")
    assert web_client(portal, "clerk").form(path, good, follow_redirects=False).status_code == 409


def test_the_api(api, world):
    task = world["task"]
    lists = {u: api(u).get("/api/v1/quarantine/tasks") for u in (*USERS, None)}
    shown = {u: r.status_code if r.status_code != 200 else len(r.json()["tasks"]) for u, r in lists.items()}
    check(shown, {"clerk": 1, "rival": 0, "reviewer": 1, "auditor": 1, "admin": 1, None: 401})
    one = {u: api(u).get(f"/api/v1/quarantine/tasks/{task}").status_code for u in (*USERS, None)}
    check(one, {"clerk": 200, "rival": 404, "reviewer": 200, "auditor": 200, "admin": 200, None: 401})
    body = {"place": "公司宿舍3号楼201", "arrived_at": arrived()}
    confirm = f"/api/v1/quarantine/tasks/{task}/confirm"
    answers = {
        u: api(u).post(confirm, json=body).status_code
        for u in ("rival", "reviewer", "auditor", "admin", None)
    }
    check(answers, {"rival": 404, "reviewer": 403, "auditor": 403, "admin": 403, None: 401})
    device = world["device"]
    # A device's token names no person: it is not signed in as anyone who may see tasks.
    assert device.get("/api/v1/quarantine/tasks").status_code == 401
    assert device.post(confirm, json=body).status_code == 401
    assert api("clerk").get("/api/v1/quarantine/tasks/999999").status_code == 404
    assert api("clerk").get("/api/v1/quarantine/tasks?status=bogus").status_code == 422
    assert api("clerk").post(confirm, json=body).status_code == 200


def test_the_list_filters_are_the_same_for_every_reader_and_never_widen_an_enterprise(api, app, world):
    """GET /api/v1/quarantine/tasks: the page's filters (state, enterprise, checkpoint) and 100 tasks a page."""
    with Session(app.state.engine) as session:
        task = session.get(QuarantineTask, world["task"])
        assert task is not None
        checkpoint, uscc = task.checkpoint_id, task.enterprise_uscc
    for u in ("reviewer", "auditor", "admin"):
        ours = api(u).get("/api/v1/quarantine/tasks", params={"enterprise": uscc, "checkpoint": checkpoint})
        assert [t["id"] for t in ours.json()["tasks"]] == [world["task"]], u
        assert api(u).get("/api/v1/quarantine/tasks", params={"enterprise": OTHER_USCC}).json()["tasks"] == []
        assert api(u).get("/api/v1/quarantine/tasks", params={"status": "confirmed"}).json()["tasks"] == []
        bad = api(u).get("/api/v1/quarantine/tasks", params={"checkpoint": "x", "enterprise": "没有这家公司"})
        assert bad.status_code == 422 and set(bad.json()["errors"]) == {"checkpoint", "enterprise"}, u
    # An enterprise's filter narrows its own tasks only: naming another enterprise shows nothing, not theirs.
    assert api("rival").get("/api/v1/quarantine/tasks", params={"enterprise": uscc}).json()["tasks"] == []
    own = api("clerk").get("/api/v1/quarantine/tasks", params={"enterprise": OTHER_USCC}).json()
    assert own["tasks"] == [] and own["counts"]["open"] == 1
    for page in ("0", "1001", "x"):
        assert api("auditor").get("/api/v1/quarantine/tasks", params={"page": page}).status_code == 422
    # Released in a range (the dashboard's): the task was decided an hour ago.
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    since = {"from": (hour_ago - timedelta(minutes=5)).isoformat()}
    assert len(api("auditor").get("/api/v1/quarantine/tasks", params=since).json()["tasks"]) == 1
    later = {"from": (hour_ago + timedelta(minutes=5)).isoformat()}
    assert api("auditor").get("/api/v1/quarantine/tasks", params=later).json()["tasks"] == []
    wrong = api("auditor").get("/api/v1/quarantine/tasks", params={"from": "昨天", "to": "2026-02-30"})
    assert wrong.status_code == 422 and set(wrong.json()["errors"]) == {"from", "to"}


def test_the_list_is_paged_most_urgent_first(api, app, portal, world):
    """101 tasks: 100 on the first page, the overdue one at the top; the second page holds the last."""
    with Session(app.state.engine) as session:
        first = session.get(QuarantineTask, world["task"])
        assert first is not None
        later = first.due_at + timedelta(days=3)  # not due yet: behind the overdue one
        for number in range(100, 200):
            session.add(
                QuarantineTask(
                    crossing_id=first.crossing_id, passenger=number, enterprise_uscc=first.enterprise_uscc,
                    pass_id=first.pass_id, checkpoint_id=first.checkpoint_id, plate=first.plate,
                    name=f"乘客{number}", decided_at=first.decided_at, due_at=later, created_at=first.created_at,
                )
            )  # fmt: skip
        first.due_at = first.decided_at  # overdue now
        session.add(first)
        session.commit()
    one = api("reviewer").get("/api/v1/quarantine/tasks").json()
    assert len(one["tasks"]) == 100 and one["tasks"][0]["id"] == world["task"] and one["tasks"][0]["overdue"]
    assert (one["page"], one["next_page"]) == (1, 2) and one["counts"]["open"] == 101
    two = api("reviewer").get("/api/v1/quarantine/tasks", params={"page": 2}).json()
    assert len(two["tasks"]) == 1 and two["next_page"] is None
    assert {t["id"] for t in one["tasks"]}.isdisjoint(t["id"] for t in two["tasks"])
    first_page = portal("reviewer").get("/review/quarantine", params={"status": "open"}).text
    assert first_page.count('class="task ') == 100
    assert 'href="/review/quarantine?status=open&amp;page=2"' in first_page
    last = portal("reviewer").get("/review/quarantine", params={"status": "open", "page": "2"}).text
    assert last.count('class="task ') == 1 and 'id="quarantine-previous"' in last
    assert 'id="quarantine-next"' not in last
