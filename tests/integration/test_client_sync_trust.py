"""Sync and trust against a real `checkpass serve` (SQLite and PostgreSQL): a newer bundle is fetched and used;
forged, older and expired bundles are refused and the held one kept; clock skew is flagged; transient failures are
retried with capped exponential back-off and full jitter (Retry-After honoured); a revoked device is told to
enrol again."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from checkpoint_client import device as devices
from checkpoint_client import truststore
from checkpoint_client.config import get_settings
from checkpoint_client.store import Store
from checkpoint_client.sync import SyncError, sync_once
from passcore import trust
from passcore.keys import generate_signing_key
from server.config import get_settings as server_settings
from server.keyring import service as keyring
from tests.integration import client_helpers
from tests.integration.client_helpers import enrol_checkpoint

# The fixtures, for this module: a real server per database, its bureau, and a freshly enrolled laptop.
bureau_server, bureau, checkpoint = (
    client_helpers.bureau_server,
    client_helpers.bureau,
    client_helpers.checkpoint,
)


def test_a_newer_bundle_is_fetched_and_used(bureau_server, checkpoint):
    before = checkpoint.bundle().version
    pass_id = json.loads((bureau_server.home / "demo-out" / "kunshan" / "pass.json").read_text())["pass_id"]
    bureau_server.run("revoke", pass_id, "--reason", "测试吊销")
    report = checkpoint.sync()
    assert report.bundle["status"] == "updated" and report.bundle["version"] > before
    assert pass_id in checkpoint.bundle().revoked
    assert checkpoint.decide("release").record["outcome"] == "REFUSE"  # the revoked pass is refused now
    assert checkpoint.sync().bundle["status"] == "unchanged"  # If-None-Match: 304


class Tampering(httpx.HTTPTransport):
    """The network between the laptop and the server, changing the trust bundle on its way."""

    def __init__(self, change) -> None:
        super().__init__()
        self.change = change

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers.pop("If-None-Match", None)
        response = super().handle_request(request)
        if request.url.path != "/api/v1/trust-bundle" or response.status_code != 200:
            return response
        body = self.change(response.read())
        return httpx.Response(200, headers={"ETag": '"forged"'}, content=body)


@pytest.mark.parametrize(
    ("forgery", "code"),
    [("bit-flipped", "BUNDLE_SIGNATURE_INVALID"), ("another-root", "BUNDLE_UNKNOWN_ROOT")],
)
def test_a_forged_bundle_is_refused_and_the_held_one_kept(bureau_server, checkpoint, forgery, code):
    root = truststore.pinned_root(checkpoint.settings)

    def change(data: bytes) -> bytes:
        if forgery == "bit-flipped":
            return data[:-1] + bytes([data[-1] ^ 1])  # inside the signature
        bundle = trust.load_bundle(data, root=root, now=None)
        return trust.sign_bundle(replace(bundle, version=bundle.version + 1), generate_signing_key())

    held = checkpoint.settings.bundle_path.read_bytes()
    with httpx.Client(transport=Tampering(change)) as client:
        report = checkpoint.sync(client=client)
    assert report.bundle["status"] == "refused" and report.bundle["code"] == code
    assert checkpoint.settings.bundle_path.read_bytes() == held
    assert report.bundle["version"] == checkpoint.bundle().version


def test_an_older_bundle_from_the_server_is_refused(bureau_server, checkpoint):
    # The laptop holds a newer bundle (signed by the real root) than the server now offers, as after the server
    # was restored from an old backup: the older one must not replace it.
    root = keyring.load_root(
        server_settings(home=bureau_server.home, database_url=bureau_server.database_url)
    )
    newer = replace(checkpoint.bundle(), version=10_000)
    path = checkpoint.settings.home / "newer.cose"
    path.write_bytes(trust.sign_bundle(newer, root))
    truststore.import_bundle(checkpoint.settings, path, now=datetime.now(UTC))
    report = checkpoint.sync()
    assert report.bundle["status"] == "refused" and report.bundle["code"] == "BUNDLE_ROLLBACK"
    assert checkpoint.bundle().version == 10_000 and report.bundle["version"] == 10_000


def test_expired_bundle_refused_and_clock_skew_flagged(bureau_server, checkpoint):
    bundle = checkpoint.bundle()
    late = checkpoint.sync(now=bundle.expires_at + timedelta(days=1))  # the laptop's clock far ahead
    assert late.bundle["status"] == "refused" and late.bundle["code"] == "BUNDLE_EXPIRED"
    early = checkpoint.sync(now=bundle.issued_at - timedelta(hours=2))  # the laptop's clock behind
    assert early.clock_skew is True and early.bundle["version"] == bundle.version
    assert checkpoint.sync().clock_skew is False


def test_unreachable_server_retries_with_backoff_then_reports(bureau_server, bureau, tmp_path):
    checkpoint = enrol_checkpoint(
        bureau_server, bureau, tmp_path / "cp", sync_attempts=4, sync_backoff_s=0.5, sync_backoff_max_s=1.5
    )
    checkpoint.decide("release")
    dead = replace(checkpoint.device, server=f"http://127.0.0.1:{client_helpers.free_port()}")
    devices.save_device(checkpoint.settings, dead)
    with pytest.raises(SyncError) as failed:
        checkpoint.sync(rand=lambda: 1.0)
    assert failed.value.code == "SERVER_UNREACHABLE" and "cannot be reached" in failed.value.message
    assert checkpoint.sleeps == [0.5, 1.0, 1.5]  # doubling, capped; full jitter scales these by rand()
    assert failed.value.report.pending == 1 and checkpoint.store.pending_count() == 1
    # Down for two attempts, then back: the third attempt gets through.
    devices.save_device(checkpoint.settings, replace(dead, server=bureau_server.url))
    bureau_server.kill()
    checkpoint.sleeps.clear()

    def sleep(delay: float) -> None:
        checkpoint.sleeps.append(delay)
        if len(checkpoint.sleeps) == 2:
            bureau_server.start()

    report = sync_once(checkpoint.settings, checkpoint.store, sleep=sleep, rand=lambda: 0.5)
    assert report.uploaded == 1 and report.retries == 2 and checkpoint.sleeps == [0.25, 0.5]
    checkpoint.store.close()


class Overloaded(httpx.HTTPTransport):
    """A proxy in front of the server answering 503 and then 429 (with Retry-After) before letting one through."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = [httpx.Response(503), httpx.Response(429, headers={"Retry-After": "7"})]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.answers.pop(0) if self.answers else super().handle_request(request)


