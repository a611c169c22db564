"""`checkpass backup --out FILE` and `checkpass restore FILE`: the installation in one archive and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from server.backup import service as backups
from server.cli.plumbing import JsonFlag, fail, now, print_json
from server.config import get_settings
from server.db import make_engine

__all__ = ["app"]

app = typer.Typer()


@app.command()
def backup(
    out: Annotated[Path, typer.Option("--out", help="The archive to write (never overwritten; mode 0600).")],
    with_keys: Annotated[
        bool,
        typer.Option(
            "--with-keys",
            help="Include keys/: only when every private key is encrypted with CHECKPASS_KEY_PASSPHRASE.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Back up the database, the documents and (with --with-keys) the encrypted keys into one file.

    Safe while the server runs: SQLite is copied with its online backup API, PostgreSQL with pg_dump on one
    snapshot. The manifest inside lists every member's sha256, the Alembic revision and the row counts.
    """
    settings = get_settings()
    engine = make_engine(settings)
    try:
        report = backups.backup(settings=settings, engine=engine, out=out, with_keys=with_keys, now=now())
    except OSError as err:  # a full disk, a directory not ours: one line, and the partial archive is gone
        fail(f"backup failed: {err.strerror or err} ({err.filename or out})", code=1)
    finally:
        engine.dispose()
    if as_json:
        print_json(report.to_dict())
        return
    typer.echo(
        f"backed up the {report.database} database at revision {report.revision} ({report.tables} tables, "
        f"{report.rows} rows), {report.documents} documents and "
        + (f"{report.keys} key files (encrypted)" if report.keys else "no keys (keep keys/ safe separately)")
        + f" to {report.path} ({report.bytes} bytes, sha256 {report.sha256}; note it elsewhere)"
        + ("" if report.sealed else "; no seal: CHECKPASS_KEY_PASSPHRASE is not set")
    )


@app.command()
def restore(
    archive: Annotated[Path, typer.Argument(help="An archive made by `checkpass backup`.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace a database, documents and keys that are already there."),
    ] = False,
    unsealed: Annotated[
        bool,
        typer.Option(
            "--unsealed",
            help="Accept an archive without a seal although CHECKPASS_KEY_PASSPHRASE is set (made without a "
            "passphrase; compare its sha256 with the one noted first).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Restore a backup into this installation (stop its servers and workers first), then migrate to head.

    Refused, with nothing changed: a damaged or altered archive (checksums), a revision newer than this code, a
    backup of the other kind of database, keys that do not open with CHECKPASS_KEY_PASSPHRASE, an archive without a seal when the
    passphrase is set unless --unsealed is given, and a target that is not empty unless --force is given.
    """
    settings = get_settings()
    engine = make_engine(settings)
    try:
        report = backups.restore(
            settings=settings, engine=engine, path=archive, force=force, unsealed=unsealed
        )
    except OSError as err:
        fail(f"restore failed: {err.strerror or err} ({err.filename or archive})", code=1)
    finally:
        engine.dispose()
    if as_json:
        print_json(report.to_dict())
        return
    typer.echo(
        f"restored the {report.database} database ({report.tables} tables, {report.rows} rows, revision "
        f"{report.revision}, migrated to {report.head}), {report.documents} documents and "
        + (f"{report.keys} key files" if report.keys else "no keys (put keys/ back from where it is kept)")
        + (f"; the keys that were there are kept in {report.keys_set_aside}" if report.keys_set_aside else "")
        + (
            ""
            if report.sealed
            else "; the archive had no seal (made without a passphrase): compare its sha256 with the one noted"
        )
        + "; run `checkpass purge` now: the backup may hold data its retention period has since removed"
    )
