"""The audit's alert rules, table-driven: crossing findings, escort waits, cloned passes, device chains."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from passcore.chain import GENESIS
from server.alerts import rules

NOW = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
KUNSHAN = (31.3856, 120.9807)
SUZHOU_WEST = (31.3201, 120.4528)


def facts(**changes) -> rules.CrossingFacts:
    base = {
        "crossing_id": "c1",
        "device_id": "d1",
        "checkpoint_id": 1,
        "decided_at": NOW,
        "outcome": "RELEASE",
        "reasons": frozenset({"PASS_VALID"}),
        "verification": "PASS_VALID",
        "pass_id": "0123456789abcdef01234567",
    }
    return rules.CrossingFacts(**(base | changes))


@pytest.mark.parametrize(
    ("changes", "kinds"),
    [
        ({}, set()),
        ({"verification": None, "pass_id": None, "reasons": frozenset({"NO_PASS"})}, set()),
        (
            {
                "outcome": "REFUSE",
                "verification": "PASS_SIGNATURE_INVALID",
                "reasons": frozenset({"PASS_SIGNATURE_INVALID"}),
            },
            {rules.PASS_FORGED},
        ),
        (
            {"outcome": "REFUSE", "verification": "PASS_MALFORMED", "reasons": frozenset({"PASS_MALFORMED"})},
            {rules.PASS_FORGED},
        ),
        (
            {
                "outcome": "REFUSE",
                "verification": "PASS_UNKNOWN_KEY",
                "reasons": frozenset({"PASS_UNKNOWN_KEY"}),
            },
            {rules.PASS_FORGED},
        ),
        (
            {
                "outcome": "REFUSE",
                "reasons": frozenset({"PASS_VALID", "PLATE_MISMATCH", "OCCUPANT_NOT_ON_PASS"}),
            },
            {rules.PASS_MISMATCH},
        ),
        (
            {"outcome": "REFUSE", "reasons": frozenset({"PASS_VALID", "LICENCE_MISMATCH"})},
            {rules.PASS_MISMATCH},
        ),
        (
            {"outcome": "MEDICAL_HOLD", "reasons": frozenset({"PASS_VALID", "FEVER"}), "fever_occupants": 2},
            {rules.FEVER},
        ),
        (
            {"outcome": "MEDICAL_HOLD", "reasons": frozenset({"PASS_VALID", "PERSON_MISMATCH", "FEVER"})},
            {rules.FEVER, rules.PASS_MISMATCH},
        ),
        (
            {"outcome": "REFUSE", "verification": "PASS_REVOKED", "reasons": frozenset({"PASS_REVOKED"})},
            {rules.PASS_REVOKED},
        ),
        # Revoked before the decision, but the device's bundle did not list it yet: it got through.
        ({"revoked_at": NOW - timedelta(hours=1)}, {rules.PASS_REVOKED}),
        ({"revoked_at": NOW}, {rules.PASS_REVOKED}),
        ({"revoked_at": NOW + timedelta(seconds=1)}, set()),  # revoked afterwards: nothing wrong then
        (
            {
                "outcome": "RELEASE",
                "verification": "PASS_EXPIRED",
                "reasons": frozenset({"PASS_EXPIRED", "NO_PASS"}),
            },
            set(),
        ),
    ],
)
def test_crossing_rules(changes, kinds):
    found = rules.crossing_findings(facts(**changes))
    assert {f.kind for f in found} == kinds
    for finding in found:
        assert finding.dedupe_key == f"{finding.kind}:c1"
        assert finding.crossing_id == "c1" and finding.checkpoint_id == 1 and finding.occurred_at == NOW
        json.dumps(finding.detail)  # stored as JSON


def test_revoked_detail_says_whether_the_device_knew():
    known = rules.crossing_findings(facts(verification="PASS_REVOKED", reasons=frozenset({"PASS_REVOKED"})))
    unknown = rules.crossing_findings(facts(revoked_at=NOW - timedelta(days=1)))
    assert known[0].detail == {"known_to_device": True}
    assert unknown[0].detail == {"known_to_device": False, "outcome": "RELEASE"}


@pytest.mark.parametrize(
    ("waited", "handed_over", "raised"),
    [
        (timedelta(minutes=59), False, False),
        (timedelta(minutes=60), False, False),  # at the limit is within it
        (timedelta(minutes=60, seconds=1), False, True),
        (timedelta(hours=5), False, True),
        (timedelta(minutes=30), True, False),
        (timedelta(minutes=61), True, True),  # handed over, but later than the limit allows
    ],
)
def test_escort_wait_boundary(waited, handed_over, raised):
    requested = NOW - timedelta(hours=6)
    found = rules.escort_finding(
        escort_id=7,
        crossing_id="c1",
        checkpoint_id=1,
        requested_at=requested,
        handed_over_at=requested + waited if handed_over else None,
        now=requested + waited if not handed_over else NOW,
        limit_minutes=60,
    )
    assert (found is not None) == raised
    if found:
        assert found.kind == rules.ESCORT_WAIT and found.dedupe_key == "escort_wait:7"
        assert found.detail["handed_over"] is handed_over and found.detail["limit_minutes"] == 60


def test_haversine_matches_known_distances():
    assert rules.haversine_km(*KUNSHAN, *KUNSHAN) == 0
    # Kunshan East to Suzhou West, and Beijing to Shanghai (about 1068 km as the crow flies).
    assert 50 < rules.haversine_km(*KUNSHAN, *SUZHOU_WEST) < 51.5
    assert 1060 < rules.haversine_km(39.9042, 116.4074, 31.2304, 121.4737) < 1075


# ---- chains --------------------------------------------------------------------------------------------------


def chain(n: int) -> list[rules.ChainLink]:
    links, prev = [], GENESIS
    for seq in range(1, n + 1):
        body = json.dumps({"seq": seq, "prev_hash": prev, "name": "张伟"}, ensure_ascii=False)
        digest = hashlib.sha256(body.encode()).hexdigest()
        links.append(rules.ChainLink(seq, f"c{seq}", prev, digest, body))
        prev = digest
    return links


def edited(link: rules.ChainLink) -> rules.ChainLink:
    return rules.ChainLink(
        link.seq, link.crossing_id, link.prev_hash, link.record_hash, link.body.replace("张伟", "李四")
    )


def relinked(link: rules.ChainLink) -> rules.ChainLink:
    return rules.ChainLink(link.seq, link.crossing_id, "f" * 64, link.record_hash, link.body)


def purged(link: rules.ChainLink) -> rules.ChainLink:
    return rules.ChainLink(link.seq, link.crossing_id, link.prev_hash, link.record_hash, None)


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda c: c, None),
        (lambda c: [], None),
        (lambda c: [purged(link) for link in c], None),  # purged bodies: the links still hold
        (lambda c: [*c[:3], edited(c[3]), *c[4:]], (rules.BODY_EDITED, 4, None)),
        (lambda c: c[:2] + c[4:], (rules.GAP, 5, (3, 4))),
        (lambda c: c[1:], (rules.GAP, 2, (1, 1))),
        (lambda c: [*c[:5], relinked(c[5]), *c[6:]], (rules.LINK_BROKEN, 6, None)),
        (lambda c: [relinked(c[0]), *c[1:]], (rules.LINK_BROKEN, 1, None)),
        # Two problems: the first one is reported.
        (lambda c: [*c[:1], edited(c[1]), *c[2:4], *c[5:]], (rules.BODY_EDITED, 2, None)),
        (lambda c: [*c[:6], purged(relinked(c[6])), *c[7:]], (rules.LINK_BROKEN, 7, None)),
    ],
)
def test_tampered_chain_reports_the_first_bad_record(tamper, expected):
    checked, problem = rules.first_problem(tamper(chain(10)))
    if expected is None:
        assert problem is None
        return
    kind, seq, missing = expected
    assert (problem.problem, problem.seq, problem.missing) == (kind, seq, missing)
    assert problem.crossing_id == f"c{seq}"
    assert checked >= 1


def test_chain_findings_are_gap_or_tampered():
    gap = rules.chain_finding("d1", 1, rules.ChainProblem(rules.GAP, 5, "c5", (3, 4)), NOW)
    edit = rules.chain_finding("d1", 1, rules.ChainProblem(rules.BODY_EDITED, 2, "c2"), NOW)
    assert gap.kind == rules.CHAIN_GAP and gap.detail == {"problem": "GAP", "seq": 5, "missing": [3, 4]}
    assert edit.kind == rules.CHAIN_TAMPERED and edit.dedupe_key == "chain_tampered:d1:2"


def test_a_window_mid_chain_trusts_its_anchor():
    links = chain(10)[4:8]
    assert rules.first_problem(links, expect_seq=5, expect_prev=None) == (4, None)
    checked, problem = rules.first_problem(links, expect_seq=5, expect_prev=GENESIS)
    assert problem.problem == rules.LINK_BROKEN and checked == 1


def test_details_hold_no_personal_data():
    """Alerts outlive retention: their details carry codes and numbers only."""
    findings = rules.crossing_findings(
        facts(outcome="MEDICAL_HOLD", reasons=frozenset({"FEVER", "PERSON_MISMATCH"}), fever_occupants=1)
    )
    text = json.dumps([f.detail for f in findings], ensure_ascii=False)
    assert "张" not in text and "temperature" not in text