def test_5xx_and_429_are_retried_and_retry_after_is_honoured(bureau_server, bureau, tmp_path):
    checkpoint = enrol_checkpoint(bureau_server, bureau, tmp_path / "cp", sync_backoff_max_s=10)
    checkpoint.decide("no-pass")
    with httpx.Client(transport=Overloaded()) as client:
        report = checkpoint.sync(client=client, rand=lambda: 0.0)
    assert report.uploaded == 1 and report.retries == 2
    assert checkpoint.sleeps == [0.0, 7.0]  # jitter may say 0; the server's Retry-After may not be ignored
    checkpoint.store.close()


def test_revoked_device_is_told_to_enrol_again(bureau_server, bureau, checkpoint):
    checkpoint.decide("release")
    bureau.revoke(checkpoint.device.checkpoint["id"], checkpoint.device.device_id)
    with pytest.raises(SyncError) as refused:
        checkpoint.sync()
    assert refused.value.code == "DEVICE_REVOKED" and "checkpoint enroll" in refused.value.message
    assert checkpoint.device.token not in refused.value.message
    assert checkpoint.store.pending_count() == 1 and checkpoint.sleeps == []  # kept, and no pointless retries


def test_not_enrolled(tmp_path):
    settings = get_settings(home=tmp_path)
    store = Store.open(settings.store_path)
    with pytest.raises(SyncError) as refused:
        sync_once(settings, store)
    assert refused.value.code == "NOT_ENROLLED" and "checkpoint enroll" in refused.value.message
    store.close()
