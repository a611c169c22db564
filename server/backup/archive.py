"""The backup file: a tar archive whose last member, ``manifest.json``, names every other member with its size and
sha256, and says what the archive holds (format version, time, database kind, Alembic revision, row counts).

The manifest goes last because the checksums are computed while the members are written (a database dump is
streamed once, never read twice); a truncated archive therefore has no manifest and is refused as damaged.
Nothing is extracted by ``tarfile``'s own extraction: every member is checked against a fixed pattern and the
manifest, streamed into a fresh 0600 file and hashed on the way, so no name, link or device in an archive can
write outside the staging directory.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from passcore.errors import InputError
from server.backup import seal

__all__ = [
    "DOCUMENT_NAME",
    "FORMAT",
    "MANIFEST",
    "VERSION",
    "Manifest",
    "Member",
    "Writer",
    "extract",
    "read_manifest",
]

FORMAT = "checkpass-backup"
VERSION = 1
MANIFEST = "manifest.json"
DATABASE_MEMBER = {"sqlite": "database/checkpass.sqlite3", "postgresql": "database/checkpass.pgdump"}
_MAX_MANIFEST = 64 * 1024 * 1024  # one line per document: a large installation has hundreds of thousands
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
_MEMBER = re.compile(
    rf"database/checkpass\.(?:sqlite3|pgdump)|documents/[0-9a-f]{{1,64}}|keys/(?:{_SEGMENT}/)*{_SEGMENT}"
)
DOCUMENT_NAME = re.compile(r"[0-9a-f]{1,64}")  # documents.storage names its files so
_TABLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_REVISION = re.compile(r"[0-9A-Za-z_]{1,32}")
_CHUNK = 1024 * 1024


def _damaged(message: str) -> InputError:
    return InputError(message, code="BACKUP_INVALID")


@dataclass(frozen=True)
class Member:
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    created_at: datetime
    database: str  # "sqlite" | "postgresql"
    revision: str  # the database's Alembic revision when it was copied
    tables: dict[str, int]  # rows per table in the copy
    with_keys: bool
    server_version: int | None = None  # PostgreSQL: the server's major version
    tool_version: int | None = None  # PostgreSQL: pg_dump's major version (pg_restore must be as new)
    members: dict[str, Member] = field(default_factory=dict)
    # As read from an archive: the manifest as written (without its seal), and the seal (``seal.py``), if any.
    body: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    seal: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "created_at": self.created_at.isoformat(),
            "database": self.database,
            "revision": self.revision,
            "server_version": self.server_version,
            "tool_version": self.tool_version,
            "with_keys": self.with_keys,
            "tables": dict(sorted(self.tables.items())),
            "members": {
                name: {"sha256": m.sha256, "size": m.size} for name, m in sorted(self.members.items())
            },
        }

    @property
    def database_member(self) -> str:
        return DATABASE_MEMBER[self.database]

    @classmethod
    def parse(cls, data: Any) -> Manifest:
        """A manifest read from an archive: every field checked, since the names and numbers in it end up in
        file paths and SQL (table names, the revision)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise _damaged("not a checkpass backup (no checkpass manifest)")
        if data.get("version") != VERSION:
            raise _damaged(
                f"backup format version {data.get('version')!r}: this checkpass reads version {VERSION}"
            )
        try:
            created_at = datetime.fromisoformat(data["created_at"])
            database, revision = data["database"], data["revision"]
            tables, members = data["tables"], data["members"]
            versions = [data.get("server_version"), data.get("tool_version")]
            if database not in DATABASE_MEMBER or not _REVISION.fullmatch(revision):
                raise ValueError("database kind or revision")
            if not all(_TABLE.fullmatch(t) and type(n) is int and n >= 0 for t, n in tables.items()):
                raise ValueError("tables")
            if not all(v is None or (type(v) is int and 0 < v < 1000) for v in versions):
                raise ValueError("versions")
            parsed = {
                name: Member(str(m["sha256"]), int(m["size"]))
                for name, m in members.items()
                if _MEMBER.fullmatch(name) and re.fullmatch(r"[0-9a-f]{64}", str(m["sha256"]))
            }
            if len(parsed) != len(members) or DATABASE_MEMBER[database] not in parsed:
                raise ValueError("members")
            with_keys = data["with_keys"] is True
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise _damaged(f"the backup's manifest is malformed ({err})") from err
        body = {key: value for key, value in data.items() if key != "seal"}
        found = data.get("seal")
        return cls(
            created_at,
            database,
            revision,
            dict(tables),
            with_keys,
            versions[0],
            versions[1],
            parsed,
            body,
            found if isinstance(found, dict) else ({"invalid": True} if "seal" in data else None),
        )


