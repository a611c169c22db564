"""Issuer keys in a PKCS#11 token (issue 15, part D), against Debian's SoftHSM2: each test initialises a fresh token
in its own SOFTHSM2_CONF directory with `softhsm2-util`, `checkpass keys rotate --hsm` generates the issuer key in
it, `checkpass issue` signs passes and bus manifest pages through it, and `checkpoint verify` checks them offline
against the bundle, as it checks any pass. The commands run as installed programs (tests.integration.test_cli)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import SecretStr
from sqlalchemy import func
from sqlmodel import Session, select

from passcore import wire
from passcore.keys import PublicKey, generate_signing_key
from server import db
from server.config import get_settings
from server.demo import bus as demo_bus
from server.keyring import pkcs11 as hsm
from server.keyring import service as keyring
from server.keyring.models import KeyRecord
from server.passes.models import IssuedPass
from tests.integration.test_cli import Station

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")  # Debian's softhsm2 (scripts/system-deps.sh)
PIN = "4711-checkpass-user"
SO_PIN = "so-4711-checkpass"
LABEL = "checkpass-issuers"


@dataclass(frozen=True)
class Token:
    conf: Path
    tokens: Path
    label: str = LABEL
    pin: str = PIN

    def env(self) -> dict[str, str]:
        return {
            "SOFTHSM2_CONF": str(self.conf),
            "CHECKPASS_PKCS11_MODULE": str(MODULE),
            "CHECKPASS_PKCS11_TOKEN": self.label,
            "CHECKPASS_PKCS11_PIN": self.pin,
        }


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing — in CI scripts/system-deps.sh installs softhsm2")
    pytest.skip(f"{what} is missing: apt-get install softhsm2")


@pytest.fixture
def token(tmp_path, monkeypatch) -> Iterator[Token]:
    """A fresh SoftHSM2 token with a user PIN, in a token directory of this test's own."""
    util = shutil.which("softhsm2-util")
    if util is None:
        _missing("softhsm2-util")
    if not MODULE.is_file():
        _missing(str(MODULE))
    tokens = tmp_path / "softhsm-tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    made = Token(conf, tokens)
    env = os.environ | {"SOFTHSM2_CONF": str(conf)}
    subprocess.run(
        [util, "--init-token", "--free", "--label", LABEL, "--so-pin", SO_PIN, "--pin", PIN],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    # The in-process checks below load the same library: it reads SOFTHSM2_CONF when it is initialised.
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    hsm.reset()
    yield made
    hsm.reset()


def _station(tmp_path: Path, token: Token, database_url: str | None = None) -> Station:
    station = Station(tmp_path, database_url)
    station.env |= token.env()
    station.run("checkpass", "init")
    return station


def _issuers(station: Station) -> list[dict]:
    return [k for k in station.json("checkpass", "keys", "list", "--json") if k["role"] == "issuer"]


def _settings(token: Token, station: Station, database_url: str | None = None):
    return get_settings(
        home=station.server_home,
        database_url=database_url,
        pkcs11_module=MODULE,
        pkcs11_token=token.label,
        pkcs11_pin=token.pin,
    )


def _token_objects(token: Token) -> list[tuple[str, str]]:
    """(class, label) of every object in the token, read with the right PIN."""
    import pkcs11

    hsm.reset()
    lib = pkcs11.lib(str(MODULE))
    try:
        with lib.get_token(token_label=token.label).open(user_pin=token.pin) as session:
            return sorted(
                (obj.object_class.name, obj[pkcs11.Attribute.LABEL]) for obj in session.get_objects()
            )
    finally:
        lib.finalize()


def test_a_pass_signed_in_the_token_verifies_offline_at_a_checkpoint(tmp_path, token, database_url):
    station = _station(tmp_path, token, database_url)
    file_kid = _issuers(station)[0]["kid"]
    done = station.run("checkpass", "keys", "rotate", "--hsm")
    issuers = {k["kid"]: k for k in _issuers(station)}
    (kid,) = (k for k, v in issuers.items() if v["status"] == "active")
    assert f"new active issuer key {kid} (EdDSA, in PKCS#11 token '{LABEL}', not extractable)" in done.stdout
    assert (issuers[kid]["private_store"], issuers[kid]["token"], issuers[kid]["alg"]) == (
        "pkcs11",
        LABEL,
        "EdDSA",
    )
    assert (issuers[file_kid]["private_store"], issuers[file_kid]["status"]) == ("file", "previous")
    # The private key is in the token only: no key file for it, and the token holds it under its kid.
    assert not (station.server_home / "keys" / f"issuer-{kid}.key.pem").exists()
    assert _token_objects(token) == [
        ("PRIVATE_KEY", f"checkpass-issuer-{kid}"),
        ("PUBLIC_KEY", f"checkpass-issuer-{kid}"),
    ]

    issued = station.issue("hsm")
    text = (tmp_path / "hsm" / "pass.txt").read_text().strip()
    cose = wire.decode(text)
    assert (cose.kid, cose.alg) == (bytes.fromhex(kid), "EdDSA")

    # The checkpoint has only the bundle (carried as a file) and the root's public key: no server runs.
    station.publish()
    report = station.json("checkpoint", "verify", "--text", text, "--json")
    assert (report["valid"], report["pass_id"], report["reasons"][0]["code"]) == (
        True,
        issued["pass_id"],
        "PASS_VALID",
    )
    assert station.json("checkpoint", "verify", tmp_path / "hsm" / "pass.png", "--json")["valid"] is True
    # One bit changed in the signature: the checkpoint refuses it, as any forged pass.
    raw = bytearray(wire.inflate(wire.b45decode(wire.strip_prefix(text))))
    raw[-1] ^= 1
    import zlib

    import base45

    forged = wire.PREFIX + base45.b45encode(zlib.compress(bytes(raw), 9)).decode("ascii")
    refused = station.json("checkpoint", "verify", "--text", forged, "--json", expect=3)
    assert (refused["valid"], refused["reasons"][0]["code"]) == (False, "PASS_SIGNATURE_INVALID")


def test_a_bus_and_its_manifest_pages_are_signed_in_the_token(tmp_path, token):
    station = _station(tmp_path, token)
    station.run("checkpass", "keys", "rotate", "--hsm")
    (kid,) = (k["kid"] for k in _issuers(station) if k["status"] == "active")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    window = {"valid_from": start.isoformat(), "valid_until": (start + timedelta(days=7)).isoformat()}
    application = tmp_path / "bus-application.json"
    application.write_text(json.dumps(demo_bus.application(window), ensure_ascii=False), encoding="utf-8")
    station.run("checkpass", "issue", application, "--out", tmp_path / "bus")
    pass_text = (tmp_path / "bus" / "pass.txt").read_text().strip()
    pages = (tmp_path / "bus" / "manifest.txt").read_text().splitlines()
    assert len(pages) == 2
    station.publish()
    assert station.json("checkpoint", "verify", "--text", pass_text, "--json")["valid"] is True
    for number, page in enumerate(pages, start=1):
        assert wire.decode(page, prefix="CPM1:").kid == bytes.fromhex(kid)
        report = station.json("checkpoint", "verify", "--text", page, "--json")
        assert (report["kind"], report["valid"], report["number"]) == ("manifest_page", True, number)
        assert report["reasons"][0]["code"] == "MANIFEST_PAGE_VALID"


def test_es256_issuer_keys_are_made_and_used_in_the_token_too(tmp_path, token):
    station = _station(tmp_path, token)
    station.env["CHECKPASS_ISSUER_ALG"] = "ES256"
    assert "(ES256, in PKCS#11 token" in station.run("checkpass", "keys", "rotate", "--hsm").stdout
    first, second = station.issue("one"), station.issue("two")  # ECDSA: a fresh nonce in each signature
    station.publish()
    for name, claims in (("one", first), ("two", second)):
        text = (tmp_path / name / "pass.txt").read_text().strip()
        assert wire.decode(text).alg == "ES256"
        report = station.json("checkpoint", "verify", "--text", text, "--json")
        assert (report["valid"], report["pass_id"]) == (True, claims["pass_id"])


def test_the_private_key_cannot_leave_the_token(tmp_path, token):
    station = _station(tmp_path, token)
    station.run("checkpass", "keys", "rotate", "--hsm")
    (kid,) = (k["kid"] for k in _issuers(station) if k["status"] == "active")
    attributes = hsm.key_attributes(_settings(token, station), bytes.fromhex(kid))
    assert attributes == {
        "sensitive": True,
        "extractable": False,
        "never_extractable": True,
        "value_readable": False,
    }


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        (
            {"CHECKPASS_PKCS11_PIN": "0000-wrong"},
            "HSM_PIN_INCORRECT",
            f"the PKCS#11 token '{LABEL}' refused the PIN",
        ),
        (
            {"CHECKPASS_PKCS11_TOKEN": "no-such-token"},
            "HSM_TOKEN_MISSING",
            "no PKCS#11 token labelled 'no-such-token'",
        ),
        (
            {"CHECKPASS_PKCS11_MODULE": "/usr/lib/softhsm/libnothere.so"},
            "HSM_MODULE_MISSING",
            "PKCS#11 module /usr/lib/softhsm/libnothere.so does not exist",
        ),
        ({"CHECKPASS_PKCS11_MODULE": "/etc/hostname"}, "HSM_MODULE_MISSING", "cannot be loaded"),
        ({"CHECKPASS_PKCS11_PIN": ""}, "HSM_NOT_CONFIGURED", "set CHECKPASS_PKCS11_PIN"),
    ],
)
def test_a_token_that_cannot_be_used_gives_one_clear_error_and_changes_nothing(
    tmp_path, token, change, code, message
):
    station = _station(tmp_path, token)
    before = _issuers(station)
    station.env |= change
    failed = station.run("checkpass", "keys", "rotate", "--hsm", expect=2)
    assert failed.stderr.startswith("checkpass: error: ") and message in failed.stderr
    assert PIN not in failed.stderr + failed.stdout and "0000-wrong" not in failed.stderr
    assert _issuers(station) == before
    assert _token_objects(token) == []
    # The same failure through the service names its stable code.
    overrides = {"pkcs11_module": MODULE, "pkcs11_token": LABEL, "pkcs11_pin": PIN}
    overrides |= {name.removeprefix("CHECKPASS_").lower(): value or None for name, value in change.items()}
    settings = get_settings(home=station.server_home, **overrides)
    with pytest.raises(hsm.HsmError) as caught:
        hsm.generate(settings, "EdDSA")
    assert caught.value.code == code and caught.value.status == 503


