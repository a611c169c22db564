"""Where documents' bytes live: ``<home>/documents/``, the directory 0700 and each file 0600, under a random name.

The directory travels with the database engine (``attach`` in ``server.db.make_engine``, like the data keys), so
that any code holding a session — the retention purge, a draft's deletion — can remove a document's file without
being handed the settings. Files are removed only once the transaction that deleted their rows has committed (a
rollback keeps both), and a file written in a transaction that rolls back goes with it: no row without its file,
no file without its row.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session

from server.errors import ServerError

__all__ = ["attach", "read", "remove_after_commit", "root_of", "write"]

_INFO_KEY = "checkpass_documents"
_PENDING = "checkpass_documents_unlink"  # removed rows' files: unlinked at the commit
_WRITTEN = "checkpass_documents_written"  # new rows' files: unlinked at a rollback


def attach(engine: Engine, root: Path) -> None:
    """Give every connection of ``engine`` the installation's documents directory."""
    root = root.resolve()

    def remember(_dbapi_connection: Any, record: Any) -> None:
        record.info[_INFO_KEY] = root

    event.listen(engine, "connect", remember)


def root_of(session: Session) -> Path:
    root = session.connection().info.get(_INFO_KEY)
    if not isinstance(root, Path):
        raise ServerError("this database engine has no documents directory (see server.db.make_engine)")
    return root


def _directory(root: Path) -> Path:
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    root.chmod(0o700)  # mkdir's mode is filtered by the umask, and an existing directory keeps its own
    return root


def write(session: Session, data: bytes) -> str:
    """Store ``data`` in a new file readable by the server's user only; its random name. Should ``session``'s
    transaction roll back instead of committing, the file is removed again (no file without its row)."""
    directory = _directory(root_of(session))
    name = secrets.token_hex(20)
    # O_EXCL: a name that somehow exists is never overwritten; 0600 from the start, not chmod'ed afterwards.
    descriptor = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    _hook(session)
    session.info.setdefault(_WRITTEN, []).append(directory / name)
    return name


def read(session: Session, name: str) -> bytes:
    return (root_of(session) / _checked(name)).read_bytes()


def _checked(name: str) -> str:
    # Stored names are ours (hex), but a row is never trusted to point outside the directory.
    if not name or not all(ch in "0123456789abcdef" for ch in name):
        raise ServerError("a stored document name is not one of ours")
    return name


def remove_after_commit(session: Session, names: list[str]) -> None:
    """Delete these files when ``session`` commits (forget them on rollback)."""
    if not names:
        return
    root = root_of(session)
    pending: list[Path] = session.info.setdefault(_PENDING, [])
    pending.extend(root / _checked(name) for name in names)
    _hook(session)


def _hook(session: Session) -> None:
    if not session.info.get(_PENDING + "_hooked"):
        session.info[_PENDING + "_hooked"] = True
        event.listen(session, "after_commit", _committed)
        event.listen(session, "after_soft_rollback", _rolled_back)


def _committed(session: Session) -> None:
    session.info.pop(_WRITTEN, None)
    for path in session.info.pop(_PENDING, []):
        path.unlink(missing_ok=True)


def _rolled_back(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_PENDING, None)
    for path in session.info.pop(_WRITTEN, []):
        path.unlink(missing_ok=True)
