"""The server is the judge of a decision's context (issue 11): a record is replayed under the bundle the server had
served its device by the record's receipt (and by its decided_at, where that is plausible), not under the versions
and time the record claims. Real enrolled devices fetch real signed bundles with their token; both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from passcore import trust
from server import db, flows
from server.alerts import context, rules
from server.alerts.replay import replay_crossing
from server.crossings.models import Crossing
from server.deps import get_now
from server.keyring import service as keyring
from server.passes import service as passes
from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import alerts_of, decided, detail, issue_pass, scenario
from tests.integration.checkpoint_devices import make_checkpoint

device_factory = checkpoint_devices.device_factory

NOW = datetime.now(UTC)
HUBEI = scenario(
    plate="鄂A·77889",
    vehicle_origin="420100",
    enterprise="91320583MA1XY71231",
    occupants=[{"role": "driver", "name": "周强", "temperature_c": 36.6, "origin": "420100"}],
)


def ago(**delta: float) -> datetime:
    # From the moment of the call, not of the import: the audit compares with the live clock (an escort request
    # "30 minutes ago" must not be over the 60-minute limit because the suite ran for more than half an hour).
    return datetime.now(UTC) - timedelta(**delta)


@pytest.fixture
def clock(app) -> Iterator[dict[str, datetime | None]]:
    """The server's clock: set ``at`` to act in the past; None is the live clock."""
    state: dict[str, datetime | None] = {"at": None}
    app.dependency_overrides[get_now] = lambda: state["at"] or datetime.now(UTC)
    yield state
    app.dependency_overrides.pop(get_now, None)


def fetch(app, device, **headers: str) -> trust.TrustBundle:
    """The device's sync fetching the trust bundle with its token (as checkpoint_client.sync does)."""
    answer = device.get("/api/v1/trust-bundle", headers=headers)
    assert answer.status_code == 200, answer.text
    root = keyring.load_root(app.state.settings).public
    return trust.load_bundle(answer.content, root=root, now=None)


def hard_hit_hubei(app, at: datetime) -> None:
    with Session(app.state.engine, expire_on_commit=False) as session:
        flows.update_policy(
            session=session, settings=app.state.settings, changes={"hard_hit": "420000"}, now=at, by="test"
        )


def revoke(app, pass_id: str, at: datetime) -> None:
    with db.session_scope(app.state.engine) as session:
        passes.revoke(session=session, pass_id=pass_id, reason="测试撤销", by="test", now=at)


@pytest.fixture
def served(app, clock, device_factory) -> dict[str, Any]:
    """A device enrolled 3 h ago with bundle 1 (Hubei not hard-hit); 2 h ago Hubei became hard-hit (bundle 2,
    policy 2) and the device fetched it."""
    checkpoint = make_checkpoint(app)
    clock["at"] = ago(hours=3)
    device = device_factory(checkpoint)
    old = fetch(app, device)
    clock["at"] = ago(hours=2)
    hard_hit_hubei(app, ago(hours=2, minutes=1))
    new = fetch(app, device)
    clock["at"] = None
    assert new.version > old.version and new.policy.version > old.policy.version
    return {"device": device, "old": old, "new": new, "checkpoint": checkpoint}


def upload(device, *records: dict[str, Any]) -> None:
    answer = device.upload(*records).json()
    assert answer["accepted"] == len(records), answer


def replayed(app, record: dict[str, Any]):
    with Session(app.state.engine) as session:
        return replay_crossing(session, session.get(Crossing, record["id"]))


def kinds_of(app, record: dict[str, Any]) -> set[str]:
    return {a.kind for a in alerts_of(app) if a.crossing_id == record["id"]}


def test_an_old_claimed_policy_releasing_a_hubei_vehicle_is_judged_under_the_policy_the_device_held(
    app, served, api, portal
):
    device, old = served["device"], served["old"]
    # A tampered laptop decides under the old bundle it still has a copy of: consistent with its own claim.
    record = decided(device, HUBEI, old, ago(minutes=30))
    assert record["outcome"] == "RELEASE" and record["bundle_version"] == old.version
    upload(device, record)
    assert kinds_of(app, record) == {rules.STALE_RULES, rules.RELEASE_FORBIDDEN}
    (stale,) = alerts_of(app, rules.STALE_RULES)
    assert detail(stale)["problems"] == ["OLDER_BUNDLE", "OLDER_POLICY"]
    assert (detail(stale)["claimed_bundle"], detail(stale)["held_bundle"]) == (
        old.version,
        served["new"].version,
    )
    (forbidden,) = alerts_of(app, rules.RELEASE_FORBIDDEN)
    assert detail(forbidden)["replayed"]["outcome"] == "ESCORT_REQUIRED"
    assert detail(forbidden)["context"]["bundle"] == served["new"].version
    result = replayed(app, record)
    assert not result.matches and result.context.bundle_version == served["new"].version
    assert (result.bundle_version, result.policy_version) == (old.version, old.policy.version)  # as claimed
    # The auditor is told which context the server used, and why.
    shown = api("auditor").get(f"/api/v1/audit/crossings/{record['id']}").json()["replay"]["context"]
    assert shown["differs"] and shown["problems"] == ["OLDER_BUNDLE", "OLDER_POLICY"]
    assert (shown["bundle_version"], shown["claimed_bundle_version"]) == (served["new"].version, old.version)
    auditor = portal("auditor")
    page = auditor.get(f"/audit/crossings/{record['id']}", params={"lang": "en"}).text
    assert 'id="replay-context"' in page and "which the device had been served" in page
    assert "it names an older policy than the device held" in page
    listing = auditor.get("/audit/alerts", params={"lang": "en"}).text
    assert "Released against the rules the device held" in listing and "Older rules claimed" in listing
    alert_page = auditor.get(f"/audit/alerts/{forbidden.id}", params={"lang": "zh"}).text
    assert "按服务器认定的政策不应放行" in alert_page and 'id="replay-context"' in alert_page


