"""A scratch database for a benchmark: SQLite in the benchmark's own home, or a new PostgreSQL database dropped
afterwards (so a benchmark never touches the tests' database)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def database(postgres: str | None) -> Iterator[str | None]:
    """None (SQLite in the temporary home) or the URL of a new PostgreSQL database, dropped afterwards."""
    if postgres is None:
        yield None
        return
    import psycopg

    name = f"checkpass_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{postgres.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
