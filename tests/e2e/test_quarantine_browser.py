"""Quarantine follow-up in a real browser, in both languages (issue 14): two buses released a passenger from Wuhan
into the demo enterprise's quarantine; the enterprise confirms the recent arrival (a wrong entry first: the error
beside its field, nothing confirmed); the bureau sees the other task overdue, and its alert, which links to it.

The buses are uploaded as a checkpoint uploads them (a real bus pass and its signed pages, the bus rules, ingest),
under a policy that gives the enterprise one hour, so the older bus is overdue by the wall clock the pages use."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import col, select

from passcore import crossing, trust
from server import db, flows
from server.alerts import service as alerts
from server.checkpoints.models import Device
from server.config import get_settings
from server.crossings import service as crossings
from server.crossings.models import Crossing
from server.keyring import service as keyring
from server.quarantine.models import QuarantineTask
from tests.e2e.conftest import screenshot
from tests.e2e.test_portal_basics import sign_in
from tests.integration.bus_helpers import bus_record, issue_bus

WORDS = {
    "zh": {"confirmed": "已确认", "overdue": "已超期", "place_error": "请填写 2–100 个字的隔离地点"},
    "en": {
        "confirmed": "Confirmed",
        "overdue": "Overdue",
        "place_error": "Enter the quarantine place (2–100 characters)",
    },
}


def two_buses(server) -> tuple[int, int]:
    """(the recent task, the overdue task): buses decided 5 minutes and 2 hours ago, an hour to confirm each."""
    settings = get_settings(home=server["home"])
    engine = db.make_engine(settings)
    now = datetime.now(UTC)
    with db.session_scope(engine) as session:
        change = flows.update_policy(
            session=session,
            settings=settings,
            changes={"hard_hit": ["420000"], "quarantine_confirm_hours": 1},
            now=now,
            by="test",
        )
        bundle = trust.load_bundle(
            bytes(change.bundle.signed), root=keyring.load_root(settings).public, now=None
        )
    # issue_bus reads the app's engine and settings: the served installation's, opened here.
    _, qr, pages = issue_bus(SimpleNamespace(state=SimpleNamespace(engine=engine, settings=settings)), now)
    with db.session_scope(engine) as session:
        device = session.exec(select(Device).order_by(col(Device.id))).first()
        assert device is not None
        last = session.exec(
            select(Crossing.seq, Crossing.record_hash)
            .where(Crossing.device_id == device.id)
            .order_by(col(Crossing.seq).desc())
        ).first()
        seq, prev = last if last else (0, "0" * 64)
        records = []
        for ago in (timedelta(hours=2), timedelta(minutes=5)):
            seq += 1
            body = crossing.link(
                bus_record(qr, pages, bundle, now - ago), record_id=str(uuid.uuid4()), seq=seq, prev_hash=prev
            )
            prev = body["hash"]
            records.append(body)
        outcomes = crossings.ingest(session=session, device=device, records=records, now=now)
        assert [o.status for o in outcomes] == ["accepted", "accepted"], outcomes
        alerts.sweep(session=session, now=now, limits=alerts.Limits.of(settings))
        ids = {
            t.crossing_id: t.id
            for t in session.exec(
                select(QuarantineTask).where(col(QuarantineTask.crossing_id).in_([r["id"] for r in records]))
            )
        }
    engine.dispose()
    return ids[records[1]["id"]], ids[records[0]["id"]]


def sign_out(page) -> None:
    page.click("form[action='/logout'] button")
    page.wait_for_url("**/login**")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_enterprise_confirms_an_arrival_and_the_bureau_sees_the_other_overdue(server, new_page, lang):
    recent, overdue = two_buses(server)
    base, words = server["url"], WORDS[lang]
    page = new_page(lang)
    sign_in(page, base, "demo-enterprise", lang)
    page.goto(f"{base}/enterprise/quarantine")
    expect(page.locator(f"tr[data-task='{overdue}'] .overdue")).to_have_text(words["overdue"])
    page.click(f"tr[data-task='{recent}'] a.button")
    page.wait_for_url(f"**/enterprise/quarantine/{recent}")
    arrived = (datetime.now(UTC) - timedelta(minutes=2)).astimezone(ZoneInfo("Asia/Shanghai"))
    page.fill("#f-place", " ")
    page.fill("#f-arrived_at", arrived.strftime("%Y-%m-%dT%H:%M"))
    page.click("#quarantine-confirm button")
    expect(page.locator("#e-place")).to_have_text(words["place_error"])
    expect(page.locator("#quarantine-status")).not_to_have_text(words["confirmed"])
    page.fill("#f-place", "昆山市 公司宿舍 3号楼201")
    page.click("#quarantine-confirm button")
    page.wait_for_url("**/enterprise/quarantine?confirmed=*")
    row = page.locator(f"tr[data-task='{recent}']")
    expect(row.locator(".status")).to_have_text(words["confirmed"])
    expect(row).to_contain_text("昆山市 公司宿舍 3号楼201")
    screenshot(page, f"quarantine-confirmed-{lang}")
    sign_out(page)

    sign_in(page, base, "demo-reviewer", lang)
    page.goto(f"{base}/review/quarantine?status=overdue")
    late = page.locator(f"tr[data-task='{overdue}']")
    expect(late.locator(".overdue")).to_have_text(words["overdue"])
    assert page.locator(f"tr[data-task='{recent}']").count() == 0  # confirmed: not overdue
    screenshot(page, f"quarantine-overdue-{lang}")
    sign_out(page)

    sign_in(page, base, "demo-auditor", lang)
    page.goto(f"{base}/audit/alerts?kind=quarantine_overdue")
    page.locator("tr", has_text=f"#{overdue}").locator("a[href^='/audit/alerts/']").first.click()
    page.wait_for_url("**/audit/alerts/*")
    link = page.locator("#open-quarantine")
    expect(link).to_have_attribute("href", f"/review/quarantine/{overdue}")
    link.click()
    page.wait_for_url(f"**/review/quarantine/{overdue}")
    expect(page.locator("#quarantine-overdue")).to_have_text(words["overdue"])