@pytest.mark.parametrize("claim", ["no bundle", "another device's bundle"])
def test_a_bundle_never_served_to_the_device_is_not_believed(app, served, clock, device_factory, claim):
    device, old, new = served["device"], served["old"], served["new"]
    if claim == "no bundle":
        record = decided(device, HUBEI, old, ago(minutes=30), bundle_version=0)
        expected = {rules.BUNDLE_NOT_SERVED, rules.STALE_RULES, rules.RELEASE_FORBIDDEN}
    else:
        # A newer bundle exists (a revocation), but only another laptop fetched it.
        pass_id, _ = issue_pass(app)
        revoke(app, pass_id, ago(hours=1, minutes=35))
        clock["at"] = ago(hours=1, minutes=30)
        other = device_factory(served["checkpoint"], "laptop 2")
        newest = fetch(app, other)
        clock["at"] = None
        assert newest.version > new.version
        record = decided(device, HUBEI, newest, ago(minutes=30))
        expected = {rules.BUNDLE_NOT_SERVED}
    upload(device, record)
    assert kinds_of(app, record) == expected
    (unserved,) = alerts_of(app, rules.BUNDLE_NOT_SERVED)
    assert detail(unserved)["problems"] == (["NO_BUNDLE"] if claim == "no bundle" else ["NOT_SERVED"])
    assert replayed(app, record).context.bundle_version == new.version


def test_a_revoked_pass_released_with_decided_at_before_the_revocation_is_caught(app, clock, device_factory):
    pass_id, qr = issue_pass(app)
    clock["at"] = ago(hours=3)
    device = device_factory(make_checkpoint(app))
    before = fetch(app, device)
    revoke(app, pass_id, ago(hours=2, minutes=5))
    clock["at"] = ago(hours=2)
    after = fetch(app, device)  # the device's sync brought the revocation 2 h ago
    clock["at"] = None
    assert pass_id in after.revoked and pass_id not in before.revoked
    # Released now, but dated before the revocation and claiming the bundle that did not list it yet.
    record = decided(device, scenario(qr), before, ago(hours=2, minutes=40))
    assert record["outcome"] == "RELEASE"
    upload(device, record)
    assert {rules.DECIDED_AT_IMPLAUSIBLE, rules.STALE_RULES, rules.RELEASE_FORBIDDEN} <= kinds_of(app, record)
    (late,) = alerts_of(app, rules.DECIDED_AT_IMPLAUSIBLE)
    assert detail(late)["problems"] == ["BEFORE_LAST_FETCH"]
    result = replayed(app, record)
    assert result.verification == "PASS_REVOKED" and result.outcome == "REFUSE"
    assert result.context.bundle_version == after.version


def test_a_decision_dated_2099_is_judged_at_its_receipt(app, served):
    device, new = served["device"], served["new"]
    record = decided(device, scenario(), new, datetime(2099, 1, 1, tzinfo=UTC))
    upload(device, record)
    (implausible,) = alerts_of(app, rules.DECIDED_AT_IMPLAUSIBLE)
    assert implausible.crossing_id == record["id"] and detail(implausible)["problems"] == ["AFTER_RECEIPT"]
    assert implausible.occurred_at < datetime(2098, 1, 1, tzinfo=UTC)  # not listed first until 2099
    result = replayed(app, record)
    assert result.context.at.year == NOW.year


