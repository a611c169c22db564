"""What every `checkpass` command shares: settings and a session, JSON output, a one-line failure, the clock.

Public on purpose: each command module imports these names; none reaches into another command module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from sqlmodel import Session

from server.config import Settings, get_settings
from server.db import make_engine, migrate, session_scope

__all__ = ["EXIT_BAD_INPUT", "MAX_INPUT_BYTES", "JsonFlag", "fail", "now", "print_json", "read_json", "state"]

EXIT_BAD_INPUT = 2
MAX_INPUT_BYTES = 64 * 1024
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """One line on stderr and the exit code: bad input never ends in a traceback."""
    typer.echo(f"checkpass: error: {message}", err=True)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def state(*, create: bool = False) -> Iterator[tuple[Settings, Session]]:
    """The settings, read once, and one transaction on the database (migrated first with ``create``)."""
    settings = get_settings()
    engine = make_engine(settings)
    if create:
        migrate(engine)
    with session_scope(engine) as session:
        yield settings, session
    engine.dispose()


def read_json(path: Path, what: str) -> Any:
    """A small JSON file given on the command line; anything unreadable fails with one line."""
    try:
        if path.stat().st_size > MAX_INPUT_BYTES:
            fail(f"{what} {path} is larger than {MAX_INPUT_BYTES // 1024} KiB")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        fail(f"cannot read {what} {path}: {getattr(err, 'strerror', None) or err}")
    except json.JSONDecodeError as err:
        fail(f"{what} {path} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}")
