"""Reviewers approving one application at the same moment get exactly one pass (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from server.applications.models import Application, ApplicationEvent
from server.passes.models import IssuedPass
from tests.integration.test_applications import body, submitted

APPROVERS = 50


def test_fifty_concurrent_approvals_issue_exactly_one_pass(app, api):
    application_id = submitted(api("clerk"))
    headers = {"authorization": api("reviewer").headers["authorization"]}
    start = threading.Barrier(APPROVERS)
    outcomes: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def approve() -> None:
        with TestClient(app, headers=headers) as client:  # its own client, request and database session
            start.wait()
            response = client.post(f"/api/v1/applications/{application_id}/approve")
        with lock:
            outcomes.append((response.status_code, response.json().get("code")))

    threads = [threading.Thread(target=approve) for _ in range(APPROVERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert Counter(outcomes) == {(200, None): 1, (409, "STATUS_CONFLICT"): APPROVERS - 1}
    with Session(app.state.engine) as session:
        passes = session.exec(select(IssuedPass)).all()
        application = session.get(Application, application_id)
        approvals = session.exec(
            select(func.count())
            .select_from(ApplicationEvent)
            .where(
                ApplicationEvent.application_id == application_id, ApplicationEvent.to_status == "approved"
            )
        ).one()
    assert len(passes) == 1 and passes[0].application_id == application_id
    assert application.status == "issued" and application.pass_id == passes[0].pass_id
    assert approvals == 1


def test_concurrent_approvals_of_different_applications_get_distinct_serials(app, api):
    clerk = api("clerk")
    # Eight lorries: one plate holds one pass at a time (tests/integration/test_one_vehicle_one_pass.py).
    ids = [
        submitted(clerk, body(vehicle={"plate": f"苏E·B{n:04d}", "plate_colour": "blue"})) for n in range(8)
    ]
    headers = {"authorization": api("reviewer").headers["authorization"]}
    start = threading.Barrier(len(ids))
    codes: list[int] = []

    def approve(application_id: int) -> None:
        with TestClient(app, headers=headers) as client:
            start.wait()
            codes.append(client.post(f"/api/v1/applications/{application_id}/approve").status_code)

    threads = [threading.Thread(target=approve, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert codes == [200] * len(ids)
    with Session(app.state.engine) as session:
        serials = sorted(session.exec(select(IssuedPass.serial)).all())
    assert serials == [f"320583-{n:06d}" for n in range(1, len(ids) + 1)]
