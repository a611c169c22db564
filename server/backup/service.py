"""Backing an installation up into one archive file, and restoring one (docs/design.md "Backup and restore").

What an installation is: its database, its documents (``<home>/documents``: the files the ``document`` rows name)
and its keys (``<home>/keys``). The keys go in only on request and only encrypted (``keyfiles``); without them a
restore needs the keys/ directory put back from where it is kept (the data keys open the sealed ID numbers).

A restore stages and checks everything before it touches the target: the manifest, every member's checksum, the
database kind, the revision (refused when newer than this code knows), the keys against the passphrase, an empty
target (or ``force``). Then the database is loaded in one step (SQLite's backup API; PostgreSQL: one transaction
that also checks the row counts), the documents and keys directories are swapped in, and the migrations bring the
database to the code's head.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from passcore.errors import InputError
from server import db
from server.backup import archive, databases, keyfiles, seal
from server.config import Settings

__all__ = ["BackupReport", "RestoreReport", "backup", "known_revisions", "restore"]

DOCUMENTS = "documents"


@dataclass(frozen=True)
class BackupReport:
    path: str
    database: str
    revision: str
    tables: int
    rows: int
    documents: int
    keys: int
    bytes: int
    sha256: str  # of the whole file: note it elsewhere, so a copy can be checked before it is trusted
    sealed: bool  # the manifest carries a seal keyed by the passphrase (seal.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RestoreReport:
    database: str
    revision: str  # the backup's
    head: str  # where the migrations brought it
    tables: int
    rows: int
    documents: int
    keys: int
    replaced: bool
    sealed: bool  # the manifest's seal verified with the passphrase (an archive made without one has none)
    keys_set_aside: str | None  # with --force, the keys that were there before, kept (never deleted)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _passphrase(settings: Settings) -> bytes | None:
    return settings.key_passphrase.get_secret_value().encode() if settings.key_passphrase else None


def known_revisions() -> tuple[set[str], str]:
    """Every Alembic revision this code knows, and its head."""
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    assert head is not None
    return {rev.revision for rev in script.walk_revisions()}, head


def _documents(settings: Settings) -> list[Path]:
    folder = settings.home / DOCUMENTS
    if not folder.is_dir():
        return []
    # Only the files documents.storage made (random hex names): anything else there is no document's.
    return sorted(
        p
        for p in folder.iterdir()
        if archive.DOCUMENT_NAME.fullmatch(p.name) and p.is_file() and not p.is_symlink()
    )


def backup(*, settings: Settings, engine: Engine, out: Path, with_keys: bool, now: datetime) -> BackupReport:
    """The installation into a new archive at ``out`` (never overwritten; 0600). The database is copied first,
    then the documents: documents are written once under fresh names, so every file a copied row names is there,
    unless it was deleted in between (a purge or a draft's deletion), and its row then was on its way out too."""
    out = out.absolute()
    if out.exists() or out.is_symlink():
        raise InputError(f"{out} exists: a backup never overwrites a file", code="BACKUP_EXISTS")
    if not out.parent.is_dir():
        raise InputError(f"no directory {out.parent} for the backup", code="BACKUP_FAILED")
    keys = keyfiles.check(settings.keys_dir, _passphrase(settings)) if with_keys else []
    kind = databases.kind_of(engine)
    # Staged beside the output (same file system, so the final rename is atomic), private to this user.
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as staging:
        dump = Path(staging) / "database"
        snap = databases.snapshot(engine, dump)
        partial = Path(staging) / "archive"
        writer = archive.Writer(partial)
        mtime = now.timestamp()
        try:
            writer.add(archive.DATABASE_MEMBER[kind], dump, mtime)
            dump.unlink()  # the dump's bytes are in the archive; do not hold them twice on disk
            documents = _documents(settings)
            for path in documents:
                writer.add(f"{DOCUMENTS}/{path.name}", path, mtime)
            for path in keys:
                writer.add(f"keys/{path.relative_to(settings.keys_dir).as_posix()}", path, mtime)
            manifest = archive.Manifest(
                created_at=now,
                database=kind,
                revision=snap.revision,
                tables=snap.tables,
                with_keys=with_keys,
                server_version=snap.server_version,
                tool_version=snap.tool_version,
                members=dict(writer.members),
            )
            writer.finish(manifest, mtime, _passphrase(settings))
        except BaseException:
            writer.abandon()
            raise
        digest = _sha256(partial)
        # A hard link, not a rename: it fails if ``out`` appeared meanwhile, so nothing is ever overwritten.
        try:
            os.link(partial, out)
        except FileExistsError as err:
            raise InputError(f"{out} exists: a backup never overwrites a file", code="BACKUP_EXISTS") from err
    return BackupReport(
        path=str(out),
        database=kind,
        revision=snap.revision,
        tables=len(snap.tables),
        rows=sum(snap.tables.values()),
        documents=len(documents),
        keys=len(keys),
        bytes=out.stat().st_size,
        sha256=digest,
        sealed=settings.key_passphrase is not None,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _occupied(settings: Settings, engine: Engine, manifest: archive.Manifest) -> list[str]:
    """What the target already holds that a restore would replace."""
    found = []
    with engine.connect() as connection:
        if databases.tables_of(connection):
            found.append("the database has tables")
    if _documents(settings):
        found.append(f"{settings.home / DOCUMENTS} holds documents")
    if manifest.with_keys and keyfiles.files(settings.keys_dir):
        found.append(f"{settings.keys_dir} holds keys")
    return found


def _swap_in(staged: Path, target: Path) -> Path | None:
    """``staged`` becomes ``target``; what was at ``target`` is moved aside and returned."""
    aside = None
    if target.exists():
        aside = target.with_name(f"{target.name}.before-restore-{os.urandom(4).hex()}")
        target.rename(aside)
        aside.chmod(0o700)  # it may hold the keys that were there: the owner's alone, whatever it was before
        if not any(aside.iterdir()):
            aside.rmdir()
            aside = None
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staged.rename(target)
    target.chmod(0o700)
    return aside


def restore(
    *, settings: Settings, engine: Engine, path: Path, force: bool, unsealed: bool = False
) -> RestoreReport:
    """The archive at ``path`` into this installation (``engine`` is its database): checked whole first, then
    loaded, then migrated to head. Refused, with nothing changed, when anything does not check out.

    ``unsealed``: accept an archive without a seal although this installation has a passphrase. Off by default,
    since stripping the seal is all a forger without the passphrase would need to pass an altered archive off as
    one made without a passphrase; the operator says yes after comparing the archive's sha256 with the noted one."""
    manifest = archive.read_manifest(path)
    kind = databases.kind_of(engine)
    if manifest.database != kind:
        raise InputError(
            f"this backup is of a {manifest.database} database and this installation uses {kind}: "
            "restore it into the same kind of database",
            code="BACKUP_MISMATCH",
        )
    revisions, head = known_revisions()
    if manifest.revision not in revisions:
        raise InputError(
            f"the backup's database is at revision {manifest.revision}, which this checkpass does not know "
            f"(its newest is {head}): restore it with the checkpass that made it, or a newer one",
            code="BACKUP_NEWER",
        )
    occupied = _occupied(settings, engine, manifest)
    if occupied and not force:
        raise InputError(
            f"the target is not empty ({'; '.join(occupied)}): refused; --force replaces it",
            code="TARGET_NOT_EMPTY",
        )
    passphrase = _passphrase(settings)
    if (manifest.with_keys or manifest.seal is not None) and passphrase is None:
        raise InputError(
            "the backup is sealed (and its keys encrypted) with a passphrase: set CHECKPASS_KEY_PASSPHRASE to it",
            code="KEY_INVALID",
        )
    if manifest.with_keys and manifest.seal is None:
        # Keys go in only with a passphrase, and then the manifest is always sealed: this seal was removed.
        raise InputError(
            "the backup holds keys but its manifest carries no seal (removed?): refused, nothing was restored",
            code="BACKUP_INVALID",
        )
    if manifest.seal is None and passphrase is not None and not unsealed:
        raise InputError(
            "the backup carries no seal, though CHECKPASS_KEY_PASSPHRASE is set: an archive made here would be "
            "sealed, so it was made without a passphrase or its seal was removed; compare its sha256 with the one "
            "noted when it was made, then restore it with --unsealed",
            code="BACKUP_UNSEALED",
        )
    if manifest.seal is not None and not seal.verify(manifest.body or {}, manifest.seal, passphrase or b""):
        raise InputError(
            "the backup's manifest seal does not verify: the archive was altered, or sealed with another "
            "passphrase (CHECKPASS_KEY_PASSPHRASE): refused, nothing was restored",
            code="BACKUP_INVALID",
        )
    settings.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=settings.home) as staging_dir:
        staging = Path(staging_dir)
        archive.extract(path, manifest, staging)
        staged_keys = staging / "keys"
        if manifest.with_keys:
            staged_keys.mkdir(mode=0o700, exist_ok=True)
            keyfiles.check(staged_keys, passphrase)  # they open with this passphrase, or nothing is changed
        database = staging / manifest.database_member
        if kind == "sqlite":
            databases.load_sqlite(database, engine, manifest)
        else:
            databases.load_postgresql(database, engine, manifest, replace=bool(occupied))
        staged_documents = staging / DOCUMENTS
        staged_documents.mkdir(mode=0o700, exist_ok=True)
        old_documents = _swap_in(staged_documents, settings.home / DOCUMENTS)
        if old_documents is not None:
            # The replaced database's documents: their rows are gone, so they are personal data of no use.
            shutil.rmtree(old_documents)
        keys_aside = _swap_in(staged_keys, settings.keys_dir) if manifest.with_keys else None
    engine.dispose()  # connections opened before the load may hold the old schema's state
    db.migrate(engine)
    return RestoreReport(
        database=kind,
        revision=manifest.revision,
        head=head,
        tables=len(manifest.tables),
        rows=sum(manifest.tables.values()),
        documents=sum(1 for name in manifest.members if name.startswith(f"{DOCUMENTS}/")),
        keys=sum(1 for name in manifest.members if name.startswith("keys/")),
        replaced=bool(occupied),
        sealed=manifest.seal is not None,
        keys_set_aside=str(keys_aside) if keys_aside else None,
    )
