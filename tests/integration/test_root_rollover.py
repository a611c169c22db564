"""The root key offline, a delegated bundle-signing key, and a root rollover followed by an enrolled checkpoint
through its ordinary sync (issue 15), against a real `checkpass serve` on SQLite and on PostgreSQL.

The ceremony runs through the real `checkpass root …` commands; the "offline machine" is a directory the server's
keys/ never sees again once the root key is moved there. The laptop is enrolled once, before any of it, and is
never enrolled again: it learns the signing key's certificate and the new root from the bundles it fetches.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
import httpx
import pytest
from cwt import COSE, COSEKey
from sqlmodel import select

from checkpoint_client import truststore
from passcore import keycerts, trust
from passcore.errors import BundleError, CheckpassError, InputError
from passcore.keys import PublicKey, SigningKey, generate_signing_key
from server import db
from server.bundles import service as bundles
from server.bundles import signing
from server.bundles.models import BundleVersion
from server.config import Settings, get_settings
from server.errors import Unavailable
from server.keyring import service as keyring
from server.keyring.models import ROLE_ROOT, KeyRecord
from server.policy import service as policy_service
from tests.factories import NOW
from tests.integration import client_helpers
from tests.integration.client_helpers import BIN, Bureau, ServerProcess, enrol_checkpoint

DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", "postgres"])
def server(request, tmp_path) -> Iterator[ServerProcess]:
    """A fresh demo server per test: a rollover changes the installation for good."""
    home = tmp_path / "bureau"
    home.mkdir()
    with client_helpers.demo_server(home, request.param) as running:
        yield running


def refused(server: ServerProcess, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "checkpass"), *args], env=server.env, cwd=server.home, capture_output=True, timeout=180
    )
    assert done.returncode == 2, (done.returncode, done.stdout.decode(), done.stderr.decode())
    assert done.stderr.decode().count("\n") == 1 and "Traceback" not in done.stderr.decode()
    return done.stderr.decode()


def root_status(server: ServerProcess) -> dict[str, Any]:
    return json.loads(server.run("root", "status", "--json"))


def served_bundle(server: ServerProcess) -> bytes:
    answer = httpx.get(f"{server.url}/api/v1/trust-bundle", timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.content


def forged_statement(about: PublicKey, *, under: bytes, key: SigningKey) -> bytes:
    """A 'cross-signature' naming the root ``under`` as its signer, made with someone else's ``key``."""
    now = datetime.now(UTC).replace(microsecond=0)
    statement = keycerts.KeyStatement(keycerts.PURPOSE_ROOT, about, under, now, now, None)
    protected = {1: -8, 3: keycerts.STATEMENT_TYPE, 4: under}
    cose_key = COSEKey.from_pem(key.to_pem(), alg="EdDSA", kid=under)
    return bytes(
        COSE.new().encode(cbor2.dumps(statement.to_payload()), cose_key, protected=protected, unprotected={})
    )


class Rewriting(httpx.HTTPTransport):
    """The network between the laptop and the server, replacing the trust bundle on its way."""

    def __init__(self, change: Callable[[bytes], bytes]) -> None:
        super().__init__()
        self.change = change

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers.pop("If-None-Match", None)
        response = super().handle_request(request)
        if request.url.path != "/api/v1/trust-bundle" or response.status_code != 200:
            return response
        return httpx.Response(200, headers={"ETag": '"rewritten"'}, content=self.change(response.read()))