def test_when_the_token_is_unreachable_no_pass_is_issued(tmp_path, token):
    station = _station(tmp_path, token)
    station.run("checkpass", "keys", "rotate", "--hsm")
    station.issue("first")
    station.env["CHECKPASS_PKCS11_PIN"] = "0000-wrong"
    failed = station.run("checkpass", "issue", station.application(), "--out", tmp_path / "second", expect=2)
    assert "refused the PIN" in failed.stderr
    assert not (tmp_path / "second" / "pass.json").exists()
    # The token's directory gone (an HSM unplugged): one line again, and still only the first pass.
    station.env["CHECKPASS_PKCS11_PIN"] = PIN
    shutil.rmtree(token.tokens)
    token.tokens.mkdir()
    failed = station.run("checkpass", "issue", station.application(), "--out", tmp_path / "third", expect=2)
    assert f"no PKCS#11 token labelled '{LABEL}'" in failed.stderr
    engine = db.make_engine(get_settings(home=station.server_home))
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(IssuedPass)).one() == 1
    engine.dispose()


def test_a_token_key_is_not_looked_for_in_another_token(tmp_path, token):
    station = _station(tmp_path, token)
    station.run("checkpass", "keys", "rotate", "--hsm")
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "other", "--so-pin", SO_PIN, "--pin", PIN],
        env=os.environ | {"SOFTHSM2_CONF": str(token.conf)},
        check=True,
        capture_output=True,
        timeout=60,
    )
    station.env["CHECKPASS_PKCS11_TOKEN"] = "other"
    failed = station.run("checkpass", "issue", station.application(), "--out", tmp_path / "pass", expect=2)
    assert f"is in PKCS#11 token '{LABEL}'; CHECKPASS_PKCS11_TOKEN names 'other'" in failed.stderr


