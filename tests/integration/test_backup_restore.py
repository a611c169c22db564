"""`checkpass backup` / `checkpass restore`, run as the installed commands, on SQLite and PostgreSQL.

The drill: a populated system (an application approved through the API with its documents, an ordinary pass and a
bus pass with its signed manifest pages, hash-chained crossings uploaded by an enrolled device, the alerts and the
quarantine task they raise) is backed up with its keys, destroyed (the database dropped, or the whole home
deleted; documents and keys with it), restored, and then: every pass verifies against a fresh bundle, every bus
page too, every device chain verifies (`checkpass audit verify-chains`), every table holds as many rows as before,
every document comes back byte for byte through the API, and the sealed ID numbers open (the data keys came back).

The refusals change nothing: a changed member (checksums), a forged manifest (an unknown newer revision, or a
revision that is not the database's), an extra member, a truncated file, a non-empty target without --force, keys
in clear, keys that do not open with the passphrase, an existing output file. The archive checks happen before
any database is touched, so most refusals run on SQLite; the target checks and --force run on both.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select

from passcore import manifest, trust
from passcore.errors import InputError
from server import db
from server.applications.models import Application
from server.applications.service import body_of
from server.backup import databases, seal
from server.backup import service as backup_service
from server.backup.archive import Manifest
from server.bundles import service as bundles
from server.checkpoints import service as checkpoints
from server.config import get_settings
from server.documents.models import Document
from server.keyring import service as keyring
from server.main import create_app
from server.passes.models import IssuedPass
from server.quarantine.models import QuarantineTask
from tests.conftest import PG_ADMIN_URL
from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import alerts_of, change_policy
from tests.integration.bus_helpers import bus_record, issue_bus
from tests.integration.checkpoint_devices import make_checkpoint
from tests.integration.conftest import PASSWORD
from tests.integration.test_applications import body
from tests.unit.test_document_sniff import image, pdf

device_factory = checkpoint_devices.device_factory
CHECKPASS = Path(sys.executable).parent / "checkpass"
PASSPHRASE = "drill-passphrase-7Q"


@pytest.fixture(autouse=True)
def _postgresql_client(database_url):
    """pg_dump, pg_restore and psql (Debian's postgresql-client, scripts/system-deps.sh) for PostgreSQL."""
    missing = [tool for tool in ("pg_dump", "pg_restore", "psql") if shutil.which(tool) is None]
    if database_url and missing:
        message = f"{', '.join(missing)} not installed (Debian: postgresql-client)"
        if os.environ.get("CI"):
            pytest.fail(message + " — in CI it must be: scripts/system-deps.sh installs it")
        pytest.skip(message)


@pytest.fixture
def app_settings(tmp_path, database_url):
    """The conftest's settings, with the keys encrypted: only then may they go into a backup."""
    return get_settings(home=tmp_path / "home", database_url=database_url, key_passphrase=PASSPHRASE)


def checkpass(settings, *args: str | Path, expect: int = 0, passphrase: str | None = PASSPHRASE):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKPASS_")}
    env["CHECKPASS_HOME"] = str(settings.home)
    if settings.database_url:
        env["CHECKPASS_DATABASE_URL"] = settings.database_url
    if passphrase:
        env["CHECKPASS_KEY_PASSPHRASE"] = passphrase
    done = subprocess.run(
        [str(CHECKPASS), *map(str, args)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == expect, (
        f"checkpass {args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    )
    assert "Traceback" not in done.stderr, done.stderr
    if expect == 2:
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done


def counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            t: connection.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
            for t in databases.tables_of(connection)
        }


def populate(app, api, device_factory) -> dict:
    """A working day's worth of everything the drill must bring back; returns what to compare afterwards."""
    clerk, reviewer = api("clerk"), api("reviewer")
    created = clerk.post("/api/v1/applications?submit=true", json=body())
    assert created.status_code == 201, created.text
    application_id = created.json()["id"]
    for kind, upload in (("vehicle_licence", ("行驶证.jpg", image("JPEG"), "image/jpeg")),
                         ("driving_licence", ("驾驶证.pdf", pdf(), "application/pdf"))):  # fmt: skip
        added = clerk.post(
            f"/api/v1/applications/{application_id}/documents", data={"kind": kind}, files={"file": upload}
        )
        assert added.status_code == 201, added.text
    approved = reviewer.post(f"/api/v1/applications/{application_id}/approve")
    assert approved.status_code == 200, approved.text

    bus_id, bus_qr, pages = issue_bus(app)
    bundle = change_policy(app, hard_hit="420000")  # Hubei hard-hit: the bus's passenger 4 goes to quarantine
    device = device_factory(make_checkpoint(app))
    at = datetime.now(UTC) - timedelta(minutes=30)
    records = [
        device.record(),
        device.record(**bus_record(bus_qr, pages, bundle, at)),
        device.escort_record(),
    ]
    answer = device.upload(*records).json()
    assert answer["accepted"] == 3, answer

    with Session(app.state.engine) as session:
        documents = {
            d.id: hashlib.sha256(db_documents_read(app, d.stored_name)).hexdigest()
            for d in session.exec(select(Document))
        }
        passes = {p.pass_id: (p.qr_text, p.valid_from) for p in session.exec(select(IssuedPass))}
        people = body_of(session.get(Application, application_id)).model_dump(mode="json")
        tasks = len(list(session.exec(select(QuarantineTask))))
    assert len(documents) == 2 and len(passes) == 2 and tasks == 1
    assert alerts_of(app), "the drill's records raise alerts (an unknown pass, an escort)"
    return {
        "counts": counts(app.state.engine),
        "documents": documents,
        "passes": passes,
        "bus": (bus_id, pages),
        "people": (application_id, people),
    }


def db_documents_read(app, name: str) -> bytes:
    return (app.state.settings.home / "documents" / name).read_bytes()


def destroy(app, settings) -> None:
    """Everything gone: the database (dropped and made again, empty), the documents, the keys."""
    app.state.engine.dispose()
    wipe(settings)


def wipe(settings) -> None:
    if settings.database_url:
        name = settings.database_url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
    if settings.home.exists():
        shutil.rmtree(settings.home)


def test_the_restore_drill_brings_back_every_pass_chain_row_and_document(
    app, app_settings, api, device_factory
):
    before = populate(app, api, device_factory)
    out = app_settings.home.parent / "drill.checkpass-backup"
    made = json.loads(checkpass(app_settings, "backup", "--out", out, "--with-keys", "--json").stdout)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert (made["documents"], made["keys"] >= 5, made["rows"]) == (2, True, sum(before["counts"].values()))
    assert made["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    with tarfile.open(out) as tar:
        listed = json.loads(tar.extractfile("manifest.json").read())
    assert listed["tables"] == before["counts"] and listed["database"] == databases.kind_of(app.state.engine)

    destroy(app, app_settings)
    assert not app_settings.home.exists()
    restored = json.loads(checkpass(app_settings, "restore", out, "--json").stdout)
    assert (restored["rows"], restored["documents"], restored["replaced"]) == (made["rows"], 2, False)
    assert restored["head"] == restored["revision"]  # backed up at the code's head: nothing to migrate

    engine = db.make_engine(app_settings)
    try:
        assert counts(engine) == before["counts"]
        assert stat.S_IMODE((app_settings.keys_dir / "root.key.pem").stat().st_mode) == 0o600
        now = datetime.now(UTC)
        with Session(engine) as session:
            root = keyring.load_root(app_settings)
            row = bundles.current(session=session, root=root, validity=timedelta(days=7), now=now)
            application_id, people = before["people"]
            assert body_of(session.get(Application, application_id)).model_dump(mode="json") == people
            restored_passes = {p.pass_id: (p.qr_text, p.valid_from) for p in session.exec(select(IssuedPass))}
        bundle = trust.load_bundle(bytes(row.signed), root=root.public, now=now)
        assert restored_passes == before["passes"]
        for pass_id, (qr, valid_from) in restored_passes.items():
            # The approved application's window opens an hour from now: verified inside it, as a checkpoint would.
            result = trust.verify_pass(qr, bundle, now=max(now, valid_from + timedelta(minutes=1)))
            assert result.valid and result.claims.pass_id == pass_id, result.message
        bus_id, pages = before["bus"]
        for page in pages:
            checked = manifest.verify_page(page, bundle, now=now)
            assert checked.valid and checked.pass_id == bus_id, checked
    finally:
        engine.dispose()

    chains = json.loads(checkpass(app_settings, "audit", "verify-chains", "--json").stdout)
    assert chains["ok"] and len(chains["devices"]) == 1 and chains["devices"][0]["records_checked"] == 3

    fresh = create_app(app_settings)
    try:
        with TestClient(fresh) as client:
            token = client.post("/api/v1/auth/token", json={"username": "reviewer", "password": PASSWORD})
            client.headers["authorization"] = f"Bearer {token.json()['token']}"
            for document_id, digest in before["documents"].items():
                got = client.get(f"/api/v1/documents/{document_id}")
                assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == digest
    finally:
        fresh.state.engine.dispose()


def small_system(app) -> None:
    """Enough to tell one installation from another: a pass (the app fixture made keys, users, a policy)."""
    issue_bus(app)


def rewrite(
    archive: Path,
    out: Path,
    *,
    manifest_changes: dict | None = None,
    reseal: bool = True,
    extra: tuple[str, bytes] | None = None,
) -> None:
    """A copy of ``archive`` with its manifest edited or a member added: what a forger would make."""
    with tarfile.open(archive) as source, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as target:
        for info in source:
            data = source.extractfile(info).read()
            if info.name == "manifest.json" and manifest_changes is not None:
                body = {k: v for k, v in json.loads(data).items() if k != "seal"} | manifest_changes
                if reseal:  # someone who holds the passphrase, or a genuine archive of that content
                    body["seal"] = seal.make(body, PASSPHRASE.encode())
                data = json.dumps(body).encode()
                info.size = len(data)
            target.addfile(info, io.BytesIO(data))
        if extra:
            info = tarfile.TarInfo(extra[0])
            info.size = len(extra[1])
            target.addfile(info, io.BytesIO(extra[1]))


def flip_a_byte_of(archive: Path, member: str) -> None:
    with tarfile.open(archive) as tar:
        info = tar.getmember(member)
    with archive.open("r+b") as handle:
        handle.seek(info.offset_data + info.size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))


@pytest.fixture
def backed_up(app, app_settings, tmp_path):
    small_system(app)
    out = tmp_path / "good.backup"
    checkpass(app_settings, "backup", "--out", out, "--with-keys")
    return out


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("damage", "says"),
    [
        ("flip", "checksum mismatch"),
        ("truncate", "is damaged"),
        ("newer", "does not know"),
        ("older", "does not match its manifest"),
        ("extra", "does not list"),
        ("unsealed-change", "seal does not verify"),
        ("seal-stripped", "carries no seal"),
    ],
)
def test_a_damaged_or_forged_archive_is_refused_and_nothing_is_restored(
    app, app_settings, backed_up, tmp_path, damage, says
):
    bad = tmp_path / "bad.backup"
    if damage == "flip":
        shutil.copy(backed_up, bad)
        flip_a_byte_of(bad, "database/checkpass.sqlite3")
    elif damage == "truncate":
        bad.write_bytes(backed_up.read_bytes()[: backed_up.stat().st_size // 2])
    elif damage == "newer":
        rewrite(backed_up, bad, manifest_changes={"revision": "9999"})
    elif damage == "older":  # checksums intact, but the manifest lies about the database it carries
        rewrite(backed_up, bad, manifest_changes={"revision": "0001"})
    elif damage == "extra":
        rewrite(backed_up, bad, extra=("keys/evil.pem", b"not listed"))
    elif (
        damage == "unsealed-change"
    ):  # a forger without the passphrase: checksums redone, seal left as it was
        with tarfile.open(backed_up) as tar:
            old_seal = json.loads(tar.extractfile("manifest.json").read())["seal"]
        rewrite(backed_up, bad, manifest_changes={"revision": "0001", "seal": old_seal}, reseal=False)
    else:  # the seal removed, so that the archive passes for one made without a passphrase: its keys still fail
        rewrite(backed_up, bad, manifest_changes={}, reseal=False)
    app.state.engine.dispose()
    shutil.rmtree(app_settings.home)
    refused = checkpass(app_settings, "restore", bad, expect=2)
    assert says in refused.stderr
    left = [p for p in app_settings.home.rglob("*") if p.is_file()] if app_settings.home.exists() else []
    assert [p for p in left if p.name != "checkpass.sqlite3"] == []  # no documents, no keys, no staging left
    engine = db.make_engine(app_settings)
    try:
        assert counts(engine) == {}  # the database was never written
    finally:
        engine.dispose()


def test_a_non_empty_target_is_refused_and_force_replaces_it_keeping_the_old_keys(
    app, app_settings, backed_up
):
    before = counts(app.state.engine)
    issue_bus(app)  # the live system moves on after the backup
    moved_on = counts(app.state.engine)
    assert moved_on != before
    refused = checkpass(app_settings, "restore", backed_up, expect=2)
    assert "not empty" in refused.stderr and "--force" in refused.stderr
    assert counts(app.state.engine) == moved_on
    app.state.engine.dispose()
    done = json.loads(checkpass(app_settings, "restore", backed_up, "--force", "--json").stdout)
    assert done["replaced"] and done["keys_set_aside"]
    assert counts(app.state.engine) == before
    aside = Path(done["keys_set_aside"])
    assert sorted(p.name for p in aside.iterdir()) == sorted(p.name for p in app_settings.keys_dir.iterdir())
    assert stat.S_IMODE(aside.stat().st_mode) == 0o700


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_keys_in_clear_are_never_backed_up(app, app_settings, tmp_path):
    out = tmp_path / "keys.backup"
    refused = checkpass(app_settings, "backup", "--out", out, "--with-keys", expect=2, passphrase=None)
    assert "CHECKPASS_KEY_PASSPHRASE" in refused.stderr and not out.exists()
    unsealed = tmp_path / "unsealed.backup"
    said = checkpass(app_settings, "backup", "--out", unsealed, passphrase=None).stdout
    assert "no seal" in said
    with tarfile.open(unsealed) as tar:
        assert "seal" not in json.loads(tar.extractfile("manifest.json").read())
    plain = app_settings.keys_dir / "stray.key.pem"
    plain.write_bytes(keyring.load_root(app_settings).to_pem(None))  # someone left a decrypted copy
    refused = checkpass(app_settings, "backup", "--out", out, "--with-keys", expect=2)
    assert "keys/stray.key.pem" in refused.stderr and "in clear" in refused.stderr and not out.exists()
    assert list(tmp_path.glob(".keys.backup*")) == []  # no staging left behind
    plain.unlink()
    clear = app_settings.keys_dir / "data-0badc0de.key"
    clear.write_text(json.dumps({"format": "checkpass-data-key-1", "kid": "0badc0de", "secret": "AAAA"}))
    refused = checkpass(app_settings, "backup", "--out", out, "--with-keys", expect=2)
    assert "keys/data-0badc0de.key is a data key in clear" in refused.stderr and not out.exists()
    checkpass(app_settings, "backup", "--out", out)  # without keys: fine
    with tarfile.open(out) as tar:
        assert not [name for name in tar.getnames() if name.startswith("keys/")]
    again = checkpass(app_settings, "backup", "--out", out, expect=2)
    assert "exists" in again.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_archive_sealed_with_another_passphrase_is_refused_at_restore(app, app_settings, backed_up):
    app.state.engine.dispose()
    shutil.rmtree(app_settings.home)
    refused = checkpass(app_settings, "restore", backed_up, expect=2, passphrase="another-passphrase-9")
    assert "seal does not verify" in refused.stderr and "another passphrase" in refused.stderr
    assert not app_settings.keys_dir.exists()
    engine = db.make_engine(app_settings)
    try:
        assert counts(engine) == {}
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_archive_without_a_seal_needs_unsealed_where_a_passphrase_is_set(app, app_settings, tmp_path):
    small_system(app)
    plain = tmp_path / "plain.backup"
    checkpass(app_settings, "backup", "--out", plain, passphrase=None)
    sealed = tmp_path / "sealed.backup"
    checkpass(app_settings, "backup", "--out", sealed)
    stripped = tmp_path / "stripped.backup"  # a forger's: the seal removed, the manifest's revision changed
    rewrite(sealed, stripped, manifest_changes={"revision": "0001"}, reseal=False)
    before = counts(app.state.engine)
    app.state.engine.dispose()
    shutil.rmtree(app_settings.home)
    for archive in (plain, stripped):
        refused = checkpass(app_settings, "restore", archive, expect=2)
        assert "carries no seal" in refused.stderr and "--unsealed" in refused.stderr
        engine = db.make_engine(app_settings)
        try:
            assert counts(engine) == {}  # nothing was restored
        finally:
            engine.dispose()
    said = checkpass(app_settings, "restore", plain, "--unsealed").stdout
    assert "had no seal" in said and "compare its sha256" in said
    engine = db.make_engine(app_settings)
    try:
        assert counts(engine) == before
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_backup_of_the_other_kind_of_database_is_refused(app, app_settings, tmp_path):
    lite = get_settings(home=tmp_path / "lite", key_passphrase=PASSPHRASE)
    checkpass(lite, "init")
    checkpass(lite, "backup", "--out", tmp_path / "lite.backup")
    app.state.engine.dispose()
    before = counts(app.state.engine)
    refused = checkpass(app_settings, "restore", tmp_path / "lite.backup", "--force", expect=2)
    assert "sqlite database" in refused.stderr and "postgresql" in refused.stderr
    assert counts(app.state.engine) == before


def test_a_backup_taken_while_a_write_is_in_flight_holds_exactly_what_was_committed(
    app, app_settings, device_factory, tmp_path
):
    """Consistency while the server runs: a transaction still open when the backup starts neither blocks it nor
    shows up in it, half or whole; what was committed is all there, and its chain verifies."""
    device = device_factory(make_checkpoint(app))
    assert device.upload(device.record(), device.record()).json()["accepted"] == 2
    committed = counts(app.state.engine)
    out = tmp_path / "busy.backup"
    with Session(app.state.engine) as writing:
        make_checkpoint_in(writing)  # written, flushed, not committed: the server in the middle of a request
        checkpass(app_settings, "backup", "--out", out, "--with-keys")
        writing.commit()
    assert counts(app.state.engine) != committed
    destroy(app, app_settings)
    checkpass(app_settings, "restore", out)
    engine = db.make_engine(app_settings)
    try:
        assert counts(engine) == committed
    finally:
        engine.dispose()
    chains = json.loads(checkpass(app_settings, "audit", "verify-chains", "--json").stdout)
    assert chains["ok"] and chains["devices"][0]["records_checked"] == 2


def make_checkpoint_in(session: Session) -> None:
    session.add(
        checkpoints.Checkpoint(
            name="G15 沈海高速 太仓卡口",
            region="320585",
            location="G15 K1101",
            latitude=31.45,
            longitude=121.1,
            created_at=datetime.now(UTC),
        )
    )
    session.flush()


def good_manifest() -> dict:
    digest = "0" * 64
    return {
        "format": "checkpass-backup",
        "version": 1,
        "created_at": "2026-12-05T08:00:00+00:00",
        "database": "postgresql",
        "revision": "0026",
        "server_version": 15,
        "tool_version": 15,
        "with_keys": False,
        "tables": {"crossing": 3, "alembic_version": 1},
        "members": {"database/checkpass.pgdump": {"sha256": digest, "size": 10}},
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "changes",
    [
        {"tables": {'crossing" ; DROP TABLE app_user; --': 1}},  # names end up in the restore's SQL
        {"revision": "0026'; DROP SCHEMA public CASCADE; --"},
        {"tables": {"crossing": -1}},
        {"tables": {"crossing": "3"}},
        {"members": {"database/checkpass.pgdump": {"sha256": "0" * 64, "size": 1}, "../../etc/passwd": {}}},
        {"members": {"documents/notours.pdf": {"sha256": "0" * 64, "size": 1}}},  # and no database member
        {"database": "mysql"},
        {"server_version": "15; rm -rf /"},
        {"version": 2},
        {"format": "something-else"},
    ],
)
def test_a_manifest_is_read_strictly_before_any_name_in_it_reaches_sql_or_a_path(database_url, changes):
    assert Manifest.parse(good_manifest()).tables == {"crossing": 3, "alembic_version": 1}
    with pytest.raises(InputError) as refused:
        Manifest.parse(good_manifest() | changes)
    assert refused.value.code == "BACKUP_INVALID"


def test_a_backup_of_an_older_revision_is_restored_and_migrated_to_head(database_url, tmp_path):
    """An archive from an older release restores into this one: the restore ends at the code's head."""
    settings = get_settings(home=tmp_path / "old", database_url=database_url, key_passphrase=PASSPHRASE)
    engine = db.make_engine(settings)
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0023")
    engine.dispose()
    out = tmp_path / "old.backup"
    made = json.loads(checkpass(settings, "backup", "--out", out, "--json").stdout)
    assert made["revision"] == "0023"
    wipe(settings)
    restored = json.loads(checkpass(settings, "restore", out, "--json").stdout)
    _, head = backup_service.known_revisions()
    assert (restored["revision"], restored["head"]) == ("0023", head)
    engine = db.make_engine(settings)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
    finally:
        engine.dispose()
