"""ID and licence numbers at rest (issue 11, "Data at rest"): sealed with a data key under keys/, so a copy of the
database alone reveals none; the people who need them still read them; the key rotates. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
import stat
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from passcore.errors import InputError
from server import db
from server.applications import people
from server.applications.models import Application, PersonHash
from server.applications.service import body_of
from server.cli.root import app as checkpass
from server.config import get_settings
from server.keyring import datakeys
from server.keyring import service as keyring
from server.passes.models import IssuedPass
from tests.factories import DRIVER_ID, ESCORT_IDS

NUMBERS = (DRIVER_ID, *ESCORT_IDS)
OTHER_DRIVER = "110101199003074477"


def application_body(driver_id: str = DRIVER_ID, escorts: tuple[str, ...] = ESCORT_IDS) -> dict:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    return {
        "vehicle": {"plate": "苏E·A1234", "plate_colour": "yellow"},
        "driver": {
            "name": "张伟",
            "id_number": driver_id,
            "licence_number": driver_id,
            "phone": "13800000000",
        },
        "escorts": [{"name": f"押运员{i}", "id_number": number} for i, number in enumerate(escorts)],
        "origin": "320583",
        "destination": "310000",
        "cargo": "精密零部件",
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(days=7)).isoformat(),
    }


def submit(api, data: dict | None = None) -> int:
    response = api("clerk").post("/api/v1/applications?submit=true", json=data or application_body())
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def approve(api, application_id: int) -> None:
    response = api("reviewer").post(f"/api/v1/applications/{application_id}/approve")
    assert response.status_code == 200, response.text


def stored_body(app, application_id: int):
    with Session(app.state.engine) as session:
        return body_of(session.get(Application, application_id))


def numbers_in_database(app, numbers: tuple[str, ...]) -> list[str]:
    """Where any of ``numbers`` appears in the stored database: SQLite's files byte for byte (the WAL included);
    on PostgreSQL every text, JSON and byte column of every table."""
    engine = app.state.engine
    if engine.dialect.name == "sqlite":
        files = sorted(p for p in app.state.settings.db_dir.iterdir() if p.is_file())
        assert any(p.name.endswith("-wal") for p in files)  # the WAL is where fresh rows are first written
        return [f"{p.name}: {n}" for p in files for n in numbers if n.encode() in p.read_bytes()]
    found = []
    with engine.connect() as connection:
        columns = connection.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type IN "
                "('text', 'character varying', 'character', 'json', 'jsonb', 'bytea')"
            )
        ).all()
        assert len(columns) > 50
        for table, column, kind in columns:
            value = f'"{column}"' if kind == "bytea" else f'"{column}"::text'
            for number in numbers:
                needle = "convert_to(:n, 'UTF8')" if kind == "bytea" else ":n"
                query = f'SELECT count(*) FROM "{table}" WHERE position({needle} in {value}) > 0'
                if connection.execute(text(query), {"n": number}).scalar_one():
                    found.append(f"{table}.{column}: {number}")
    return found


def test_no_full_id_number_is_stored_yet_the_reviewer_and_the_clerk_see_them(app, api, portal):
    draft = api("clerk").post("/api/v1/applications", json=application_body())
    assert draft.status_code == 201
    issued = submit(api)
    approve(api, issued)
    assert numbers_in_database(app, NUMBERS) == []
    review = portal("reviewer").get(f"/review/applications/{issued}").text
    assert all(number in review for number in NUMBERS)  # the review page is where the full numbers are read
    edit = portal("clerk").get(f"/enterprise/applications/{draft.json()['id']}/edit").text
    assert f'value="{DRIVER_ID}"' in edit  # the clerk corrects the draft as typed
    body = stored_body(app, issued)
    assert (body.driver.id_number, body.driver.licence_number) == (DRIVER_ID, DRIVER_ID)
    assert [e.id_number for e in body.escorts] == list(ESCORT_IDS)
    with Session(app.state.engine) as session:
        record = session.exec(select(IssuedPass)).one()
        assert json.loads(record.application_json)["driver"]["id_number"] == "320583********1234"
        opened = datakeys.of(session).open(record.people_sealed or "", people.pass_context(record.pass_id))
        assert json.loads(opened)["driver"]["id_number"] == DRIVER_ID


def test_a_sealed_value_moved_to_another_row_does_not_open(app, api, portal):
    mine = submit(api)
    other = submit(api, application_body(OTHER_DRIVER, ()))
    with Session(app.state.engine) as session:
        sealed = session.get(Application, mine).people_sealed
        target = session.get(Application, other)
        target.people_sealed = sealed
        target.body_json = session.get(
            Application, mine
        ).body_json  # the shapes agree: only the binding differs
        session.add(target)
        session.commit()
    with pytest.raises(InputError) as refused:
        stored_body(app, other)
    assert refused.value.code == "SEALED_INVALID"
    page = portal("reviewer").get(f"/review/applications/{other}")
    assert page.status_code >= 400 and DRIVER_ID not in page.text
    assert stored_body(app, mine).driver.id_number == DRIVER_ID


def test_the_data_key_is_an_owner_only_file_outside_the_database(app):
    keys_dir = app.state.settings.keys_dir
    files = sorted(keys_dir.glob("data-*"))
    assert [p.name for p in files if p.name.endswith(".key")] and (keys_dir / datakeys.ACTIVE_FILE).exists()
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    secret = json.loads(next(keys_dir.glob("data-*.key")).read_text())["secret"]
    assert numbers_in_database(app, (secret,)) == []


def test_the_same_person_has_the_same_keyed_hash_and_the_hash_is_not_the_number(app, api):
    first = submit(api)
    second = submit(api, application_body(DRIVER_ID, ()))
    with Session(app.state.engine) as session:
        keys = datakeys.of(session)
        kid, digest = keys.person_hash(DRIVER_ID)
        owners = session.exec(
            select(PersonHash.application_id).where(PersonHash.digest == digest, PersonHash.kid == kid)
        ).all()
        rows = session.exec(select(PersonHash)).all()
    assert set(owners) == {first, second}
    assert {r.role for r in rows} == {"driver", "escort"} and all(len(r.digest) == 64 for r in rows)
    assert all(DRIVER_ID not in r.digest for r in rows)


def rotate(app, *args: str):
    settings = app.state.settings
    env = {"CHECKPASS_HOME": str(settings.home)}
    if settings.database_url:
        env["CHECKPASS_DATABASE_URL"] = settings.database_url
    result = CliRunner().invoke(checkpass, ["keys", "rotate-data-key", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_rotation_reseals_everything_and_the_old_key_is_no_longer_needed(app, api, portal):
    ids = [submit(api) for _ in range(3)]
    approve(api, ids[0])
    keys_dir = app.state.settings.keys_dir
    (old_file,) = keys_dir.glob("data-*.key")
    old = old_file.name[5:-4]
    kept = keys_dir.parent / "old-data-key"
    shutil.copy(old_file, kept)

    output = rotate(app, "--batch", "1")

    assert not old_file.exists() and f"retired: {old}" in output
    with Session(app.state.engine) as session:
        keys = datakeys.of(session)
        new = keys.active_kid()
        assert new != old and keys.kids() == [new]
        sealed = [a.people_sealed for a in session.exec(select(Application))]
        sealed += [p.people_sealed for p in session.exec(select(IssuedPass))]
        assert len(sealed) == 4 and all(datakeys.kid_of(value or "") == new for value in sealed)
        assert set(session.exec(select(PersonHash.kid))) == {new}
        assert people.unsealed_left(session, old) == 0
    assert numbers_in_database(app, NUMBERS) == []
    # Every value opens without the old key: with a fresh key ring, as a restarted server would read them.
    fresh = db.make_engine(app.state.settings)
    with Session(fresh) as session:
        for application_id in ids:
            assert body_of(session.get(Application, application_id)).driver.id_number == DRIVER_ID
    fresh.dispose()
    assert DRIVER_ID in portal("reviewer").get(f"/review/applications/{ids[1]}").text
    # The old key opens nothing any more: the values were sealed again, not merely relabelled.
    with Session(app.state.engine) as session:
        value = session.get(Application, ids[1]).people_sealed or ""
    assert datakeys.kid_of(value) == new


def test_a_database_copied_without_keys_reveals_nothing(app, api, tmp_path):
    issued = submit(api)
    approve(api, issued)
    settings = app.state.settings
    elsewhere = tmp_path / "copy"
    if settings.database_url is None:
        app.state.engine.dispose()  # the WAL stays beside the file: both are copied
        shutil.copytree(settings.db_dir, elsewhere / "db")
    copy_settings = get_settings(home=elsewhere, database_url=settings.database_url)
    engine = db.make_engine(copy_settings)
    with Session(engine) as session:
        with pytest.raises(InputError) as refused:
            body_of(session.get(Application, issued))
        assert refused.value.code == "KEY_MISSING"
    # Keys made afresh for the copy open nothing either.
    with db.session_scope(engine) as session:
        assert "data key" in keyring.ensure_keys(
            session=session, settings=copy_settings, now=datetime.now(UTC)
        )
    with Session(engine) as session:
        with pytest.raises(InputError) as refused:
            body_of(session.get(Application, issued))
        assert refused.value.code == "KEY_MISSING"
    engine.dispose()


def test_rows_stored_before_sealing_read_as_they_are_until_init_seals_them(app, api):
    legacy = submit(api)
    plain = application_body()
    with Session(app.state.engine) as session:
        row = session.get(Application, legacy)
        full = json.loads(row.body_json) | {k: plain[k] for k in ("driver", "escorts")}
        row.body_json, row.people_sealed = json.dumps(full, ensure_ascii=False), None
        session.add(row)
        session.exec(text("DELETE FROM person_hash WHERE application_id = :i").bindparams(i=legacy))
        session.commit()
    assert stored_body(app, legacy).driver.id_number == DRIVER_ID  # read as stored, never as ciphertext
    with db.session_scope(app.state.engine) as session:
        keyring.ensure_keys(session=session, settings=app.state.settings, now=datetime.now(UTC))
    with Session(app.state.engine) as session:
        row = session.get(Application, legacy)
        assert row.people_sealed and DRIVER_ID not in row.body_json
        assert session.exec(select(PersonHash).where(col(PersonHash.application_id) == legacy)).all()
    assert stored_body(app, legacy).escorts[1].id_number == ESCORT_IDS[1]


def test_forgotten_numbers_are_gone_and_reading_them_says_so(app, api):
    application_id = submit(api)
    with Session(app.state.engine) as session:
        people.forget(session, application_id)
        session.commit()
    with pytest.raises(InputError) as refused:
        stored_body(app, application_id)
    assert refused.value.code == "PEOPLE_PURGED"
    with Session(app.state.engine) as session:
        assert not session.exec(
            select(PersonHash).where(col(PersonHash.application_id) == application_id)
        ).all()


def test_a_passphrase_wraps_the_data_key_and_a_wrong_one_opens_nothing(tmp_path):
    keys = datakeys.DataKeys(tmp_path, b"correct horse battery staple")
    kid = keys.create()
    stored = json.loads((tmp_path / f"data-{kid}.key").read_text())
    assert "secret" not in stored and stored["kdf"]["name"] == "scrypt"
    token = keys.seal("320583198503121234", "application/1/people")
    assert datakeys.DataKeys(tmp_path, b"correct horse battery staple").open(token, "application/1/people")
    for wrong in (datakeys.DataKeys(tmp_path, b"wrong"), datakeys.DataKeys(tmp_path)):
        with pytest.raises(InputError) as refused:
            wrong.open(token, "application/1/people")
        assert refused.value.code == "KEY_INVALID"
    with pytest.raises(InputError):
        keys.open(token, "application/2/people")


def test_the_downgrade_puts_the_numbers_back_and_init_seals_them_again(app, api):
    application_id = submit(api)
    approve(api, application_id)
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    with app.state.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
    with app.state.engine.connect() as connection:
        bodies = connection.execute(text("SELECT body_json FROM application")).scalars().all()
        bodies += connection.execute(text("SELECT application_json FROM issued_pass")).scalars().all()
    assert len(bodies) == 2 and all(json.loads(b)["driver"]["id_number"] == DRIVER_ID for b in bodies)
    db.migrate(app.state.engine)
    with db.session_scope(app.state.engine) as session:
        keyring.ensure_keys(session=session, settings=app.state.settings, now=datetime.now(UTC))
    # (Rows only: SQLite's WAL still holds the pages the downgrade wrote in clear, as a downgrade means to.)
    with app.state.engine.connect() as connection:
        bodies = connection.execute(text("SELECT body_json FROM application")).scalars().all()
        bodies += connection.execute(text("SELECT application_json FROM issued_pass")).scalars().all()
    assert len(bodies) == 2 and not [b for b in bodies if any(n in b for n in NUMBERS)]
    assert stored_body(app, application_id).escorts[0].id_number == ESCORT_IDS[0]
