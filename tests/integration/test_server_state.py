"""Server-side state on SQLite and PostgreSQL: migrations, keys, issuance, revocation, policy and bundle versions."""

from __future__ import annotations

import json
import stat
from datetime import timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from passcore import trust
from passcore.errors import InputError
from server import db
from server.applications import people
from server.applications.schemas import parse_application
from server.bundles import service as bundles
from server.config import get_settings
from server.keyring import datakeys
from server.keyring import service as keyring
from server.passes import service as passes
from server.passes.models import IssuedPass
from server.policy import service as policy_service
from tests.factories import DRIVER_ID, ESCORT_IDS, NOW, USCC

TABLES = {"signing_key", "enterprise", "issued_pass", "revocation", "policy_version", "bundle_version"}
WEEK = timedelta(days=7)


@pytest.fixture
def settings(tmp_path, database_url):
    return get_settings(home=tmp_path, database_url=database_url)


@pytest.fixture
def engine(settings):
    engine = db.make_engine(settings)
    db.migrate(engine)
    with db.session_scope(engine) as session:
        keyring.ensure_keys(session=session, settings=settings, now=NOW)
        policy_service.ensure_default(session=session, now=NOW)
    yield engine
    engine.dispose()


def application(**changes):
    data = {
        "enterprise": {"name": "昆山精密机械有限公司", "uscc": USCC},
        "vehicle": {"plate": "苏E·A1234", "plate_colour": "黄"},
        "driver": {"name": "张伟", "id_number": DRIVER_ID, "licence_number": DRIVER_ID},
        "escorts": [{"name": "李娜", "id_number": ESCORT_IDS[0]}],
        "origin": "320583",
        "destination": "310000",
        "valid_from": NOW.isoformat(),
        "valid_until": (NOW + timedelta(days=7)).isoformat(),
    }
    return parse_application(data | changes)


def issue(engine, settings, **changes):
    with db.session_scope(engine) as session:
        return passes.issue(
            session=session,
            application=application(**changes),
            signer=keyring.active_issuer(session=session, settings=settings),
            policy=policy_service.current(session),
            issuer_region=settings.issuer_region,
            now=NOW,
        )


def test_migrations_are_idempotent_and_reversible(settings, engine):
    assert TABLES <= set(inspect(engine).get_table_names())
    db.migrate(engine)  # again: nothing to do
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    db.migrate(engine)
    assert TABLES <= set(inspect(engine).get_table_names())


def test_keys_are_created_once_with_owner_only_private_files(settings, engine):
    private = sorted(settings.keys_dir.glob("*.key.pem"))
    assert len(private) == 2 and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in private)
    with db.session_scope(engine) as session:
        assert keyring.ensure_keys(session=session, settings=settings, now=NOW) == []
        assert [r.role for r in keyring.list_keys(session)] == ["issuer", "root"]


def test_keys_can_be_encrypted_with_a_passphrase(tmp_path):
    settings = get_settings(home=tmp_path, key_passphrase="correct horse battery staple")
    engine = db.make_engine(settings)
    db.migrate(engine)
    with db.session_scope(engine) as session:
        keyring.ensure_keys(session=session, settings=settings, now=NOW)
    assert b"ENCRYPTED PRIVATE KEY" in (settings.keys_dir / "root.key.pem").read_bytes()
    assert keyring.load_root(settings).kid
    with pytest.raises(InputError):
        keyring.load_root(get_settings(home=tmp_path, key_passphrase="wrong"))


def test_issued_pass_keeps_full_numbers_on_the_server_only(settings, engine):
    issued = issue(engine, settings)
    with db.session_scope(engine) as session:
        row = session.get(IssuedPass, issued.claims.pass_id)
        sealed = datakeys.of(session).open(row.people_sealed, people.pass_context(row.pass_id))
    # The full numbers are sealed: the database alone shows them masked.
    assert json.loads(sealed)["driver"]["id_number"] == DRIVER_ID
    assert row.serial == "320583-000001" and row.plate == "苏EA1234"
    assert DRIVER_ID not in row.application_json
    assert DRIVER_ID not in row.claims_json and DRIVER_ID not in row.qr_text
    assert row.issued_at.tzinfo is not None  # stored in UTC, read back with its zone on both databases
    assert issue(engine, settings).claims.serial == "320583-000002"