# --- the server's own path: a reviewer's approval signs in the token -----------------------------------------


@pytest.fixture
def app_settings(tmp_path, database_url, token):
    """The integration conftest's settings (its `app` fixture builds on them) with the token configured."""
    return get_settings(
        home=tmp_path,
        database_url=database_url,
        pkcs11_module=MODULE,
        pkcs11_token=token.label,
        pkcs11_pin=token.pin,
    )


def test_an_approval_in_the_portal_signs_in_the_token_and_a_token_failure_issues_nothing(
    app, api, app_settings
):
    from tests.integration.test_applications import application, submitted

    with db.session_scope(app.state.engine) as session:
        kid = keyring.rotate(session=session, settings=app_settings, now=datetime.now(UTC), in_token=True).kid
        public = PublicKey.from_pem(session.get(KeyRecord, kid).public_key_pem.encode())
    clerk, reviewer = api("clerk"), api("reviewer")
    first = submitted(clerk)
    assert reviewer.post(f"/api/v1/applications/{first}/approve").status_code == 200
    stored = application(app, first)
    with Session(app.state.engine) as session:
        issued = session.get(IssuedPass, stored.pass_id)
    assert (stored.status, issued.kid) == ("issued", kid)
    wire.verify_signature(wire.decode(issued.qr_text), public)

    # The PIN changed under the running server: the token refuses it, the approval answers 503, nothing moved.
    app.state.settings = app_settings.model_copy(update={"pkcs11_pin": SecretStr("0000-wrong")})
    second = submitted(clerk, body_with_plate("苏E·B5678"))
    refused = reviewer.post(f"/api/v1/applications/{second}/approve")
    assert (refused.status_code, refused.json()["code"]) == (503, "HSM_PIN_INCORRECT")
    assert "0000-wrong" not in refused.text and PIN not in refused.text
    assert application(app, second).status == "submitted" and application(app, second).pass_id is None
    with Session(app.state.engine) as session:
        assert session.exec(select(func.count()).select_from(IssuedPass)).one() == 1

    app.state.settings = app_settings  # the right PIN again: the same application is issued
    assert reviewer.post(f"/api/v1/applications/{second}/approve").status_code == 200
    assert application(app, second).status == "issued"


