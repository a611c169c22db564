"""Migration 0021 (issue 14) on both databases: every stored application becomes freight, a bus's people hash
with their own roles, and the step goes back down (the bus roles' hashes removed, the column dropped)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from server import db
from server.config import get_settings


def _alembic(engine, action, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


def _columns(engine, table: str) -> dict[str, object]:
    return {c["name"]: c for c in inspect(engine).get_columns(table)}


def test_0021_adds_the_kind_and_goes_back_down(tmp_path, database_url):
    engine = db.make_engine(get_settings(home=tmp_path, database_url=database_url))
    _alembic(engine, command.upgrade, "0020")
    assert "kind" not in _columns(engine, "application")
    _alembic(engine, command.upgrade, "0021")
    kind = _columns(engine, "application")["kind"]
    assert not kind["nullable"] and "freight" in str(kind["default"])
    assert _columns(engine, "person_hash")["role"]["type"].length == 10
    hashes = sa.table(
        "person_hash",
        sa.column("role"),
        sa.column("position"),
        sa.column("kid"),
        sa.column("digest"),
    )
    with engine.begin() as connection:  # plain SQL: no ORM rows at a given revision
        connection.execute(
            hashes.insert(),
            [
                {"role": role, "position": 0, "kid": "k1", "digest": role.ljust(64, "0")}
                for role in ("driver", "escort", "manager", "passenger")
            ],
        )
    _alembic(engine, command.downgrade, "0020")
    assert "kind" not in _columns(engine, "application")
    assert _columns(engine, "person_hash")["role"]["type"].length == 8
    with engine.connect() as connection:
        roles = sorted(connection.execute(sa.select(hashes.c.role)).scalars())
    assert roles == ["driver", "escort"]
    _alembic(engine, command.upgrade, "head")
    assert "kind" in _columns(engine, "application")
    engine.dispose()