def test_honest_records_raise_nothing_and_replay_under_their_claim(app, clock, device_factory, api):
    _, qr = issue_pass(app)
    _, other_qr = issue_pass(app, vehicle={"plate": "苏E·B7777", "plate_colour": "blue"})
    checkpoint = make_checkpoint(app)
    clock["at"] = ago(hours=3)
    device = device_factory(checkpoint)
    offline = device_factory(checkpoint, "laptop 2")
    old = fetch(app, device)
    assert fetch(app, offline).version == old.version
    first = decided(device, scenario(qr), old, ago(hours=2, minutes=40))
    # The sync two hours ago: upload first, then the bundle (Hubei became hard-hit just before).
    clock["at"] = ago(hours=2)
    upload(device, first)
    hard_hit_hubei(app, ago(hours=2, minutes=10))
    new = fetch(app, device)
    # Decided while that sync ran (before its bundle arrived), so it went up with the next one.
    during = decided(device, HUBEI, old, ago(hours=2, minutes=5))
    clock["at"] = ago(minutes=40)
    upload(device, during)
    etag = device.get("/api/v1/trust-bundle").headers["ETag"]
    assert device.get("/api/v1/trust-bundle", headers={"If-None-Match": etag}).status_code == 304
    clock["at"] = None
    later = decided(device, scenario(other_qr, plate="苏E·B7777"), new, ago(minutes=30))
    # The second laptop was offline all along: it still releases Hubei vehicles under the old policy, rightly.
    stale_but_honest = decided(offline, HUBEI, old, ago(minutes=20))
    upload(device, later)
    upload(offline, stale_but_honest)
    assert during["outcome"] == "RELEASE" and stale_but_honest["outcome"] == "RELEASE"
    assert [a.kind for a in alerts_of(app)] == []
    for record in (first, during, later, stale_but_honest):
        result = replayed(app, record)
        assert result.matches and not result.context.differs and result.context.known
        assert result.context.bundle_version == record["bundle_version"]
    shown = api("auditor").get(f"/api/v1/audit/crossings/{later['id']}").json()["replay"]["context"]
    assert shown["known"] and not shown["differs"] and shown["problems"] == []


# ---- the choice itself (pure) ----------------------------------------------------------------------------------

T = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)


def _history(*identities: tuple[datetime, list[tuple[int, int, datetime]]]) -> context.History:
    return context.History(
        tuple(
            context.Identity(f"d{n}", enrolled, tuple(context.Serving(*s) for s in servings))
            for n, (enrolled, servings) in enumerate(identities)
        )
    )


LAPTOP = _history((T, [(1, 1, T), (2, 2, T + timedelta(hours=5))]))


@pytest.mark.parametrize(
    ("bundle", "policy", "decided", "received", "problems", "chosen"),
    [
        (1, 1, T + timedelta(hours=1), T + timedelta(hours=2), (), 1),  # offline, then synced
        (
            1,
            1,
            T + timedelta(hours=4, minutes=50),
            T + timedelta(hours=6),
            (),
            1,
        ),  # during the sync that fetched 2
        (2, 2, T + timedelta(hours=4, minutes=50), T + timedelta(hours=6), (), 2),  # its clock 10 min behind
        (
            1,
            1,
            T + timedelta(hours=4),
            T + timedelta(hours=6),
            ("BEFORE_LAST_FETCH", "OLDER_BUNDLE", "OLDER_POLICY"),
            2,
        ),
        (1, 1, T + timedelta(hours=6), T + timedelta(hours=7), ("OLDER_BUNDLE", "OLDER_POLICY"), 2),
        (2, 2, T + timedelta(hours=3), T + timedelta(hours=6), ("BEFORE_LAST_FETCH", "BEFORE_BUNDLE"), 2),
        (1, 1, T - timedelta(hours=1), T + timedelta(hours=1), ("BEFORE_ENROLMENT", "BEFORE_BUNDLE"), 1),
        (1, 1, T + timedelta(hours=3), T + timedelta(hours=1), ("AFTER_RECEIPT",), 1),
        (3, 2, T + timedelta(hours=6), T + timedelta(hours=7), ("NOT_SERVED",), 2),
        (0, 1, T + timedelta(hours=1), T + timedelta(hours=2), ("NO_BUNDLE",), 1),
    ],
)
def test_the_server_chooses_the_context_from_what_it_served(
    bundle, policy, decided, received, problems, chosen
):
    found = context.choose(context.Claim(bundle, policy, decided, received), LAPTOP)
    assert (found.problems, found.bundle_version, found.known) == (problems, chosen, True)
    plausible = not set(problems) & set(context.TIME_PROBLEMS)
    assert found.at == (decided if plausible else received)


def test_a_laptop_enrolled_again_is_judged_with_what_its_earlier_enrolment_was_served():
    # Decided under the first enrolment, uploaded after the second: its bundle went to the earlier device id.
    laptop = _history((T, [(1, 1, T)]), (T + timedelta(hours=5), [(2, 1, T + timedelta(hours=5))]))
    claim = context.Claim(1, 1, T + timedelta(hours=4), T + timedelta(hours=6))
    assert context.choose(claim, laptop).problems == ()
    assert context.choose(claim, context.History(laptop.identities[1:])).problems == (
        "BEFORE_ENROLMENT",
        "NOT_SERVED",
        "OLDER_BUNDLE",
    )


def test_without_history_only_what_needs_none_is_judged():
    claim = context.Claim(7, 1, T - timedelta(days=3), T)  # a device enrolled before servings were recorded
    assert context.choose(claim, None) == context.DecisionContext(7, None, claim.decided_at, claim)
    future = context.Claim(7, 1, datetime(2099, 1, 1, tzinfo=UTC), T)
    assert context.choose(future, None).problems == ("AFTER_RECEIPT",)
    assert context.choose(future, None).at == T
