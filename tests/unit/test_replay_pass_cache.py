"""The replay checks a pass's signature once per bundle, across replay contexts (a worker's batches), and never
reuses a result computed under another bundle."""

from __future__ import annotations

from datetime import timedelta

import pytest

from passcore import trust
from server.alerts import replay
from tests.factories import NOW, issuer, make_bundle, make_claims, signed


@pytest.fixture
def counted(monkeypatch):
    calls: list[str] = []
    real = trust.authenticate

    def authenticate(text, bundle):
        calls.append(text)
        return real(text, bundle)

    monkeypatch.setattr(replay.trust, "authenticate", authenticate)
    monkeypatch.setattr(replay, "_AUTHENTICATED", {})
    return calls


def test_a_pass_seen_in_another_batch_is_not_authenticated_again(counted):
    text, key = signed()
    bundle = make_bundle([issuer(key)])
    first = replay.ReplayContext(None).verify(text, bundle, NOW)  # type: ignore[arg-type]
    later = replay.ReplayContext(None).verify(text, bundle, NOW + timedelta(days=20))  # type: ignore[arg-type]
    assert first.valid and first.code == "PASS_VALID"
    assert not later.valid and later.code == "PASS_EXPIRED"  # the instant is still judged every time
    assert counted == [text]


def test_a_result_is_not_reused_for_another_bundle_of_the_same_version(counted):
    text, key = signed(make_claims())
    bundle = make_bundle([issuer(key)], version=7)
    revoked = make_bundle([issuer(key)], version=7, revoked=frozenset({make_claims().pass_id}))
    assert replay.ReplayContext(None).verify(text, bundle, NOW).valid  # type: ignore[arg-type]
    verdict = replay.ReplayContext(None).verify(text, revoked, NOW)  # type: ignore[arg-type]
    assert verdict.code == "PASS_REVOKED" and len(counted) == 2


def test_the_cache_is_bounded(counted, monkeypatch):
    monkeypatch.setattr(replay, "MAX_AUTHENTICATED", 3)
    key = signed()[1]
    bundle = make_bundle([issuer(key)])
    texts = [signed(make_claims(pass_id=f"{n:024x}"), key)[0] for n in range(5)]
    for text in texts:
        assert replay.ReplayContext(None).verify(text, bundle, NOW).valid  # type: ignore[arg-type]
    assert len(replay._AUTHENTICATED) <= 3 and len(counted) == 5