def test_an_enrolled_checkpoint_follows_a_root_rollover_through_an_ordinary_sync(server, tmp_path):
    bureau = Bureau(server.url)
    laptop = enrol_checkpoint(server, bureau, tmp_path / "laptop")
    keys, offline = server.home / "keys", tmp_path / "offline"
    old_root = truststore.pinned_root(laptop.settings)
    device_file = laptop.settings.device_path.read_bytes()

    # 1. The root goes offline: the server keeps only its public part (in the database and root.pub.pem).
    offline.mkdir(mode=0o700)
    (keys / "root.key.pem").rename(offline / "root.key.pem")
    assert root_status(server)["root_online"] is False

    # 2. A bundle-signing key: made on the server, certified offline, installed on the server.
    server.run("root", "new-signer", "--out", str(tmp_path / "signer.pub.pem"))
    certified = server.run(
        "root", "certify", "--root-key", str(offline / "root.key.pem"),
        "--key", str(tmp_path / "signer.pub.pem"), "--days", "30", "--out", str(tmp_path / "signer.cert"),
    )  # fmt: skip
    assert f"root {old_root.kid.hex()} certified bundle-signing key" in certified
    signer = PublicKey.from_pem((tmp_path / "signer.pub.pem").read_bytes())
    assert oct((keys / f"bundle-signer-{signer.kid.hex()}.key.pem").stat().st_mode & 0o777) == "0o600"
    server.run("root", "install-cert", str(tmp_path / "signer.cert"))
    assert root_status(server)["signs_now"] == signer.kid.hex()

    report = laptop.sync()
    assert report.bundle["status"] == "updated" and "root_rollover" not in report.bundle
    opened = trust.open_bundle(laptop.settings.bundle_path.read_bytes(), root=old_root, now=datetime.now(UTC))
    assert opened.signer_kid == signer.kid and opened.root == old_root
    assert laptop.decide("release").record["outcome"] == "RELEASE"

    # 3. The rollover ceremony. A cross-signature the old root never made is refused, and changes nothing.
    server.run("root", "generate", "--out-dir", str(offline / "new"))
    new_root = PublicKey.from_pem((offline / "new" / "root.pub.pem").read_bytes())
    assert oct((offline / "new" / "root.key.pem").stat().st_mode & 0o777) == "0o600"
    server.run("root", "new-signer", "--out", str(tmp_path / "signer2.pub.pem"))
    server.run(
        "root", "certify", "--root-key", str(offline / "new" / "root.key.pem"),
        "--key", str(tmp_path / "signer2.pub.pem"), "--out", str(tmp_path / "signer2.cert"),
    )  # fmt: skip
    attacker = generate_signing_key()
    (tmp_path / "forged.cose").write_bytes(forged_statement(new_root, under=old_root.kid, key=attacker))
    message = refused(
        server,
        "root",
        "install-rollover",
        str(tmp_path / "forged.cose"),
        "--cert",
        str(tmp_path / "signer2.cert"),
    )
    assert "not a cross-signature by the current root" in message
    assert root_status(server)["root"] == old_root.kid.hex()
    assert (keys / "root.pub.pem").read_text() == old_root.pem

    server.run(
        "root", "cross-sign", "--old-key", str(offline / "root.key.pem"),
        "--new-root", str(offline / "new" / "root.pub.pem"), "--out", str(tmp_path / "rollover.cose"),
    )  # fmt: skip
    done = server.run(
        "root", "install-rollover", str(tmp_path / "rollover.cose"), "--cert", str(tmp_path / "signer2.cert")
    )
    assert f"root {new_root.kid.hex()} is now current" in done
    status = root_status(server)
    assert status["root"] == new_root.kid.hex()
    assert (
        status["rollovers"][0]["from"] == old_root.kid.hex()
        and status["rollovers"][0]["to"] == new_root.kid.hex()
    )
    assert (keys / "root.pub.pem").read_text() == new_root.pem

    # 4. An ordinary sync: the laptop follows the cross-signature and pins the new root; no enrolment.
    report = laptop.sync()
    assert report.bundle["status"] == "updated"
    assert report.bundle["root_rollover"] == {"from": old_root.kid.hex(), "to": new_root.kid.hex()}
    assert truststore.pinned_root(laptop.settings) == new_root
    assert laptop.settings.device_path.read_bytes() == device_file  # the same device, the same token
    assert (
        laptop.decide("release").record["outcome"] == "RELEASE"
    )  # issuer keys untouched: passes still verify
    assert laptop.sync().bundle["status"] == "unchanged"
    assert len(laptop.store.pending(100)) == 0  # both decisions went up

    # 5. A bundle signed only by an unknown root is still refused; so is a forged cross-signature in transit.
    held = laptop.settings.bundle_path.read_bytes()

    def unknown_root(data: bytes) -> bytes:
        bundle = trust.load_bundle(data, root=new_root, now=None)
        bundle = trust.TrustBundle(**{**bundle.__dict__, "version": bundle.version + 1})
        return trust.sign_bundle(bundle, generate_signing_key())

    def forged_rollover(data: bytes) -> bytes:
        bundle = trust.load_bundle(data, root=new_root, now=None)
        bundle = trust.TrustBundle(**{**bundle.__dict__, "version": bundle.version + 1})
        forged = forged_statement(attacker.public, under=new_root.kid, key=attacker)
        return trust.sign_bundle(bundle, trust.BundleSigner(attacker, None, (forged,)))

    for change, code in (
        (unknown_root, "BUNDLE_UNKNOWN_ROOT"),
        (forged_rollover, "BUNDLE_SIGNATURE_INVALID"),
    ):
        with httpx.Client(transport=Rewriting(change)) as client:
            report = laptop.sync(client=client)
        assert report.bundle["status"] == "refused" and report.bundle["code"] == code, report.bundle
        assert laptop.settings.bundle_path.read_bytes() == held
        assert truststore.pinned_root(laptop.settings) == new_root

    # 6. A laptop enrolled now pins the new root at once; the audit still reads every version ever signed.
    fresh = enrol_checkpoint(server, bureau, tmp_path / "fresh")
    assert truststore.pinned_root(fresh.settings) == new_root
    fresh.store.close()
    engine = server.engine()
    with db.session_scope(engine) as session:
        roots = [
            PublicKey.from_pem(r.encode())
            for r in session.exec(select(KeyRecord.public_key_pem).where(KeyRecord.role == ROLE_ROOT))
        ]
        versions = list(session.exec(select(BundleVersion)))
        for row in versions:
            assert any(_verifies(bytes(row.signed), root) for root in roots), row.version
    engine.dispose()
    laptop.store.close()