class _Hashing(io.RawIOBase):
    """A file read through: counts and hashes what ``tarfile`` copies into the archive."""

    def __init__(self, source: BinaryIO) -> None:
        self._source, self.digest, self.size = source, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


class Writer:
    """A new archive at ``path`` (created exclusively, 0600: it holds personal data); ``finish`` adds the
    manifest."""

    def __init__(self, path: Path) -> None:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(descriptor, "wb")
        self._tar = tarfile.open(fileobj=self._file, mode="w", format=tarfile.PAX_FORMAT)
        self.members: dict[str, Member] = {}

    def add(self, name: str, source: Path, mtime: float) -> Member:
        if not _MEMBER.fullmatch(name) or name in self.members:
            # A file of a name no restore would accept (a stray file in keys/): refused, not silently dropped.
            raise InputError(
                f"cannot back up {name!r}: not a name a backup may hold (rename or remove it)",
                code="BACKUP_FAILED",
            )
        with source.open("rb") as handle:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = os.fstat(handle.fileno()).st_size, 0o600, int(mtime)
            reader = _Hashing(handle)  # type: ignore[arg-type]
            # addfile copies exactly info.size bytes; a file that shrank meanwhile fails here, never half-stored.
            self._tar.addfile(info, reader)  # type: ignore[arg-type]
        member = self.members[name] = Member(reader.digest.hexdigest(), reader.size)
        return member

    def finish(self, manifest: Manifest, mtime: float, passphrase: bytes | None) -> None:
        data = manifest.to_dict()
        if passphrase is not None:
            data["seal"] = seal.make(data, passphrase)
        body = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode, info.mtime = len(body), 0o600, int(mtime)
        self._tar.addfile(info, io.BytesIO(body))
        self._tar.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def abandon(self) -> None:
        self._tar.close()
        self._file.close()


def _open(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode="r:")
    except FileNotFoundError as err:
        raise InputError(f"no backup file {path}", code="BACKUP_INVALID") from err
    except (tarfile.TarError, OSError) as err:
        raise _damaged(f"{path} is not a checkpass backup or is damaged ({err})") from err


def read_manifest(path: Path) -> Manifest:
    """The archive's manifest, checked for form (not yet against the members: ``extract`` does that)."""
    with _open(path) as tar:
        try:
            info = tar.getmember(MANIFEST)
            if not info.isreg() or info.size > _MAX_MANIFEST:
                raise _damaged("the backup's manifest is not a small regular file")
            handle = tar.extractfile(info)
            data = json.loads(handle.read().decode("utf-8")) if handle else None
        except KeyError as err:
            raise _damaged(
                f"{path} has no manifest: it is damaged (truncated?) or not a checkpass backup"
            ) from err
        except (tarfile.TarError, OSError, EOFError) as err:
            raise _damaged(f"{path} is damaged ({err})") from err
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise _damaged("the backup's manifest is not JSON") from err
    return Manifest.parse(data)


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    try:
        yield from tar
    except (tarfile.TarError, OSError, EOFError) as err:
        raise _damaged(f"the backup is damaged ({err})") from err


def extract(path: Path, manifest: Manifest, into: Path) -> None:
    """Every member into ``into`` (an empty private directory), each checked against the manifest: an unlisted,
    missing, duplicated, non-regular or changed member refuses the whole archive."""
    seen: set[str] = set()
    with _open(path) as tar:
        for info in _members(tar):
            if info.name == MANIFEST:
                continue
            expected = manifest.members.get(info.name)
            if expected is None or info.name in seen or not info.isreg():
                raise _damaged(f"the backup holds {info.name!r}, which its manifest does not list: refused")
            seen.add(info.name)
            target = into / info.name
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            digest, size = hashlib.sha256(), 0
            source = tar.extractfile(info)
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(descriptor, "wb") as out:
                    while source is not None and (chunk := source.read(_CHUNK)):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            except (tarfile.TarError, OSError, EOFError) as err:
                raise _damaged(f"the backup is damaged at {info.name} ({err})") from err
            if size != expected.size or digest.hexdigest() != expected.sha256:
                raise _damaged(
                    f"checksum mismatch: {info.name} in the backup is not what its manifest says "
                    "(damaged or changed): refused, nothing was restored"
                )
    missing = sorted(set(manifest.members) - seen)
    if missing:
        raise _damaged(f"the backup lacks {len(missing)} member(s) its manifest lists, e.g. {missing[0]}")
