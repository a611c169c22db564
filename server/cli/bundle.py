"""`checkpass bundle export`: the signed trust bundle on a file, for a USB stick to an offline checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from server.bundles import service as bundles
from server.cli.plumbing import fail, now, state

__all__ = ["app"]

app = typer.Typer(help="The signed trust bundle.", no_args_is_help=True)


@app.command("export")
def bundle_export(
    out: Annotated[Path, typer.Option("--out", help="File to write the signed bundle to.")],
) -> None:
    """Write the current signed trust bundle (for a USB stick to an offline checkpoint)."""
    with state() as (settings, session):
        # Signed like the bundle served over HTTP: by the certified bundle-signing key when there is one.
        row = bundles.refresh(session=session, settings=settings, now=now())
    try:
        out.write_bytes(row.signed)
    except OSError as err:
        fail(f"cannot write {out}: {err.strerror}")
    typer.echo(
        f"trust bundle version {row.version} ({len(row.signed)} bytes, expires "
        f"{row.expires_at.isoformat()}) written to {out}"
    )