def _verifies(data: bytes, root: PublicKey) -> bool:
    try:
        trust.load_bundle(data, root=root, now=None)
    except BundleError:
        return False
    return True


def test_a_rollover_without_a_signer_under_the_new_root_is_refused_and_changes_nothing(server, tmp_path):
    keys, offline = server.home / "keys", tmp_path / "offline"
    server.run("root", "generate", "--out-dir", str(offline))
    server.run(
        "root", "cross-sign", "--old-key", str(keys / "root.key.pem"),
        "--new-root", str(offline / "root.pub.pem"), "--out", str(tmp_path / "rollover.cose"),
    )  # fmt: skip
    before = root_status(server)
    assert "--cert" in refused(server, "root", "install-rollover", str(tmp_path / "rollover.cose"))
    # A certificate for a key this server does not hold (made elsewhere) is refused too, before anything moves.
    stranger = generate_signing_key()
    (tmp_path / "stranger.pub.pem").write_text(stranger.public.pem)
    server.run(
        "root", "certify", "--root-key", str(offline / "root.key.pem"),
        "--key", str(tmp_path / "stranger.pub.pem"), "--out", str(tmp_path / "stranger.cert"),
    )  # fmt: skip
    message = refused(
        server,
        "root",
        "install-rollover",
        str(tmp_path / "rollover.cose"),
        "--cert",
        str(tmp_path / "stranger.cert"),
    )
    assert "private key is not in" in message
    assert root_status(server) == before
    assert (keys / "root.key.pem").exists() and not list(keys.glob("root-*.key.pem"))

    # With the root kept online the rollover certifies a signing key itself, and the bundle served follows.
    old_root = PublicKey.from_pem((keys / "root.pub.pem").read_bytes())
    server.run(
        "root",
        "install-rollover",
        str(tmp_path / "rollover.cose"),
        "--new-root-key",
        str(offline / "root.key.pem"),
    )
    new_root = PublicKey.from_pem((offline / "root.pub.pem").read_bytes())
    assert (keys / f"root-{old_root.kid.hex()}.key.pem").exists()
    opened = trust.open_bundle(served_bundle(server), root=old_root, now=datetime.now(UTC))
    assert opened.root == new_root and opened.signer_kid != new_root.kid
    assert root_status(server)["signs_now"] == opened.signer_kid.hex()


def test_an_offline_root_without_a_certified_signing_key_says_what_to_do(server, tmp_path):
    keys = server.home / "keys"
    (keys / "root.key.pem").rename(tmp_path / "root.key.pem")
    root = PublicKey.from_pem((keys / "root.pub.pem").read_bytes())
    assert root_status(server)["signs_now"] is None
    # The root is needed for a ceremony only: the bundle signed before is served while nothing changes …
    assert trust.load_bundle(served_bundle(server), root=root, now=datetime.now(UTC)).revoked == frozenset()
    # … but a change needs a signature: the operator is told which ceremony step is due.
    pass_id = json.loads((server.home / "demo-out" / "kunshan" / "pass.json").read_text())["pass_id"]
    server.run("revoke", pass_id, "--reason", "测试吊销")
    message = refused(server, "bundle", "export", "--out", str(tmp_path / "bundle.cose"))
    assert "checkpass root new-signer" in message and not (tmp_path / "bundle.cose").exists()
    assert "kept offline" in refused(server, "root", "certify-signer")
    answer = httpx.get(f"{server.url}/api/v1/trust-bundle", timeout=30)
    assert answer.status_code == 503 and answer.json()["code"] == "BUNDLE_SIGNER_MISSING"
    # Once the root certifies a signing key, the revocation goes out.
    server.run("root", "new-signer", "--out", str(tmp_path / "signer.pub.pem"))
    server.run(
        "root", "certify", "--root-key", str(tmp_path / "root.key.pem"),
        "--key", str(tmp_path / "signer.pub.pem"), "--out", str(tmp_path / "signer.cert"),
    )  # fmt: skip
    server.run("root", "install-cert", str(tmp_path / "signer.cert"))
    assert pass_id in trust.load_bundle(served_bundle(server), root=root, now=datetime.now(UTC)).revoked


# --- who signs, in process (both databases) -----------------------------------------------------------------

WEEK = timedelta(days=7)