def body_with_plate(plate: str) -> dict:
    from tests.integration.test_applications import body

    return body(vehicle={"plate": plate, "plate_colour": "yellow"})


def test_several_threads_sign_through_one_token_session(tmp_path, token):
    """The server's worker threads share the process's one logged-in session: every signature is whole."""
    settings = get_settings(
        home=tmp_path, pkcs11_module=MODULE, pkcs11_token=token.label, pkcs11_pin=token.pin
    )
    public, label = hsm.generate(settings, "EdDSA")
    signer = hsm.signer(settings, public, label)
    messages = [f"message {n}".encode() for n in range(64)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        signatures = list(pool.map(signer.sign, messages))
    key = ed25519.Ed25519PublicKey.from_public_bytes(
        serialization.load_der_public_key(public.spki_der).public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    )
    for message, signature in zip(messages, signatures, strict=True):
        key.verify(signature, message)  # raises on a bad signature


def test_the_token_signer_and_a_key_file_make_the_same_cose_structure(tmp_path):
    """wire.sign1 builds the Sig_structure for either; with a key in memory its EdDSA output is byte for byte
    what python-cwt makes (the golden vectors pin it too), and an ES256 signature is r || s and verifies."""
    import cbor2
    from cwt import COSE

    eddsa, es256 = generate_signing_key("EdDSA"), generate_signing_key("ES256")
    protected = {1: -8, 4: eddsa.kid}
    payload = cbor2.dumps({1: "issuer"})
    ours = wire.sign1(payload, protected, eddsa)
    theirs = COSE.new().encode(payload, eddsa.cose_key, protected=protected, unprotected={})
    assert ours == theirs
    signed = wire.sign1(payload, {1: -7, 4: es256.kid}, es256)
    cose = wire.parse_cose(signed)
    assert len(cose.signature) == 64
    wire.verify_signature(cose, es256.public)


# --- migration 0026 -----------------------------------------------------------------------------------------


def _alembic(engine, action, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


def test_0026_marks_stored_keys_as_files_and_refuses_to_go_down_under_a_token_key(tmp_path, database_url):
    engine = db.make_engine(get_settings(home=tmp_path, database_url=database_url))
    _alembic(engine, command.upgrade, "0025")
    keys = sa.table(
        "signing_key",
        *(
            sa.column(c)
            for c in ("kid", "role", "alg", "public_key_pem", "status", "valid_from", "created_at")
        ),
    )
    moment = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    with engine.begin() as connection:  # 0025's columns only
        connection.execute(
            keys.insert(),
            [
                {"kid": kid, "role": "issuer", "alg": "EdDSA", "public_key_pem": "pem", "status": "active"}
                | {"valid_from": moment, "created_at": moment}
                for kid in ("00000000000000aa", "00000000000000bb")
            ],
        )
    _alembic(engine, command.upgrade, "0026")
    with engine.begin() as connection:
        rows = connection.execute(sa.text("SELECT private_store, token_label FROM signing_key")).all()
        assert sorted(map(tuple, rows)) == [("file", None), ("file", None)]
        connection.execute(
            sa.text(
                "UPDATE signing_key SET private_store = 'pkcs11', token_label = 't' WHERE kid = '00000000000000bb'"
            )
        )
    with pytest.raises(RuntimeError, match="1 issuer key"):
        _alembic(engine, command.downgrade, "0025")
    assert "private_store" in {c["name"] for c in sa.inspect(engine).get_columns("signing_key")}
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE signing_key SET status = 'retired' WHERE kid = '00000000000000bb'")
        )
    _alembic(engine, command.downgrade, "0025")
    assert {"private_store", "token_label"}.isdisjoint(
        c["name"] for c in sa.inspect(engine).get_columns("signing_key")
    )
    _alembic(engine, command.upgrade, "head")
    engine.dispose()


# The failed search on the dead session is finalised by python-pkcs11 after we dropped it; its finaliser's
# SessionHandleInvalid can only be reported as "unraisable". It is the failure this test provokes on purpose.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_lost_session_is_opened_again_once(tmp_path, token):
    """A token restarted under a running server invalidates its session: the next signature logs in afresh."""
    settings = get_settings(
        home=tmp_path, pkcs11_module=MODULE, pkcs11_token=token.label, pkcs11_pin=token.pin
    )
    public, label = hsm.generate(settings, "ES256")
    signer = hsm.signer(settings, public, label)
    signer.sign(b"before")
    lost = [opened.session for opened in hsm._sessions.values()]
    for session in lost:  # what a token restart does to the handles this process holds
        session.close()
    cose = wire.parse_cose(wire.sign1(b"after", {1: -7, 4: public.kid}, signer))
    wire.verify_signature(cose, public)
    # A new session signed, not the lost one.
    assert len(lost) == 1 and all(o.session is not lost[0] for o in hsm._sessions.values())


def test_the_administrators_rotation_keeps_issuer_keys_where_they_are(app, api, app_settings):
    admin = api("admin")
    rotated = admin.post("/api/v1/keys/rotate").json()  # the keys are files: a file key, as before
    assert rotated["key"]["private_store"] == "file"
    with db.session_scope(app.state.engine) as session:
        keyring.rotate(session=session, settings=app_settings, now=datetime.now(UTC), in_token=True)
    rotated = admin.post("/api/v1/keys/rotate").json()  # once in the token, a button never brings a file back
    kid = rotated["key"]["kid"]
    assert (rotated["key"]["private_store"], rotated["key"]["status"]) == ("pkcs11", "active")
    assert not (app_settings.keys_dir / f"issuer-{kid}.key.pem").exists()
    listed = {k["kid"]: k["private_store"] for k in admin.get("/api/v1/keys").json() if k["role"] == "issuer"}
    assert sorted(listed.values()) == ["file", "file", "pkcs11", "pkcs11"]
    assert hsm.key_attributes(app_settings, bytes.fromhex(kid))["extractable"] is False


def test_keys_rotate_file_takes_a_bureau_back_to_key_files(tmp_path, token):
    station = _station(tmp_path, token)
    station.run("checkpass", "keys", "rotate", "--hsm")
    assert (
        "in PKCS#11 token" in station.run("checkpass", "keys", "rotate").stdout
    )  # default: where the active is
    done = station.run("checkpass", "keys", "rotate", "--file")
    assert "in a key file under keys/" in done.stdout
    stores = [k["private_store"] for k in _issuers(station) if k["status"] == "active"]
    assert stores == ["file"]


def test_keys_check_signs_in_the_token_and_verifies_with_the_bundles_key(tmp_path, token):
    station = _station(tmp_path, token)
    file_check = station.json("checkpass", "keys", "check", "--json")
    assert (file_check["private_store"], file_check["verified"]) == ("file", True)
    station.run("checkpass", "keys", "rotate", "--hsm")
    (kid,) = (k["kid"] for k in _issuers(station) if k["status"] == "active")
    done = station.run("checkpass", "keys", "check")
    assert (
        done.stdout.strip()
        == f"issuer key {kid} (EdDSA, PKCS#11 token '{LABEL}') signs; the signature verifies"
    )
    station.env["CHECKPASS_PKCS11_PIN"] = "0000-wrong"  # the PIN changed on the token but not in the settings
    assert "refused the PIN" in station.run("checkpass", "keys", "check", expect=2).stderr