def test_revocation_is_idempotent_and_reaches_the_bundle(settings, engine):
    issued = issue(engine, settings)
    root = keyring.load_root(settings)
    with db.session_scope(engine) as session:
        before = bundles.current(session=session, root=root, validity=WEEK, now=NOW)
        _, new = passes.revoke(session=session, pass_id=issued.claims.pass_id, reason="测试", by="t", now=NOW)
        _, again = passes.revoke(session=session, pass_id=issued.claims.pass_id, reason="", by="t", now=NOW)
        after = bundles.current(session=session, root=root, validity=WEEK, now=NOW)
    assert (new, again) == (True, False)
    assert after.version == before.version + 1
    loaded = trust.load_bundle(after.signed, root=root.public, now=NOW)
    assert issued.claims.pass_id in loaded.revoked
    assert USCC in loaded.enterprises
    assert trust.verify_pass(issued.qr_text, loaded, now=NOW).code == "PASS_REVOKED"


def test_bundle_version_changes_only_when_content_changes_or_it_ages(settings, engine):
    root = keyring.load_root(settings)
    with db.session_scope(engine) as session:
        first = bundles.current(session=session, root=root, validity=WEEK, now=NOW)
        same = bundles.current(session=session, root=root, validity=WEEK, now=NOW + timedelta(hours=1))
        aged = bundles.current(session=session, root=root, validity=WEEK, now=NOW + WEEK / 2)
        policy_service.set_policy(session=session, changes={"hard_hit": ["420000"]}, now=NOW, by="t")
        changed = bundles.current(session=session, root=root, validity=WEEK, now=NOW + WEEK / 2)
    assert (first.version, same.version, aged.version, changed.version) == (1, 1, 2, 3)
    assert trust.load_bundle(changed.signed, root=root.public, now=NOW + WEEK / 2).policy.hard_hit == (
        "420000",
    )


def test_key_rotation_keeps_the_old_key_in_the_bundle_as_previous(settings, engine):
    old = issue(engine, settings)
    with db.session_scope(engine) as session:
        keyring.rotate(session=session, settings=settings, now=NOW)
    new = issue(engine, settings)
    assert old.record.kid != new.record.kid
    root = keyring.load_root(settings)
    with db.session_scope(engine) as session:
        bundle = trust.load_bundle(
            bundles.current(session=session, root=root, validity=WEEK, now=NOW).signed,
            root=root.public,
            now=NOW,
        )
    assert {k.kid.hex(): k.status for k in bundle.issuers} == {
        old.record.kid: "previous",
        new.record.kid: "active",
    }
    assert all(trust.verify_pass(p.qr_text, bundle, now=NOW).valid for p in (old, new))


def test_policy_versions_are_kept_for_replay(settings, engine):
    with db.session_scope(engine) as session:
        policy_service.set_policy(session=session, changes={"fever_threshold_c": "37.5"}, now=NOW, by="t")
        with pytest.raises(InputError):
            policy_service.set_policy(session=session, changes={"fever_threshold_c": "50"}, now=NOW, by="t")
        assert str(policy_service.current(session).fever_threshold_c) == "37.5"
        assert str(policy_service.by_version(session, 1).fever_threshold_c) == "37.3"


def test_an_application_beyond_the_policy_window_is_refused(settings, engine):
    with pytest.raises(InputError) as err:
        issue(engine, settings, valid_until=(NOW + timedelta(days=31)).isoformat())
    assert err.value.code == "APPLICATION_INVALID"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"vehicle": {"plate": "苏E·A12I4"}}, "vehicle.plate"),
        ({"driver": {"name": "", "id_number": DRIVER_ID, "licence_number": DRIVER_ID}}, "driver.name"),
        ({"escorts": [{"name": "李娜", "id_number": "123"}]}, "escorts.0.id_number"),
        ({"escorts": [{"name": f"人{i}", "id_number": ESCORT_IDS[0]} for i in range(7)]}, "escorts"),
        ({"travel_history": ["42"]}, "travel_history.0"),
        ({"valid_from": "2026-02-10T08:00:00"}, "valid_from"),
        ({"vehicle": {"plate": "苏EA1234", "plate_colour": "purple"}}, "vehicle.plate_colour"),
    ],
)
def test_application_validation_names_the_field(changes, field):
    with pytest.raises(InputError) as err:
        application(**changes)
    assert err.value.code == "APPLICATION_INVALID"
    assert field in err.value.message