@pytest.fixture
def installation(tmp_path, database_url) -> Iterator[tuple[Settings, Any]]:
    settings = get_settings(home=tmp_path / "home", database_url=database_url)
    engine = db.make_engine(settings)
    db.migrate(engine)
    with db.session_scope(engine) as session:
        keyring.ensure_keys(session=session, settings=settings, now=NOW)
        policy_service.ensure_default(session=session, now=NOW)
    yield settings, engine
    engine.dispose()


def choose(session: Any, settings: Settings, at: datetime) -> signing.Choice:
    return signing.choose(session=session, settings=settings, now=at, validity=WEEK)


def test_the_signer_is_the_newest_certificate_covering_a_whole_bundle_else_the_online_root(installation):
    settings, engine = installation
    with db.session_scope(engine) as session:
        root = keyring.root_public(session)
        plain = choose(session, settings, NOW)
        assert plain.certificate is None and plain.identity is None  # as before issue 15: no new version
        first = signing.certify_online(session=session, settings=settings, now=NOW, days=30)
        assert choose(session, settings, NOW).certificate == first
        second = signing.certify_online(session=session, settings=settings, now=NOW + 10 * DAY, days=30)
        assert choose(session, settings, NOW + 10 * DAY).certificate == second  # the one that lasts longer
        assert choose(session, settings, NOW + 5 * DAY).certificate == first  # the second is not valid yet
        # 24 days after the first: it cannot cover a 7-day bundle any more; the second still can.
        assert choose(session, settings, NOW + 24 * DAY).certificate == second
        # The certified key's signer carries its certificate, and the bundle it signs loads from the pinned root.
        signer = choose(session, settings, NOW + 12 * DAY).load(settings)
        assert signer.certificate == bytes(second.statement)
        row = bundles.current(session=session, root=signer, validity=WEEK, now=NOW + 12 * DAY)
        assert trust.open_bundle(bytes(row.signed), root=root, now=None).signer_kid.hex() == second.kid
        # Past both: the online root signs, and a bundle made so still loads from the pinned root.
        late = choose(session, settings, NOW + 40 * DAY)
        assert late.certificate is None and late.identity is None
        row = bundles.current(session=session, root=late.load(settings), validity=WEEK, now=NOW + 40 * DAY)
        assert trust.open_bundle(bytes(row.signed), root=root, now=None).signer_kid == root.kid


def test_with_the_root_offline_and_no_certificate_the_error_says_what_to_do(installation):
    settings, engine = installation
    (settings.keys_dir / "root.key.pem").unlink()
    with db.session_scope(engine) as session:
        with pytest.raises(Unavailable) as caught:
            choose(session, settings, NOW).load(settings)
        assert caught.value.code == "BUNDLE_SIGNER_MISSING" and "certify" in caught.value.detail
        with pytest.raises(InputError) as offline:
            signing.certify_online(session=session, settings=settings, now=NOW)
        assert offline.value.code == "KEY_MISSING"
        # init again: a root is recorded, so no second root is made although its key file is gone.
        assert "root key" not in keyring.ensure_keys(session=session, settings=settings, now=NOW)
    assert not (settings.keys_dir / "root.key.pem").exists()


def test_certificates_are_installed_only_from_the_current_root_for_a_key_held_here(installation, tmp_path):
    settings, engine = installation
    root = keyring.load_root(settings)
    with db.session_scope(engine) as session:
        public = signing.new_signing_key(settings=settings)
        good = keycerts.certify_signer(
            root, public, issued_at=NOW, valid_from=NOW, valid_until=NOW + 30 * DAY
        )
        row = signing.install_certificate(session=session, settings=settings, certificate=good, now=NOW)
        again = signing.install_certificate(session=session, settings=settings, certificate=good, now=NOW)
        assert again.kid == row.kid  # installing the same certificate twice changes nothing
        stranger = generate_signing_key()
        other = signing.new_signing_key(settings=settings)
        cases = {
            "another root": keycerts.certify_signer(
                stranger, other, issued_at=NOW, valid_from=NOW, valid_until=NOW + DAY
            ),
            "a key not held here": keycerts.certify_signer(
                root, generate_signing_key().public, issued_at=NOW, valid_from=NOW, valid_until=NOW + DAY
            ),
            "expired": keycerts.certify_signer(
                root, other, issued_at=NOW - 9 * DAY, valid_from=NOW - 9 * DAY, valid_until=NOW - DAY
            ),
            "a cross-signature": keycerts.cross_sign_root(root, generate_signing_key().public, issued_at=NOW),
        }
        for name, data in cases.items():
            with pytest.raises(CheckpassError):
                signing.install_certificate(session=session, settings=settings, certificate=data, now=NOW)
            assert [r.kid for r in signing.signing_keys(session)] == [row.kid], name
